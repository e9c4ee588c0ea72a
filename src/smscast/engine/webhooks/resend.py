"""Resending one webhook delivery from a subscription's log.

A delivery that was delivered or given up on is queued again as a new delivery of the
same event with the same payload (the same event id, so a receiver that keeps ids can
tell a repeat); the old row stays in the log as it was. A delivery still being retried
is not doubled: its next attempt is brought forward to now. Either way the worker of
`smscast serve` (`sender.deliver_due_webhooks`) sends it, and the audit log records who
asked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.webhooks.endpoints import DELIVERY_COLUMNS, deliveries
from smscast.engine.webhooks.endpoints import _endpoint as subscription  # the package's own
from smscast.engine.webhooks.events import delivery_row


def resend_delivery(
    engine: Engine,
    workspace: WorkspaceRef,
    endpoint_id: int,
    delivery_id: int,
    *,
    actor: str,
    now: datetime,
) -> dict[str, Any]:
    """Queues delivery `delivery_id` of subscription `endpoint_id` again; returns the
    delivery the worker will send (a new one, or the pending one brought forward)."""
    with engine.begin() as conn:
        endpoint = subscription(conn, workspace, endpoint_id)
        if not endpoint["enabled"]:
            raise UserError.of(
                "webhook_paused",
                f"webhook #{endpoint_id} is paused: enable it to resend its deliveries",
                field="webhook_id",
            )
        old = _delivery(conn, endpoint_id, delivery_id)
        if old["status"] == "pending":
            conn.execute(
                update(deliveries).where(deliveries.c.id == delivery_id).values(next_attempt_at=now)
            )
            resent_id = delivery_id
        else:
            row = delivery_row(workspace.id, endpoint_id, old["event"], old["payload"], now)
            resent_id = int(
                conn.execute(
                    insert(deliveries).values(**row).returning(deliveries.c.id)
                ).scalar_one()
            )
        record_audit(
            conn,
            workspace.id,
            actor,
            "webhook.delivery_resent",
            f"webhook #{endpoint_id}",
            {"delivery_id": delivery_id, "queued_delivery_id": resent_id, "event": old["event"]},
            now,
        )
        return _delivery(conn, endpoint_id, resent_id)


def _delivery(conn: Connection, endpoint_id: int, delivery_id: int) -> dict[str, Any]:
    row = conn.execute(
        select(*(deliveries.c[c] for c in DELIVERY_COLUMNS)).where(
            deliveries.c.id == delivery_id, deliveries.c.endpoint_id == endpoint_id
        )
    ).first()
    if row is None:
        raise UserError.of(
            "unknown_delivery",
            f"webhook #{endpoint_id} has no delivery #{delivery_id}",
            field="delivery_id",
        )
    return dict(row._mapping)
