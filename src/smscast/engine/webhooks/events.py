"""Webhook events of the busy paths, queued in bulk, and only for someone listening.

The dispatcher, the delivery-report processor and the inbound router change
thousands of rows a second. They read who subscribed to what once per batch
(`load_subscriptions`: one small query), build event payloads only for
workspaces with a subscriber, and queue all deliveries of a batch in one insert,
inside the batch's own transaction (the outbox pattern of `webhooks_out`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from smscast.engine.webhooks.endpoints import deliveries, event_payload
from smscast.store.driver_sql import fetch
from smscast.store.models import ConsentState, Contact, table_of

consent_states = table_of(ConsentState)
contacts = table_of(Contact)
CHUNK = 500
_CACHE_KEY = "smscast.webhook_subscriptions"


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """Enabled subscriptions (not one-off targets of a message or a rule):
    workspace → [(endpoint, events)]."""

    by_workspace: dict[int, list[tuple[int, frozenset[str]]]] = field(default_factory=dict)

    def targets(self, workspace_id: int, event: str) -> list[int]:
        return [
            endpoint_id
            for endpoint_id, events in self.by_workspace.get(workspace_id, ())
            if event in events or "*" in events
        ]

    def wants(self, workspace_id: int, event: str) -> bool:
        return bool(self.by_workspace) and bool(self.targets(workspace_id, event))


def load_subscriptions(conn: Connection) -> Subscriptions:
    """Every enabled subscription, read once per transaction (the table is small).

    A batch's transaction may record several groups of changes; all share one read,
    which also sees subscriptions exactly as of that transaction.
    """
    transaction = conn.get_transaction()
    cached = conn.info.get(_CACHE_KEY)
    if cached is not None and transaction is not None and cached[0] is transaction:
        return cached[1]  # type: ignore[no-any-return]
    subscriptions = _read_subscriptions(conn)
    conn.info[_CACHE_KEY] = (transaction, subscriptions)
    return subscriptions


def _read_subscriptions(conn: Connection) -> Subscriptions:
    found: dict[int, list[tuple[int, frozenset[str]]]] = {}
    rows = fetch(
        conn,
        "SELECT id, workspace_id, events FROM webhook_endpoints "
        "WHERE enabled = ? AND message_id IS NULL AND rule_id IS NULL",
        (True,),
    )
    for endpoint_id, workspace_id, events in rows:
        names = json.loads(events) if isinstance(events, str) else events
        found.setdefault(workspace_id, []).append((endpoint_id, frozenset(names)))
    return Subscriptions(found)


def delivery_row(
    workspace_id: int, endpoint_id: int, event: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "workspace_id": workspace_id,
        "endpoint_id": endpoint_id,
        "event": event,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def queue_deliveries(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Inserts delivery rows (see `delivery_row`) in one statement; returns how many."""
    if rows:
        conn.execute(insert(deliveries), rows)
    return len(rows)


def emit_events(
    conn: Connection,
    subscriptions: Subscriptions,
    workspace_id: int,
    event: str,
    items: Iterable[dict[str, Any]],
    now: datetime,
) -> int:
    """Queues one event per item of `items` for every subscriber; returns deliveries queued."""
    targets = subscriptions.targets(workspace_id, event)
    if not targets:
        return 0
    rows: list[dict[str, Any]] = []
    for data in items:
        payload = event_payload(workspace_id, event, data, now)
        rows.extend(delivery_row(workspace_id, t, event, payload, now) for t in targets)
    return queue_deliveries(conn, rows)


# --- consent ----------------------------------------------------------------------------

ConsentKey = tuple[int, str, str]  # contact, channel, purpose


def consent_snapshot(conn: Connection, contact_ids: Sequence[int]) -> dict[ConsentKey, str]:
    """The materialised consent of these contacts, to tell a change from a repeat."""
    found: dict[ConsentKey, str] = {}
    unique = sorted(set(contact_ids))
    for start in range(0, len(unique), CHUNK):
        rows = conn.execute(
            select(
                consent_states.c.contact_id,
                consent_states.c.channel,
                consent_states.c.purpose,
                consent_states.c.status,
            ).where(consent_states.c.contact_id.in_(unique[start : start + CHUNK]))
        )
        found.update({(r.contact_id, r.channel, r.purpose): r.status for r in rows})
    return found


def emit_consent_changes(
    conn: Connection,
    subscriptions: Subscriptions,
    workspace_id: int,
    contact_ids: Sequence[int],
    before: dict[ConsentKey, str],
    source: str,
    now: datetime,
) -> int:
    """`contact.opted_in` / `contact.opted_out` once per contact and channel whose state
    changed since `before` (one STOP ends every purpose at once: one event naming them).

    A STOP from someone already opted out appends to the ledger but changes nothing,
    so it is not an event.
    """
    after = consent_snapshot(conn, contact_ids)
    changed = [(key, status) for key, status in sorted(after.items()) if before.get(key) != status]
    if not changed:
        return 0
    phones = dict(
        conn.execute(
            select(contacts.c.id, contacts.c.phone).where(
                contacts.c.id.in_(sorted({key[0] for key, _ in changed}))
            )
        ).all()
    )
    grouped: dict[tuple[int, str, str], list[str]] = {}  # (contact, channel, status) → purposes
    for (contact_id, channel, purpose), status in changed:
        grouped.setdefault((contact_id, channel, status), []).append(purpose)
    queued = 0
    for (contact_id, channel, status), purposes in grouped.items():
        event = "contact.opted_in" if status == "opted_in" else "contact.opted_out"
        data = {
            "contact_id": contact_id,
            "phone": phones.get(contact_id),
            "channel": channel,
            "purposes": purposes,
            "status": status,
            "source": source,
        }
        queued += emit_events(conn, subscriptions, workspace_id, event, [data], now)
    return queued


def wants_consent_events(subscriptions: Subscriptions, workspace_id: int) -> bool:
    return subscriptions.wants(workspace_id, "contact.opted_in") or subscriptions.wants(
        workspace_id, "contact.opted_out"
    )
