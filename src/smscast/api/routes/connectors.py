"""Connectors: state, live throughput and last errors, changing one, and the connector log.

Settings are shown with every secret redacted, in every answer: a secret goes in and
never comes back out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from smscast.api.deps import Api, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.sending.connector_views import (
    connector_log_entries,
    connectors_of,
    show_connector,
)
from smscast.engine.sending.connectors import update_connector

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"], responses=COMMON_RESPONSES)
Id = Path(ge=1, le=2**31 - 1, description="The connector's id")


class ConnectorOut(BaseModel):
    id: int
    name: str = Field(examples=["simulator"])
    kind: str = Field(examples=["smpp"])
    settings: dict[str, Any] = Field(
        description="The kind's settings, every secret shown as [redacted]",
        examples=[
            {"host": "127.0.0.1", "port": 2775, "system_id": "shop", "password": "[redacted]"}
        ],
    )
    rate_per_s: float
    window: int
    enabled: bool
    held_by: str | None = Field(description="The worker holding the connection")
    lease_until: datetime | None
    received_by: str | None = Field(
        None,
        description="The worker holding the receiving side (delivery reports, inbound "
        "texts): held_by's, or a `smscast worker --role receive`",
    )
    receive_until: datetime | None = None
    receive_connected: bool | None = Field(
        None, description="Whether a receive-only worker is bound, as it last reported"
    )
    receive_detail: str = Field("", description="What a receive-only worker's connection says")
    connected: bool | None
    detail: str
    in_flight: int
    sent_per_s: float = Field(description="Live throughput, as the worker last reported it")
    last_errors: list[str]
    state_at: datetime | None


class ConnectorChange(BaseModel):
    """What to change; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"settings": {"auth_token": "new-token"}, "rate_per_s": 5}]
        },
    )

    settings: dict[str, Any] | None = Field(
        None,
        description="Merged into the stored settings; a key set to null is removed. "
        "Twilio needs a non-empty auth_token, Infobip a webhook_secret, Kannel with a "
        "dlr_url a dlr_secret: callbacks are verified with them.",
    )
    rate_per_s: float | None = Field(
        None, ge=0, le=1e6, description="Parts per second, 0: no limit"
    )
    window: int | None = Field(None, ge=1, le=65535, description="Submits or requests in flight")
    enabled: bool | None = Field(None, description="False stops sending through it")


class LogEntryOut(BaseModel):
    id: int
    kind: str = Field(examples=["submit_sm"])
    request: str
    response: str
    duration_ms: float
    message_ids: list[int]
    error: str | None
    at: datetime


@router.get("", summary="Connectors and their live state", response_model=Page[ConnectorOut])
def connectors(api: Api = Depends(reader), page: PageParams = Depends(page_params)) -> Any:
    items = connectors_of(api.engine, api.workspace, after_id=page.after, limit=page.limit)
    return page_of(items, page)


@router.get("/{connector_id}", summary="One connector", response_model=ConnectorOut)
def one(connector_id: int = Id, api: Api = Depends(reader)) -> Any:
    return show_connector(api.engine, api.workspace, connector_id)


@router.patch(
    "/{connector_id}",
    summary="Change a connector's settings, limits or whether it sends",
    response_model=ConnectorOut,
)
def change(
    connector_id: int = Id,
    body: ConnectorChange = Body(...),
    api: Api = Depends(require(Permission.CONNECTORS_WRITE)),
) -> Any:
    update_connector(
        api.engine,
        api.workspace,
        connector_id,
        settings=body.settings,
        rate_per_s=body.rate_per_s,
        window=body.window,
        enabled=body.enabled,
        actor=api.caller.actor,
        now=api.now,
    )
    return show_connector(api.engine, api.workspace, connector_id)


@router.get(
    "/{connector_id}/log",
    summary="The connector log, newest first",
    response_model=Page[LogEntryOut],
)
def log(
    connector_id: int = Id,
    api: Api = Depends(require(Permission.READ)),
    page: PageParams = Depends(page_params),
    errors_only: bool = Query(False, description="Only exchanges that failed"),
) -> Any:
    items = connector_log_entries(
        api.engine,
        api.workspace,
        connector_id,
        before=page.after,
        limit=page.limit,
        errors_only=errors_only,
    )
    return page_of(items, page)
