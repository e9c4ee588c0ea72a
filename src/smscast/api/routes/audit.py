"""The audit log: who did what, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from smscast.api.deps import Api, require
from smscast.api.pagination import Page, PageParams, page_of, page_params
from smscast.api.problems import COMMON_RESPONSES
from smscast.core.roles import Permission
from smscast.engine.accounts.audit import list_audit_events

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"], responses=COMMON_RESPONSES)


class AuditEventOut(BaseModel):
    id: int
    actor: str = Field(examples=["user:admin@localhost"])
    action: str = Field(examples=["campaign.launched"])
    subject: str = Field(examples=["campaign #12"])
    details: dict[str, Any]
    at: datetime


@router.get("", summary="Audit events, newest first", response_model=Page[AuditEventOut])
def events(
    api: Api = Depends(require(Permission.AUDIT_READ)),
    page: PageParams = Depends(page_params),
    action: str | None = Query(None, max_length=64, description="Prefix, e.g. api_key."),
    actor: str | None = Query(None, max_length=200),
) -> Any:
    items = list_audit_events(
        api.engine,
        api.workspace.id,
        before=page.after,
        limit=page.limit,
        action=action,
        actor=actor,
    )
    return page_of(items, page)
