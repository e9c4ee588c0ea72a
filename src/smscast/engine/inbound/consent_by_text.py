"""Consent given or withdrawn by text: one ledger event holding the exact words received.

Written in the transaction that stores the inbound text, so once that commits the
dispatcher's consent re-check sees the new state. A change of state (not a repeated
STOP) queues `contact.opted_out` / `contact.opted_in` for subscribers, in the same
transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smscast.core.consent import Action, LedgerEntry, Source, derive_state
from smscast.engine.inbound.batch_rows import insert_rows_with_ids
from smscast.engine.webhooks.events import (
    consent_snapshot,
    emit_consent_changes,
    load_subscriptions,
    wants_consent_events,
)
from smscast.store import consent as consent_store
from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import insert_values


def record_text_consent(
    conn: Connection,
    workspace_id: int,
    contact_id: int,
    action: Action,
    purpose: str,
    source: Source,
    evidence: str,
    actor: str,
    now: datetime,
    channel: str = "sms",
) -> int:
    """Appends the event and moves the materialised state; returns the event id.

    `channel` is the one the person wrote on (a STOP by WhatsApp stops WhatsApp), or
    that their act concerns (an email's unsubscribe link, a digit pressed in a call).
    """
    subscriptions = load_subscriptions(conn)
    watched = wants_consent_events(subscriptions, workspace_id)
    before = consent_snapshot(conn, [contact_id]) if watched else {}
    event_id = consent_store.append_events(conn, [{
        "workspace_id": workspace_id, "contact_id": contact_id, "channel": channel,
        "purpose": purpose, "action": action.value, "source": source.value,
        "evidence": evidence, "actor": actor, "occurred_at": now,
    }])[contact_id]  # fmt: skip
    entry = LedgerEntry(event_id, channel, purpose, action.value, now)
    rows = consent_store.state_rows(contact_id, list(derive_state([entry]).values()))
    consent_store.write_states(conn, rows)
    if watched:
        emit_consent_changes(
            conn, subscriptions, workspace_id, [contact_id], before, source.value, now
        )
    return event_id


def write_text_consents(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Appends many events (ledger rows, in the order given) and moves the state.

    The events go in one multi-row insert, their ids in order; each contact's state
    is derived from its events of the batch and written in one upsert per batch.
    """
    if not rows:
        return
    subscriptions = load_subscriptions(conn)
    watched = sorted(
        {r["workspace_id"] for r in rows if wants_consent_events(subscriptions, r["workspace_id"])}
    )
    contacts_of = {
        ws: sorted({r["contact_id"] for r in rows if r["workspace_id"] == ws}) for ws in watched
    }
    before = consent_snapshot(conn, [c for ids in contacts_of.values() for c in ids])
    values = DriverValues(conn)
    moments: dict[datetime, Any] = {}
    tuples = []
    for row in rows:
        at = row["occurred_at"]
        stamp = moments.get(at) or moments.setdefault(at, values.moment(at))
        tuples.append(tuple(stamp if c == "occurred_at" else row[c]
                            for c in consent_store.EVENT_COLUMNS))  # fmt: skip
    ids = insert_rows_with_ids(conn, consent_store.events, consent_store.EVENT_COLUMNS, tuples)
    entries: dict[int, list[LedgerEntry]] = {}
    for row, event_id in zip(rows, ids, strict=True):
        entries.setdefault(row["contact_id"], []).append(LedgerEntry(
            event_id, row["channel"], row["purpose"], row["action"], row["occurred_at"]
        ))  # fmt: skip
    states = [
        (contact_id, state.channel, state.purpose, state.status.value, state.event_id,
         moments[state.changed_at])
        for contact_id, its in entries.items()
        for state in derive_state(its).values()
    ]  # fmt: skip
    insert_values(conn, STATES_UPSERT, states, STATES_CONFLICT)
    for ws in watched:
        # Each change names what made it: a contact's last event in the batch (a STOP,
        # a double opt-in's YES) - grouped by that, one snapshot per group.
        last = {r["contact_id"]: r for r in rows if r["workspace_id"] == ws}
        for source in sorted({r["source"] for r in last.values()}):
            group = [c for c in contacts_of[ws] if last[c]["source"] == source]
            at = max(last[c]["occurred_at"] for c in group)
            emit_consent_changes(conn, subscriptions, ws, group, before, source, at)


STATES_UPSERT = (
    f"INSERT INTO {consent_store.states.name} ({', '.join(consent_store.STATE_COLUMNS)})"
)
#: The latest event of a batch for a contact, channel and purpose is its state now.
STATES_CONFLICT = (
    "ON CONFLICT (contact_id, channel, purpose) DO UPDATE SET status = excluded.status, "
    "event_id = excluded.event_id, changed_at = excluded.changed_at"
)
