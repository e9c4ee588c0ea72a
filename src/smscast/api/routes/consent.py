"""Consent: a contact's history and state, opt-ins with their evidence, opt-outs.

Consent is per channel: an opt-in names one (sms, email, whatsapp, push, voice); an
opt-out may name `all`, the opt-out from everything, which stops every channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.consent import Action, Channel, ConsentChannel, Purpose, Source
from smscast.core.roles import Permission
from smscast.engine.contacts.consent import ConsentChange, consent_history, record_consent
from smscast.engine.contacts.edits import contact_phone

router = APIRouter(prefix="/api/v1", tags=["consent"], responses=COMMON_RESPONSES)


class ConsentEventOut(BaseModel):
    id: int
    channel: str = Field(examples=["sms"])
    purpose: str = Field(examples=["promotional"])
    action: str = Field(examples=["opt_in"])
    source: str = Field(examples=["api"])
    evidence: str = Field(examples=["checkbox at checkout, text v3"])
    actor: str = Field(examples=["key:shop backend"])
    occurred_at: datetime


class ConsentStateOut(BaseModel):
    channel: str
    purpose: str
    status: str = Field(examples=["opted_in"])
    changed_at: datetime


class ConsentHistory(BaseModel):
    phone: str = Field(examples=["+48601234567"])
    events: list[ConsentEventOut]
    state: list[ConsentStateOut]


class ConsentResult(BaseModel):
    phone: str
    state: list[ConsentStateOut]


class OptIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+48601234567",
                    "channel": "sms",
                    "purpose": "promotional",
                    "evidence": "ticked 'SMS offers' at checkout, form v3",
                }
            ]
        },
    )

    phone: str = Field(min_length=1, max_length=40)
    channel: Channel = Field(Channel.SMS, description="Consent is given per channel")
    purpose: Purpose = Purpose.PROMOTIONAL
    evidence: str = Field(
        min_length=1, max_length=2000, description="What the person agreed to, where and how"
    )


class OptOut(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "phone": "+48601234567",
                    "channel": "sms",
                    "purpose": "all",
                }
            ]
        },
    )

    phone: str = Field(min_length=1, max_length=40)
    channel: ConsentChannel = Field(
        ConsentChannel.SMS, description="One channel, or all: the opt-out from everything"
    )
    purpose: Purpose = Purpose.ALL
    evidence: str = Field("", max_length=2000)


@router.get(
    "/contacts/{contact_id}/consent",
    summary="A contact's consent ledger and state",
    response_model=ConsentHistory,
)
def history(contact_id: int = Path(ge=1, le=2**63 - 1), api: Api = Depends(reader)) -> Any:
    phone = contact_phone(api.engine, api.workspace, contact_id)
    return consent_history(api.engine, api.workspace, phone)


def _record(
    api: Api, phone: str, channel: str, purpose: str, action: Action, evidence: str
) -> dict[str, Any]:
    change = ConsentChange(
        channel, purpose, action, Source.API, evidence, api.caller.actor, api.now
    )
    return record_consent(api.engine, api.settings, api.workspace, phone, change)


@router.post(
    "/consent/opt-in",
    summary="Record an opt-in (creates the contact if new; not agents: it needs evidence)",
    response_model=ConsentResult,
    dependencies=[Depends(idempotency_key)],
)
def opt_in(body: OptIn, api: Api = Depends(require(Permission.CONSENT_OPT_IN))) -> Any:
    return _record(
        api, body.phone, body.channel.value, body.purpose.value, Action.OPT_IN, body.evidence
    )


@router.post(
    "/consent/opt-out",
    summary="Record an opt-out (agents too: a person asked them to stop)",
    response_model=ConsentResult,
    dependencies=[Depends(idempotency_key)],
)
def opt_out(body: OptOut, api: Api = Depends(require(Permission.CONSENT_OPT_OUT))) -> Any:
    return _record(
        api,
        body.phone,
        body.channel.value,
        body.purpose.value,
        Action.OPT_OUT,
        body.evidence or "requested over the API",
    )
