"""Reading the audit log: newest first, filtered by action or actor."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from smscast.engine.workspaces import WorkspaceRef
from smscast.store.models import AuditEvent, table_of

audit_events = table_of(AuditEvent)


def list_audit_events(
    engine: Engine,
    workspace: WorkspaceRef,
    *,
    before: int,
    limit: int,
    action: str | None = None,
    actor: str | None = None,
) -> list[dict[str, Any]]:
    """Events of the workspace with ids below `before` (0: from the newest)."""
    query = select(audit_events).where(audit_events.c.workspace_id == workspace.id)
    if before:
        query = query.where(audit_events.c.id < before)
    if action:
        query = query.where(audit_events.c.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(audit_events.c.actor == actor)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]
