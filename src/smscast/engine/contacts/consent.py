"""Consent use cases: recording opt-ins and opt-outs, reading the history, rebuilding state.

Every change appends to the ledger and updates the materialised state in the
same transaction, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from smscast.config import Settings
from smscast.core.consent import (
    ALL_CHANNELS,
    Action,
    LedgerEntry,
    Purpose,
    Source,
    derive_state,
    parse_consent_channel,
)
from smscast.core.erasure import phone_hash
from smscast.core.errors import UserError
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.records import contact_for_phone, create_contact_for_phone
from smscast.engine.webhooks.events import (
    consent_snapshot,
    emit_consent_changes,
    load_subscriptions,
    wants_consent_events,
)
from smscast.store import consent as consent_store
from smscast.store import contacts as contact_store


@dataclass(frozen=True, slots=True)
class ConsentChange:
    """A consent decision and its proof, as a person or a system made it."""

    channel: str
    purpose: str
    action: Action
    source: Source
    evidence: str
    actor: str
    now: datetime


def record_consent(
    engine: Engine,
    settings: Settings,
    workspace: WorkspaceRef,
    raw_phone: str,
    change: ConsentChange,
) -> dict[str, Any]:
    """Appends one consent event for the contact with that phone and returns the new state.

    A change of state queues `contact.opted_in` / `contact.opted_out` for subscribers
    (a repeated opt-out changes nothing and is no event).

    An opt-in for a phone nobody has yet creates the contact (that is new, explicit
    consent, so it also lifts an earlier erasure); an opt-out for an unknown phone
    is refused, since there is nobody to stop texting.

    Channel `all` is the opt-out from everything: one ledger event that sets every
    channel's state. An opt-in names its channel: consent is given per channel.
    """
    _check_purpose(change.purpose)
    channel = parse_consent_channel(change.channel)
    if channel == ALL_CHANNELS and change.action == Action.OPT_IN:
        raise UserError.of(
            "opt_in_needs_channel",
            "an opt-in names one channel (consent is given per channel); "
            "only an opt-out may be from all of them",
            field="channel",
        )
    with engine.begin() as conn:
        contact = contact_for_phone(conn, workspace, raw_phone, must_exist=False)
        if contact is None:
            if change.action != Action.OPT_IN:
                raise UserError.of(
                    "unknown_contact", f"no contact has the phone {raw_phone}", field="phone"
                )
            contact = create_contact_for_phone(conn, workspace, raw_phone, change.now)
            key = settings.resolved_secret_key()
            contact_store.forget_erasure(conn, workspace.id, phone_hash(key, contact.phone))
        subscriptions = load_subscriptions(conn)
        watched = wants_consent_events(subscriptions, workspace.id)
        before = consent_snapshot(conn, [contact.id]) if watched else {}
        event_id = consent_store.append_events(conn, [{
            "workspace_id": workspace.id,
            "contact_id": contact.id,
            "channel": channel,
            "purpose": change.purpose,
            "action": change.action.value,
            "source": change.source.value,
            "evidence": change.evidence,
            "actor": change.actor,
            "occurred_at": change.now,
        }])[contact.id]  # fmt: skip
        entry = LedgerEntry(event_id, channel, change.purpose, change.action.value, change.now)
        consent_store.write_states(
            conn, consent_store.state_rows(contact.id, list(derive_state([entry]).values()))
        )
        if watched:
            emit_consent_changes(
                conn, subscriptions, workspace.id, [contact.id], before, change.source.value,
                change.now,
            )  # fmt: skip
        record_audit(
            conn,
            workspace.id,
            change.actor,
            f"consent.{change.action.value}",
            contact.phone,
            {"channel": channel, "purpose": change.purpose},
            change.now,
        )
        return {"phone": contact.phone, "state": consent_store.current_state(conn, contact.id)}


def _check_purpose(purpose: str) -> None:
    if purpose not in {p.value for p in Purpose}:
        allowed = ", ".join(p.value for p in Purpose)
        raise UserError.of(
            "unknown_purpose", f'"{purpose}" is not a purpose ({allowed})', field="purpose"
        )


def consent_history(engine: Engine, workspace: WorkspaceRef, raw_phone: str) -> dict[str, Any]:
    with engine.connect() as conn:
        contact = contact_for_phone(conn, workspace, raw_phone)
        assert contact is not None
        return {
            "phone": contact.phone,
            "events": consent_store.history(conn, contact.id),
            "state": consent_store.current_state(conn, contact.id),
        }


def rebuild_consent_state(engine: Engine, workspace: WorkspaceRef) -> int:
    """Derives the materialised state from the ledger again; returns contacts with events."""
    with engine.begin() as conn:
        return consent_store.rebuild_states(conn, workspace.id)


def consent_state_of(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    return consent_store.current_state(conn, contact_id)
