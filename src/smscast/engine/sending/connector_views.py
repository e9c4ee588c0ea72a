"""Connectors as the API shows them: state and live throughput, and their exchange log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from smscast.core.errors import UserError
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connector_log import connector_log
from smscast.engine.sending.connectors import list_connectors


def connectors_of(
    engine: Engine, workspace: WorkspaceRef, *, after_id: int = 0, limit: int | None = None
) -> list[dict[str, Any]]:
    """Connectors in id order; a workspace has a handful, so paging filters in Python."""
    with engine.connect() as conn:
        found = [c for c in list_connectors(conn, workspace.id) if c["id"] > after_id]
    return found[:limit]


def show_connector(engine: Engine, workspace: WorkspaceRef, connector_id: int) -> dict[str, Any]:
    for connector in connectors_of(engine, workspace):
        if connector["id"] == connector_id:
            return connector
    raise UserError.of("unknown_connector", f"no connector #{connector_id}", field="connector_id")


def connector_log_entries(
    engine: Engine,
    workspace: WorkspaceRef,
    connector_id: int,
    *,
    before: int,
    limit: int,
    errors_only: bool = False,
) -> list[dict[str, Any]]:
    """The newest log entries first (credentials were redacted when they were written)."""
    show_connector(engine, workspace, connector_id)
    query = select(connector_log).where(connector_log.c.connector_id == connector_id)
    if before:
        query = query.where(connector_log.c.id < before)
    if errors_only:
        query = query.where(connector_log.c.error.is_not(None))
    with engine.connect() as conn:
        rows = conn.execute(query.order_by(connector_log.c.id.desc()).limit(limit)).all()
    return [dict(row._mapping) for row in rows]
