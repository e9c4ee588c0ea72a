"""Messages: send one (to, from, body), find them by phone, status or campaign, and read
one with its whole story (status history, parts, carrier exchanges, why it waits)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.api.routes.webhooks import DeliveryOut
from smscast.core.roles import Permission
from smscast.engine.delivery.messages_view import list_messages, show_message
from smscast.engine.sending.single_messages import send_message
from smscast.engine.webhooks.message_callbacks import list_callback_deliveries

router = APIRouter(prefix="/api/v1/messages", tags=["messages"], responses=COMMON_RESPONSES)
Id = Path(ge=1, le=2**63 - 1, description="The message's id")


class SendIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={"examples": [{"to": "+48601234567", "body": "Your order has shipped"}]},
    )

    to: str = Field(min_length=1, max_length=40, description="The recipient, any common format")
    from_: str | None = Field(
        None,
        alias="from",
        max_length=20,
        description="One of the workspace's numbers; default: its first",
    )
    body: str = Field(min_length=1, max_length=1600)
    purpose: Literal["informational", "promotional"] = "informational"
    valid_until: AwareDatetime | None = Field(None, description="Not sent after this moment")
    callback_url: str | None = Field(
        None,
        min_length=8,
        max_length=2000,
        description="Each status change of this message is POSTed here, signed with the "
        "workspace's callback secret (GET /api/v1/webhooks/callback-secret)",
    )


class MessageOut(BaseModel):
    id: int
    direction: str = Field(examples=["out"])
    kind: str = Field(examples=["api"])
    purpose: str
    contact_id: int | None
    phone: str = Field(examples=["+48601234567"])
    number_id: int | None
    campaign_id: int | None
    ticket_id: int | None
    body: str
    encoding: str = Field(examples=["GSM-7"])
    parts: int
    cost: float
    status: str = Field(
        examples=["queued"],
        description="queued, sending, sent, delivered, "
        "undelivered, failed, expired, unknown, cancelled, received",
    )
    send_after: datetime | None
    valid_until: datetime | None
    attempts: int
    connector_id: int | None
    error_code: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    done_at: datetime | None
    callback_url: str | None = None


class StepOut(BaseModel):
    at: datetime
    status: str = Field(examples=["sent"], description="queued, received, held, sent, report, "
                        "callback, or the final status")  # fmt: skip
    detail: str = Field(examples=["accepted by the carrier (attempt 1)"])


class PartOut(BaseModel):
    part: int
    carrier_id: str
    state: str | None


class ExchangeOut(BaseModel):
    at: datetime
    kind: str
    request: str
    response: str
    error: str | None
    duration_ms: float


class RouteOut(BaseModel):
    route: str = Field(examples=["keyword"])
    keyword: str | None
    rule_id: int | None
    campaign_id: int | None
    replies: int
    suppressed: int = Field(description="automatic answers held back by the loop guard")
    detail: str | None = Field(description="why nothing happened, when nothing did")


class AnswerOut(BaseModel):
    id: int
    kind: str
    status: str
    error_code: str | None
    error: str | None
    body: str


class MessageDetail(MessageOut):
    parts_done: int
    due_at: datetime | None = Field(
        description="when it was due before quiet hours moved it to send_after"
    )
    national: str | None = Field(examples=["tr/tr"])
    smart_changes: dict[str, str] = Field(description="characters smart encoding replaced")
    history: list[StepOut]
    carrier_parts: list[PartOut]
    carrier_log: list[ExchangeOut] = Field(description="exchanges with the carrier about it")
    waiting: str | None = Field(
        examples=["quiet hours: it was due at 2026-12-06T21:30:00+00:00 and goes at …"],
        description="why a queued message has not gone yet",
    )
    failure: str | None = Field(description="why it did not arrive: status, code, reason")
    route: RouteOut | None = Field(description="inbound texts: how they were routed")
    answers: list[AnswerOut] = Field(description="inbound texts: the answers queued for them")


@router.post(
    "",
    summary="Send one message (queued, then dispatched)",
    status_code=202,
    response_model=MessageOut,
    dependencies=[Depends(idempotency_key)],
)
def send(body: SendIn, api: Api = Depends(require(Permission.MESSAGES_SEND))) -> Any:
    return send_message(
        api.engine,
        api.workspace,
        body.to,
        body.body,
        sender=body.from_,
        purpose=body.purpose,
        valid_until=body.valid_until,
        actor=api.caller.actor,
        now=api.now,
        callback_url=body.callback_url,
        allow_private=api.settings.webhook_allow_private,
    )


@router.get(
    "",
    summary="Find messages by phone, status, campaign, contact or direction",
    response_model=Page[MessageOut],
)
def messages(
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
    phone: str | None = Query(None, max_length=40, description="Any common format"),
    status: str | None = Query(None, max_length=12, examples=["failed"]),
    campaign_id: int | None = Query(None, ge=1, le=2**31 - 1),
    contact_id: int | None = Query(None, ge=1, le=2**63 - 1),
    direction: Literal["out", "in"] | None = Query(None),
) -> Any:
    items = list_messages(
        api.engine,
        api.workspace,
        after=page.after,
        limit=page.limit,
        phone=phone,
        status=status,
        campaign_id=campaign_id,
        contact_id=contact_id,
        direction=direction,
    )
    return page_of(items, page)


@router.get(
    "/{message_id}",
    summary="One message: status history, parts, carrier exchanges, why it waits or failed",
    response_model=MessageDetail,
)
def one(message_id: int = Id, api: Api = Depends(reader)) -> Any:
    return show_message(api.engine, api.workspace, message_id, api.now)


@router.get(
    "/{message_id}/callbacks",
    summary="The delivery log of the message's callback URL, newest first",
    response_model=Page[DeliveryOut],
)
def callbacks(
    message_id: int = Id, api: Api = Depends(reader), page: PageParams = Depends(page_params)
) -> Any:
    items = list_callback_deliveries(
        api.engine, api.workspace, message_id, after=page.after, limit=page.limit
    )
    return page_of(items, page)
