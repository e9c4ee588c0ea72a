"""Consent given or withdrawn by text: one ledger event holding the exact words received.

Written in the transaction that stores the inbound text, so once that commits the
dispatcher's consent re-check sees the new state.
"""

from __future__ import annotations

from datetime import datetime

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
