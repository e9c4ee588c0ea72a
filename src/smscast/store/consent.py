"""The consent ledger (append-only) and its materialised current state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from smscast.core.consent import LedgerEntry, StateRow, derive_state
from smscast.store.bulk import DriverValues, insert_keyed, insert_rows
from smscast.store.driver_sql import execute_many
from smscast.store.models import ConsentEvent, ConsentState, Contact, table_of

events = table_of(ConsentEvent)
states = table_of(ConsentState)


EVENT_COLUMNS = (
    "workspace_id", "contact_id", "channel", "purpose", "action", "source", "evidence", "actor",
    "occurred_at",
)  # fmt: skip
STATE_COLUMNS = ("contact_id", "channel", "purpose", "status", "event_id", "changed_at")


def append_events(conn: Connection, rows: list[dict[str, Any]]) -> dict[int, int]:
    """Appends ledger rows, at most one per contact; returns each contact's new event id."""
    return append_event_tuples(conn, _driver_tuples(conn, rows, EVENT_COLUMNS, "occurred_at"))


def append_event_tuples(conn: Connection, tuples: list[tuple[Any, ...]]) -> dict[int, int]:
    """As `append_events`, for driver-ready tuples in EVENT_COLUMNS order."""
    if not tuples:
        return {}
    return insert_keyed(conn, events, EVENT_COLUMNS, tuples, "contact_id")


def write_states(conn: Connection, rows: list[dict[str, Any]], replace: bool = True) -> None:
    """Upserts state rows (contact_id, channel, purpose, status, event_id, changed_at).

    `replace=False` skips removing earlier rows, for contacts known to have none.
    """
    tuples = _driver_tuples(conn, rows, STATE_COLUMNS, "changed_at")
    if replace:
        replace_state_tuples(conn, tuples)
    else:
        insert_state_tuples(conn, tuples)


def insert_state_tuples(conn: Connection, tuples: list[tuple[Any, ...]]) -> None:
    """Inserts state rows for contacts that have none yet (driver-ready, STATE_COLUMNS order)."""
    insert_rows(conn, states, STATE_COLUMNS, tuples)


def replace_state_tuples(conn: Connection, tuples: list[tuple[Any, ...]]) -> None:
    """Replaces the state rows with the same (contact, channel, purpose) as `tuples`."""
    if not tuples:
        return
    execute_many(
        conn,
        "DELETE FROM consent_states WHERE contact_id = ? AND channel = ? AND purpose = ?",
        [t[:3] for t in tuples],
    )
    insert_rows(conn, states, STATE_COLUMNS, tuples)


def _driver_tuples(
    conn: Connection, rows: list[dict[str, Any]], columns: Sequence[str], moment_column: str
) -> list[tuple[Any, ...]]:
    """Rows as tuples in `columns` order, the datetime column converted once per distinct value."""
    values = DriverValues(conn)
    moments: dict[Any, Any] = {}
    tuples = []
    for row in rows:
        moment = row[moment_column]
        if moment not in moments:
            moments[moment] = values.moment(moment)
        tuples.append(tuple(moments[moment] if c == moment_column else row[c] for c in columns))
    return tuples


def state_rows(contact_id: int, rows: Sequence[StateRow]) -> list[dict[str, Any]]:
    return [
        {
            "contact_id": contact_id,
            "channel": row.channel,
            "purpose": row.purpose,
            "status": row.status.value,
            "event_id": row.event_id,
            "changed_at": row.changed_at,
        }
        for row in rows
    ]


def history(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(events).where(events.c.contact_id == contact_id).order_by(events.c.id)
    )
    return [dict(row._mapping) for row in rows]


def current_state(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(states)
        .where(states.c.contact_id == contact_id)
        .order_by(states.c.channel, states.c.purpose)
    )
    return [dict(row._mapping) for row in rows]


def rebuild_states(conn: Connection, workspace_id: int, batch: int = 5000) -> int:
    """Derives every contact's state from the ledger again; returns the contacts rebuilt."""

    contact_ids = select(table_of(Contact).c.id).where(
        table_of(Contact).c.workspace_id == workspace_id
    )
    conn.execute(delete(states).where(states.c.contact_id.in_(contact_ids)))
    query = (
        select(
            events.c.contact_id,
            events.c.id,
            events.c.channel,
            events.c.purpose,
            events.c.action,
            events.c.occurred_at,
        )
        .where(events.c.workspace_id == workspace_id)
        .order_by(events.c.contact_id, events.c.id)
    )
    pending: list[dict[str, Any]] = []
    rebuilt = 0
    current: int | None = None
    entries: list[LedgerEntry] = []

    def flush_contact() -> None:
        nonlocal rebuilt
        if current is None:
            return
        rebuilt += 1
        pending.extend(state_rows(current, list(derive_state(entries).values())))

    for contact_id, *entry in conn.execute(query):
        if contact_id != current:
            flush_contact()
            current, entries = contact_id, []
            if len(pending) >= batch:
                conn.execute(insert(states), pending)
                pending.clear()
        entries.append(LedgerEntry(*entry))
    flush_contact()
    if pending:
        conn.execute(insert(states), pending)
    return rebuilt
