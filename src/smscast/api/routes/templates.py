"""Template previews: the text as one contact would get it, its parts and its cost."""

from __future__ import annotations

import zoneinfo
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, reader
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.campaign_rules import rules_from_settings
from smscast.core.cost import MessageRules, Recipient, compose_message, link_stand_in
from smscast.core.templates import compile_template
from smscast.engine.contacts.edits import get_contact

router = APIRouter(prefix="/api/v1/templates", tags=["templates"], responses=COMMON_RESPONSES)
LINK_CODE_LENGTH = 8


class PreviewIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "body": "Cześć {{ first_name | default('') }}! -20% z kodem {{ coupon }}: "
                    "{{ link('https://shop.example/sale') }}",
                    "values": {"first_name": "Zażółć", "coupon": "AB12CD"},
                    "purpose": "promotional",
                    "smart": True,
                }
            ]
        },
    )

    body: str = Field(min_length=1, max_length=5000)
    contact_id: int | None = Field(
        None, ge=1, le=2**63 - 1, description="Render for this contact's attributes"
    )
    values: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        max_length=200,
        description="Values added to (or instead of) the contact's attributes, e.g. coupon",
    )
    language: str | None = Field(None, max_length=16, examples=["pl"])
    purpose: str = Field("promotional", pattern="^(promotional|informational)$")
    smart: bool = Field(
        False, description="Replace characters by GSM-7 look-alikes if it saves a part"
    )


class PreviewOut(BaseModel):
    text: str = Field(description="As it would be sent, footer included")
    encoding: str = Field(examples=["GSM-7"])
    parts: int = Field(examples=[1])
    units: int = Field(description="Septets (GSM-7) or UTF-16 units (UCS-2)")
    per_part: int
    remaining: int = Field(description="Still free in the last part")
    non_gsm: list[str] = Field(description="Characters that force UCS-2")
    replaced: list[list[str]] = Field(description="Smart-encoding replacements as [from, to]")
    part_price: float
    cost: float = Field(description="parts × the workspace's part_price")


@router.post("/preview", summary="Render a template with parts and cost", response_model=PreviewOut)
def preview(body: PreviewIn, api: Api = Depends(reader)) -> Any:
    workspace_rules = rules_from_settings(
        api.workspace.settings, short_domain=api.settings.served_url()
    )
    template = compile_template(body.body)
    values: dict[str, Any] = {}
    language = body.language or "en"
    zone = zoneinfo.ZoneInfo(api.workspace.timezone)
    if body.contact_id is not None:
        contact = get_contact(api.engine, api.workspace, body.contact_id)
        values.update(contact["attributes"] or {})
        language = body.language or contact["language"] or language
        zone = zoneinfo.ZoneInfo(contact["timezone"])
    values.update(body.values)
    values.setdefault("coupon", "COUPON12")
    rules = MessageRules(
        promotional=body.purpose == "promotional",
        footer_required=workspace_rules.footer_required,
        opt_out_keyword=workspace_rules.opt_out_keyword,
        smart=body.smart,
    )
    link = link_stand_in(f"{workspace_rules.short_domain}/l", LINK_CODE_LENGTH)
    composed = compose_message(
        template, Recipient("preview", values, language, zone), rules, link=link
    )
    info = composed.info
    return {
        "text": composed.text,
        "encoding": info.encoding.value,
        "parts": info.parts,
        "units": info.units,
        "per_part": info.per_part,
        "remaining": info.remaining,
        "non_gsm": list(info.non_gsm),
        "replaced": [list(pair) for pair in composed.replaced],
        "part_price": workspace_rules.part_price,
        "cost": round(info.parts * workspace_rules.part_price, 5),
    }
