"""The audit log: who did what. Written inside the transaction of the change it records,
and read back newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select

from smscast.store.models import AuditEvent, table_of

audit_events = table_of(AuditEvent)


def record_audit(
    conn: Connection,
    workspace_id: int | None,
    actor: str,
    action: str,
    subject: str,
    details: dict[str, Any],
    at: datetime,
) -> None:
    conn.execute(
        insert(audit_events).values(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            subject=subject,
            details=details,
            at=at,
        )
    )


def list_audit_events(
    engine: Engine,
    workspace_id: int,
    *,
    before: int,
    limit: int,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Events of the workspace with ids below `before` (0: from the newest).

    `action` is a prefix (`api_key.` finds every API key event), `actor` exact; `since`
    and `until` bound the moment (`since <= at < until`).
    """
    query = select(audit_events).where(audit_events.c.workspace_id == workspace_id)
    if before:
        query = query.where(audit_events.c.id < before)
    if action:
        query = query.where(audit_events.c.action.startswith(action, autoescape=True))
    if actor:
        query = query.where(audit_events.c.actor == actor)
    if since is not None:
        query = query.where(audit_events.c.at >= since)
    if until is not None:
        query = query.where(audit_events.c.at < until)
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(audit_events.c.id.desc()).limit(limit))
        return [dict(row._mapping) for row in rows]


@dataclass(frozen=True, slots=True)
class AuditChoices:
    """Who and what appear in a workspace's audit log, to filter it by."""

    actors: list[str]
    actions: list[str]


def audit_filter_choices(engine: Engine, workspace_id: int) -> AuditChoices:
    """The distinct actors and actions of the workspace's audit log, in name order."""
    where = audit_events.c.workspace_id == workspace_id
    with engine.connect() as conn:
        actors = conn.execute(
            select(audit_events.c.actor).where(where).distinct().order_by(audit_events.c.actor)
        ).scalars()
        actions = conn.execute(
            select(audit_events.c.action).where(where).distinct().order_by(audit_events.c.action)
        ).scalars()
        return AuditChoices(list(actors), list(actions))
