"""Connectors: state, live throughput and last errors, and the connector log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from smscast.api.deps import Api, reader, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.connector_views import connector_log_entries, connectors_of, show_connector

router = APIRouter(prefix="/api/v1/connectors", tags=["connectors"], responses=COMMON_RESPONSES)
Id = Path(ge=1, le=2**31 - 1, description="The connector's id")


class ConnectorOut(BaseModel):
    id: int
    name: str = Field(examples=["simulator"])
    kind: str = Field(examples=["smpp"])
    rate_per_s: float
    window: int
    enabled: bool
    held_by: str | None = Field(description="The worker holding the connection")
    lease_until: datetime | None
    connected: bool | None
    detail: str
    in_flight: int
    sent_per_s: float = Field(description="Live throughput, as the worker last reported it")
    last_errors: list[str]
    state_at: datetime | None


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
