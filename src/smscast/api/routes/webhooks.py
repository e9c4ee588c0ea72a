"""Outgoing webhook subscriptions, their delivery log, and a test event."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, idempotency_key, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.webhooks.endpoints import (
    EventName,
    create_webhook,
    delete_webhook,
    list_deliveries,
    list_webhooks,
    send_test_event,
    show_webhook,
    update_webhook,
)
from smscast.engine.webhooks.message_callbacks import show_callback_secret

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"], responses=COMMON_RESPONSES)
manager = require(Permission.WEBHOOKS_MANAGE)
WebhookId = Path(ge=1, le=2**31 - 1, description="The webhook's id", examples=[3])


class WebhookOut(BaseModel):
    id: int
    url: str = Field(examples=["https://crm.example/hooks/smscast"])
    events: list[str] = Field(examples=[["message.delivered", "contact.opted_out"]])
    description: str
    enabled: bool
    created_at: datetime


class NewWebhookOut(WebhookOut):
    secret: str = Field(
        description="Signs every delivery; shown only in this answer", examples=["whsec_3Nq..."]
    )


class NewWebhook(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "https://crm.example/hooks/smscast",
                    "events": ["message.delivered", "message.failed", "contact.opted_out"],
                    "description": "CRM sync",
                }
            ]
        },
    )

    url: str = Field(min_length=8, max_length=2000)
    events: list[EventName] = Field(min_length=1, max_length=20)
    description: str = Field("", max_length=200)


class WebhookChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})

    url: str | None = Field(None, min_length=8, max_length=2000)
    events: list[EventName] | None = Field(None, min_length=1, max_length=20)
    description: str | None = Field(None, max_length=200)
    enabled: bool | None = None


class DeliveryOut(BaseModel):
    id: int
    endpoint_id: int
    event: str = Field(examples=["message.delivered"])
    payload: dict[str, Any]
    status: str = Field(examples=["delivered"], description="pending, delivered, failed")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@router.get("", summary="List webhook subscriptions", response_model=Page[WebhookOut])
def webhooks(api: Api = Depends(manager), page: PageParams = Depends(page_params)) -> Any:
    return page_of(
        list_webhooks(api.engine, api.workspace, after=page.after, limit=page.limit), page
    )


@router.post(
    "",
    summary="Subscribe a URL to events (its secret is shown once)",
    status_code=201,
    response_model=NewWebhookOut,
    dependencies=[Depends(idempotency_key)],
)
def create(body: NewWebhook, api: Api = Depends(manager)) -> Any:
    endpoint, secret = create_webhook(
        api.engine,
        api.settings,
        api.workspace,
        body.url,
        list(body.events),
        description=body.description,
        actor=api.caller.actor,
        now=api.now,
    )
    return {**endpoint, "secret": secret}


class CallbackSecretOut(BaseModel):
    secret: str = Field(
        description="Signs the posts to the send API's callback URLs", examples=["whsec_8Kd..."]
    )
    created_at: datetime


@router.get(
    "/callback-secret",
    summary="The secret that signs message callbacks (made on first use)",
    response_model=CallbackSecretOut,
)
def callback_secret(api: Api = Depends(manager)) -> Any:
    return show_callback_secret(api.engine, api.workspace, api.now)


@router.get("/{webhook_id}", summary="One subscription", response_model=WebhookOut)
def one(webhook_id: int = WebhookId, api: Api = Depends(manager)) -> Any:
    return show_webhook(api.engine, api.workspace, webhook_id)


@router.patch("/{webhook_id}", summary="Change a subscription", response_model=WebhookOut)
def change(body: WebhookChange, webhook_id: int = WebhookId, api: Api = Depends(manager)) -> Any:
    return update_webhook(
        api.engine,
        api.settings,
        api.workspace,
        webhook_id,
        body.model_dump(exclude_unset=True),
        actor=api.caller.actor,
        now=api.now,
    )


@router.delete("/{webhook_id}", summary="Delete a subscription and its log", status_code=204)
def remove(webhook_id: int = WebhookId, api: Api = Depends(manager)) -> Response:
    delete_webhook(api.engine, api.workspace, webhook_id, actor=api.caller.actor, now=api.now)
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/deliveries",
    summary="The delivery log, newest first",
    response_model=Page[DeliveryOut],
)
def deliveries(
    webhook_id: int = WebhookId,
    api: Api = Depends(manager),
    page: PageParams = Depends(page_params),
    status: Literal["pending", "delivered", "failed"] | None = Query(None),
) -> Any:
    items = list_deliveries(
        api.engine, api.workspace, webhook_id, after=page.after, limit=page.limit, status=status
    )
    return page_of(items, page)


@router.post(
    "/{webhook_id}/test",
    summary="Queue a webhook.test event for this endpoint",
    status_code=202,
    response_model=WebhookOut,
    dependencies=[Depends(idempotency_key)],
)
def test(webhook_id: int = WebhookId, api: Api = Depends(manager)) -> Any:
    send_test_event(api.engine, api.workspace, webhook_id, actor=api.caller.actor, now=api.now)
    return show_webhook(api.engine, api.workspace, webhook_id)
