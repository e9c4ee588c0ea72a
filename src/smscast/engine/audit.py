"""The audit log: who did what. Written inside the transaction of the change it records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from smscast.store.models import AuditEvent, table_of


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
        insert(table_of(AuditEvent)).values(
            workspace_id=workspace_id,
            actor=actor,
            action=action,
            subject=subject,
            details=details,
            at=at,
        )
    )
