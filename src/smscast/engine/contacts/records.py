"""Contact use cases: look one up, count, export, erase."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from smscast.config import Settings
from smscast.core.erasure import phone_hash
from smscast.core.errors import UserError
from smscast.core.phones import PhoneError, parse_phone, timezone_for_phone
from smscast.engine.accounts.audit import record_audit
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.contacts.export_rows import (
    attribute_names,
    export_header,
    export_query,
    export_row,
)
from smscast.engine.stats import bump_campaign_stats
from smscast.store import consent as consent_store
from smscast.store import contacts as contact_store
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentEvent, Contact, table_of

contacts = table_of(Contact)
consent_events = table_of(ConsentEvent)
messages = table_of(Message)


@dataclass(frozen=True, slots=True)
class ContactRef:
    id: int
    phone: str


def normalise_phone(workspace: WorkspaceRef, raw_phone: str) -> str:
    try:
        return parse_phone(raw_phone, workspace.country).e164
    except PhoneError as error:
        raise UserError(error.problem) from None


def contact_for_phone(
    conn: Connection, workspace: WorkspaceRef, raw_phone: str, must_exist: bool = True
) -> ContactRef | None:
    phone = normalise_phone(workspace, raw_phone)
    row = conn.execute(
        select(contacts.c.id).where(
            contacts.c.workspace_id == workspace.id, contacts.c.phone == phone
        )
    ).first()
    if row is None:
        if must_exist:
            raise UserError.of(
                "unknown_contact", f"no contact has the phone {phone}", field="phone"
            )
        return None
    return ContactRef(row.id, phone)


def create_contact_for_phone(
    conn: Connection, workspace: WorkspaceRef, raw_phone: str, now: datetime
) -> ContactRef:
    phone = parse_phone(raw_phone, workspace.country)
    contact_id = conn.execute(
        insert(contacts)
        .values(
            workspace_id=workspace.id, phone=phone.e164, country=phone.country, attributes={},
            language=None, timezone=timezone_for_phone(phone.e164, workspace.timezone),
            email=None, tags=[], created_at=now, updated_at=now,
        )
        .returning(contacts.c.id)
    ).scalar_one()  # fmt: skip
    return ContactRef(contact_id, phone.e164)


def show_contact(engine: Engine, workspace: WorkspaceRef, raw_phone: str) -> dict[str, Any]:
    with engine.connect() as conn:
        contact = contact_for_phone(conn, workspace, raw_phone)
        assert contact is not None
        row = conn.execute(select(contacts).where(contacts.c.id == contact.id)).one()
        shown = dict(row._mapping)
        shown.pop("last_import_id", None)
        shown["consent"] = consent_store.current_state(conn, contact.id)
        return shown


def count_contacts(engine: Engine, workspace: WorkspaceRef) -> dict[str, int]:
    with engine.connect() as conn:
        total = conn.execute(
            select(func.count())
            .select_from(contacts)
            .where(contacts.c.workspace_id == workspace.id)
        ).scalar_one()
        states = conn.execute(
            select(consent_store.states.c.status, func.count())
            .join(contacts, contacts.c.id == consent_store.states.c.contact_id)
            .where(
                contacts.c.workspace_id == workspace.id,
                consent_store.states.c.channel == "sms",
                consent_store.states.c.purpose == "promotional",
            )
            .group_by(consent_store.states.c.status)
        ).all()
    counts = {status: count for status, count in states}
    return {
        "contacts": total,
        "opted_in": counts.get("opted_in", 0),
        "opted_out": counts.get("opted_out", 0),
    }


def export_contacts(engine: Engine, workspace: WorkspaceRef, path: Path) -> int:
    """Writes every contact to CSV, streaming (`export_rows` says how each row reads)."""
    where = contacts.c.workspace_id == workspace.id
    written = 0
    with engine.connect() as conn, path.open("w", newline="", encoding="utf-8") as handle:
        names = attribute_names(conn, where)
        writer = csv.writer(handle)
        writer.writerow(export_header(names))
        for row in conn.execution_options(yield_per=5000).execute(export_query(where)):
            writer.writerow(export_row(row, names))
            written += 1
    return written


def erase_contact(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, raw_phone: str, *,
    actor: str, now: datetime,
) -> str:  # fmt: skip
    """Deletes the person's data, texts and consent ledger; keeps a keyed hash of the phone.

    Their texts go too, queued ones included, so nothing more is sent to them.
    The hash lets a later import recognise the number and refuse it without new
    consent, while the number itself is gone.
    """
    with engine.begin() as conn:
        contact = contact_for_phone(conn, workspace, raw_phone)
        assert contact is not None
        # Locked first (PostgreSQL): a launch batch writing a text for them holds the
        # contact until it commits, so that text is committed, and deleted below, before
        # the erasure goes on; deleting the contact last would only null its reference.
        conn.execute(select(contacts.c.id).where(contacts.c.id == contact.id).with_for_update())
        gone = conn.execute(
            delete(messages)
            .where(messages.c.contact_id == contact.id)
            .returning(messages.c.campaign_id, messages.c.status)
        ).all()
        _uncount_queued_texts(conn, [(row.campaign_id, row.status) for row in gone], now)
        conn.execute(delete(consent_events).where(consent_events.c.contact_id == contact.id))
        conn.execute(delete(contacts).where(contacts.c.id == contact.id))
        key = settings.resolved_secret_key()
        contact_store.record_erasure(conn, workspace.id, phone_hash(key, contact.phone), now)
        record_audit(conn, workspace.id, actor, "contact.erased", f"contact #{contact.id}", {}, now)
    return contact.phone


def _uncount_queued_texts(
    conn: Connection, gone: Sequence[tuple[int | None, str]], now: datetime
) -> None:
    """The person's deleted campaign texts that were still queued leave the `queued` level
    of their campaigns and count as excluded (`contact_deleted`), as a launch counts
    someone erased mid-launch: otherwise a campaign would wait for texts that no longer
    exist and never complete.

    Counted from what the delete returned, not read before it: a text a dispatcher
    claimed meanwhile is `sending` by then, and the dispatcher takes it off `queued`.
    """
    queued = Counter(campaign for campaign, status in gone if status == "queued" and campaign)
    for campaign_id, count in queued.items():
        bump_campaign_stats(conn, campaign_id, now, queued=-count, excluded_contact_deleted=count)
