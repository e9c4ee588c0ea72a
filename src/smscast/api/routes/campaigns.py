"""Campaigns: create a draft, launch or schedule it, pause, resume, cancel, report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import (
    CampaignDraft,
    change_status,
    create_campaign,
    list_campaigns,
)
from smscast.engine.campaigns.overview import campaign_report_with_channels
from smscast.engine.campaigns.preview import preview_campaign

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"], responses=COMMON_RESPONSES)
writer = require(Permission.CAMPAIGNS_WRITE)
Id = Path(ge=1, le=2**31 - 1, description="The campaign's id", examples=[12])
CampaignStatus = Literal["draft", "scheduled", "running", "paused", "cancelled", "completed"]
ChannelName = Literal["sms", "email", "whatsapp", "push", "voice"]
Text = Field(None, max_length=5000, description="A template, personalised like the body")


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=50, examples=["B"])
    body: str = Field(min_length=1, max_length=5000)


class EmailContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(None, max_length=998, examples=["-20% for {{ first_name }}"])
    html: str | None = Field(None, max_length=500_000, description="An HTML template")
    body: str | None = Text


class WhatsAppContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    template: str | None = Field(
        None, max_length=512, examples=["sale_day"], description="The approved template's name"
    )
    language: str | None = Field(
        None, max_length=12, examples=["pl"], description="Its language; else the contact's"
    )
    params: list[str] = Field(
        default_factory=list, max_length=20, description="Its parameters, each a template"
    )
    body: str | None = Text


class PushContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(None, max_length=200)
    url: str | None = Field(None, max_length=2000, description="The page a click opens")
    body: str | None = Text


class VoiceContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str | None = Text


class ContentIn(BaseModel):
    """Each channel's own content (SMS has none: its text is the body and variants)."""

    model_config = ConfigDict(extra="forbid")

    email: EmailContent | None = None
    whatsapp: WhatsAppContent | None = None
    push: PushContent | None = None
    voice: VoiceContent | None = None

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return {
            channel: fields.model_dump(exclude_none=True, exclude_defaults=True)
            for channel in ("email", "whatsapp", "push", "voice")
            if (fields := getattr(self, channel)) is not None
        }


class ChannelFigures(BaseModel):
    channel: str = Field(examples=["whatsapp"])
    messages: int
    sent: int
    delivered: int
    failed: int
    fell_back: int = Field(description="Messages after which the chain went on to a later "
                           "channel (failed, refused, or not delivered in time)")  # fmt: skip
    cost: float


def _sms_only() -> list[ChannelName]:
    return ["sms"]


class CampaignIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Black Friday",
                    "body": "Hi {{ first_name | default('') }}, -30% today: "
                    "{{ link('https://shop.example/bf') }}",
                    "segment": 'tags contains "vip"',
                    "at": "2026-11-27T08:00:00Z",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=5000, description="Variant A's template")
    segment: str = Field("", max_length=5000, description="A segment expression")
    segment_name: str | None = Field(None, max_length=200, description="Or a saved segment")
    variants: list[Variant] = Field(default_factory=list, max_length=10)
    split: list[int] = Field(default_factory=list, max_length=11)
    purpose: Literal["promotional", "informational"] = "promotional"
    from_number: str | None = Field(None, max_length=20)
    at: AwareDatetime | None = Field(None, description="Send at this moment (else on launch)")
    spread_minutes: int = Field(0, ge=0, le=10080)
    cron: str | None = Field(None, max_length=100, description="Repeat on this schedule")
    coupon_pool: str | None = Field(None, max_length=200)
    smart_encoding: bool = False
    expects_reply: bool = False
    channels: list[ChannelName] = Field(
        default_factory=_sms_only, min_length=1, max_length=5,
        description="Tried in order for each person: the first they can be reached on "
        "gets the message, the next only when it is not delivered in time",
    )  # fmt: skip
    fallback_after_seconds: int | None = Field(
        None, ge=60, le=259_200, description="The next channel's turn (default 3600)"
    )
    content: ContentIn = Field(default_factory=ContentIn)


class CampaignSummary(BaseModel):
    id: int = Field(examples=[12])
    name: str = Field(examples=["Black Friday"])
    status: str = Field(examples=["draft"])
    purpose: str = Field(examples=["promotional"])
    queued: int = Field(examples=[0], description="Messages waiting to be sent")


class StatusOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: int
    status: str = Field(examples=["running"])


@router.get("", summary="List campaigns, oldest first", response_model=Page[CampaignSummary])
def campaigns(
    api: Api = Depends(reader),
    page: PageParams = Depends(page_params),
    status: CampaignStatus | None = Query(None, description="Only campaigns in this state"),
) -> Any:
    items = list_campaigns(
        api.engine, api.workspace, status=status, after_id=page.after, limit=page.limit
    )
    return page_of(items, page)


@router.post(
    "",
    summary="Create a draft campaign",
    status_code=201,
    response_model=StatusOut,
    dependencies=[Depends(idempotency_key)],
)
def create(body: CampaignIn, api: Api = Depends(writer)) -> Any:
    draft = CampaignDraft(
        name=body.name,
        body=body.body,
        segment=body.segment,
        segment_name=body.segment_name,
        variants=tuple((v.name, v.body) for v in body.variants),
        split=tuple(body.split),
        purpose=body.purpose,
        from_number=body.from_number,
        at=body.at,
        spread=timedelta(minutes=body.spread_minutes),
        cron=body.cron,
        coupon_pool=body.coupon_pool,
        smart_encoding=body.smart_encoding,
        expects_reply=body.expects_reply,
        channels=tuple(body.channels),
        fallback_after=timedelta(seconds=body.fallback_after_seconds)
        if body.fallback_after_seconds is not None
        else None,
        content=body.content.as_dict(),
    )
    campaign_id = create_campaign(
        api.engine, api.workspace, draft, actor=api.caller.actor, now=api.now
    )
    return {"id": campaign_id, "status": "draft"}


class ReportOut(StatusOut):
    channels: list[ChannelFigures] = Field(description="Each channel's figures, in chain order")


@router.get(
    "/{campaign_id}",
    summary="A campaign's report: status, every counter, rates with numerator and denominator",
    response_model=ReportOut,
)
def report(campaign_id: int = Id, api: Api = Depends(reader)) -> Any:
    return {
        "id": campaign_id,
        **campaign_report_with_channels(api.engine, api.workspace.id, campaign_id, now=api.now),
    }


@router.get(
    "/{campaign_id}/report",
    summary="The same report as GET /api/v1/campaigns/{id}, under the name people look for",
    response_model=ReportOut,
)
def report_again(campaign_id: int = Id, api: Api = Depends(reader)) -> Any:
    return report(campaign_id, api)


@router.get(
    "/{campaign_id}/preview",
    summary="Before launch: recipients, exclusions by reason, parts by encoding, parts, cost",
    response_model=StatusOut,
)
def preview(campaign_id: int = Id, api: Api = Depends(reader)) -> Any:
    return preview_campaign(api.engine, api.settings, api.workspace, campaign_id, api.now)


@router.post(
    "/{campaign_id}/launch",
    summary="Launch now, or schedule when it has a time",
    response_model=StatusOut,
    dependencies=[Depends(idempotency_key)],
)
def launch(campaign_id: int = Id, api: Api = Depends(writer)) -> Any:
    return launch_campaign(
        api.engine, api.settings, api.workspace, campaign_id, actor=api.caller.actor, now=api.now
    )


def _change(api: Api, campaign_id: int, action: str) -> Any:
    return change_status(
        api.engine, api.workspace, campaign_id, action, actor=api.caller.actor, now=api.now
    )


@router.post("/{campaign_id}/pause", summary="Pause sending", response_model=StatusOut)
def pause(campaign_id: int = Id, api: Api = Depends(writer)) -> Any:
    return _change(api, campaign_id, "pause")


@router.post("/{campaign_id}/resume", summary="Resume sending", response_model=StatusOut)
def resume(campaign_id: int = Id, api: Api = Depends(writer)) -> Any:
    return _change(api, campaign_id, "resume")


@router.post(
    "/{campaign_id}/cancel",
    summary="Cancel; queued messages are not sent",
    response_model=StatusOut,
)
def cancel(campaign_id: int = Id, api: Api = Depends(writer)) -> Any:
    return _change(api, campaign_id, "cancel")
