"""Consent given or withdrawn by text: one ledger event holding the exact words received.

Written in the transaction that stores the inbound text, so once that commits the
dispatcher's consent re-check sees the new state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from smscast.core.consent import Action, LedgerEntry, Source, derive_state
from smscast.store import consent as consent_store


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
) -> int:
    """Appends the event and moves the materialised state; returns the event id."""
    event_id = consent_store.append_events(conn, [{
        "workspace_id": workspace_id, "contact_id": contact_id, "channel": "sms",
        "purpose": purpose, "action": action.value, "source": source.value,
        "evidence": evidence, "actor": actor, "occurred_at": now,
    }])[contact_id]  # fmt: skip
    entry = LedgerEntry(event_id, "sms", purpose, action.value, now)
    rows = consent_store.state_rows(contact_id, list(derive_state([entry]).values()))
    consent_store.write_states(conn, rows)
    return event_id


def write_text_consents(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Appends many events (ledger rows, in the order given) and moves the state.

    The ledger takes at most one event per contact per insert, so rows are written
    in rounds in which each contact appears once; order per contact is kept.
    """
    start = 0
    while start < len(rows):
        seen: set[int] = set()
        end = start
        while end < len(rows) and rows[end]["contact_id"] not in seen:
            seen.add(rows[end]["contact_id"])
            end += 1
        chunk = rows[start:end]
        ids = consent_store.append_events(conn, chunk)
        states = []
        for row in chunk:
            entry = LedgerEntry(
                ids[row["contact_id"]], row["channel"], row["purpose"], row["action"],
                row["occurred_at"],
            )  # fmt: skip
            derived = list(derive_state([entry]).values())
            states += consent_store.state_rows(row["contact_id"], derived)
        consent_store.write_states(conn, states)
        start = end
