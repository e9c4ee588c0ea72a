"""Message status changes as webhook events, and as posts to a message's own callback URL.

Called by the outbox (submit results, expiries before sending, interrupted sends)
and by the delivery-report processor, inside their transactions. With nobody
subscribed and no callback URL in the batch this costs one small query per
transaction and a loop over the changes; payloads are built only for changes
someone listens to, from the rows as the transaction left them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from smscast.engine.webhooks.endpoints import event_payload
from smscast.engine.webhooks.events import (
    CHUNK,
    delivery_row,
    load_subscriptions,
    queue_deliveries,
)
from smscast.engine.webhooks.message_callbacks import callback_targets
from smscast.store.messaging_models import Message, Number
from smscast.store.models import table_of

messages = table_of(Message)
numbers = table_of(Number)

#: The event each status change of an outgoing message is reported as.
STATUS_EVENTS = {
    "sent": "message.sent",
    "delivered": "message.delivered",
    "undelivered": "message.undelivered",
    "failed": "message.failed",
    "expired": "message.expired",
    "unknown": "message.unknown",
}
#: A submit answer may come after the report that already finished the message.
_SENT_OR_LATER = frozenset({"sent", "delivered", "undelivered", "expired"})


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One message moved to `status` in the current transaction."""

    message_id: int
    workspace_id: int
    status: str
    callback: bool  # the message has a callback URL


def queue_message_events(conn: Connection, changes: Sequence[StatusChange], now: datetime) -> int:
    """Queues the events of `changes` for subscribers and callback URLs; returns deliveries."""
    if not changes:
        return 0
    subscriptions = load_subscriptions(conn)
    if not subscriptions.by_workspace and not any(change.callback for change in changes):
        return 0
    wanted = [
        change
        for change in changes
        if change.callback or subscriptions.wants(change.workspace_id, STATUS_EVENTS[change.status])
    ]
    if not wanted:
        return 0
    rows = _message_data(conn, [change.message_id for change in wanted])
    callbacks = callback_targets(conn, [c.message_id for c in wanted if c.callback])
    deliveries: list[dict[str, Any]] = []
    for change in wanted:
        data = rows.get(change.message_id)
        if data is None or not _happened(change.status, data["status"]):
            continue  # the guarded update did not apply (another worker decided first)
        event = STATUS_EVENTS[change.status]
        targets = subscriptions.targets(change.workspace_id, event)
        if change.message_id in callbacks:
            targets.append(callbacks[change.message_id])
        if not targets:
            continue
        payload = event_payload(change.workspace_id, event, {**data, "status": change.status}, now)
        deliveries.extend(
            delivery_row(change.workspace_id, target, event, payload, now) for target in targets
        )
    return queue_deliveries(conn, deliveries)


def _happened(status: str, now_status: str) -> bool:
    return now_status == status or (status == "sent" and now_status in _SENT_OR_LATER)


def _ended(sent_at: datetime | None, done_at: datetime | None) -> str | None:
    """done_at as told to receivers: never before sent_at (rows from before that rule)."""
    if done_at is None:
        return None
    return max(done_at, sent_at).isoformat() if sent_at is not None else done_at.isoformat()


def _message_data(conn: Connection, ids: list[int]) -> dict[int, dict[str, Any]]:
    """What a receiver needs to know of each message, as the transaction left it."""
    found: dict[int, dict[str, Any]] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), CHUNK):
        rows = conn.execute(
            select(
                messages.c.id,
                messages.c.status,
                messages.c.kind,
                messages.c.purpose,
                messages.c.phone,
                numbers.c.number,
                messages.c.campaign_id,
                messages.c.contact_id,
                messages.c.ticket_id,
                messages.c.parts,
                messages.c.error_code,
                messages.c.error,
                messages.c.sent_at,
                messages.c.done_at,
            )
            .outerjoin(numbers, numbers.c.id == messages.c.number_id)
            .where(messages.c.id.in_(unique[start : start + CHUNK]))
        )
        for row in rows:
            found[row.id] = {
                "message_id": row.id,
                "status": row.status,
                "to": row.phone,
                "from": row.number,
                "kind": row.kind,
                "purpose": row.purpose,
                "campaign_id": row.campaign_id,
                "contact_id": row.contact_id,
                "ticket_id": row.ticket_id,
                "parts": row.parts,
                "error_code": row.error_code,
                "error": row.error,
                "sent_at": row.sent_at.isoformat() if row.sent_at else None,
                "done_at": _ended(row.sent_at, row.done_at),
            }
    return found
