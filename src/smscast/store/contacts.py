"""Contacts in bulk: the queries an import runs per batch, and single-contact reads.

Batches use SQLAlchemy Core with plain parameter lists, so one round trip serves
thousands of rows on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from smscast.store.bulk import insert_keyed, select_in
from smscast.store.models import ConsentState, Contact, ErasedPhone, table_of

contacts = table_of(Contact)
erased = table_of(ErasedPhone)
consent_states = table_of(ConsentState)


@dataclass(slots=True)
class StoredContact:
    """The columns of an existing contact that an import compares against."""

    id: int
    phone: str
    attributes: dict[str, Any]
    language: str | None
    timezone: str
    email: str | None
    tags: list[str]
    last_import_id: int | None


def find_by_phones(
    conn: Connection, workspace_id: int, phones: Sequence[str]
) -> dict[str, StoredContact]:
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = select_in(
        conn,
        "SELECT id, phone, attributes, language, timezone, email, tags, last_import_id "
        f"FROM contacts WHERE workspace_id = {marker} AND phone IN",
        phones,
        (workspace_id,),
    )
    found = {}
    for row in rows:
        attributes, tags = row[2], row[6]
        found[row[1]] = StoredContact(
            row[0], row[1],
            json.loads(attributes) if isinstance(attributes, str) else attributes,
            row[3], row[4], row[5],
            json.loads(tags) if isinstance(tags, str) else tags,
            row[7],
        )  # fmt: skip
    return found


NEW_CONTACT_COLUMNS = (
    "workspace_id", "phone", "country", "attributes", "language", "timezone", "email", "tags",
    "created_at", "updated_at", "last_import_id",
)  # fmt: skip


def insert_contacts(conn: Connection, rows: list[tuple[Any, ...]]) -> dict[str, int]:
    """Inserts driver-ready tuples in the order of NEW_CONTACT_COLUMNS; returns phone → id."""
    if not rows:
        return {}
    return insert_keyed(conn, contacts, NEW_CONTACT_COLUMNS, rows, "phone")


def update_contacts(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows carry `_id` and the new values of every imported column."""
    if rows:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("_id"))
            .values(
                attributes=bindparam("attributes"),
                language=bindparam("language"),
                timezone=bindparam("timezone"),
                email=bindparam("email"),
                tags=bindparam("tags"),
                country=bindparam("country"),
                updated_at=bindparam("updated_at"),
                last_import_id=bindparam("last_import_id"),
            ),
            rows,
        )


def mark_seen(conn: Connection, import_id: int, contact_ids: Iterable[int]) -> None:
    """Records that an import saw these contacts, so a repeated row is caught as such."""
    rows = [{"_id": contact_id} for contact_id in contact_ids]
    if rows:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == bindparam("_id"))
            .values(last_import_id=import_id),
            rows,
        )


def has_erasures(conn: Connection, workspace_id: int) -> bool:
    query = select(func.count()).select_from(erased).where(erased.c.workspace_id == workspace_id)
    return bool(conn.execute(query).scalar_one())


def erased_hashes(conn: Connection, workspace_id: int, hashes: Sequence[str]) -> set[str]:
    rows = conn.execute(
        select(erased.c.phone_hash).where(
            erased.c.workspace_id == workspace_id, erased.c.phone_hash.in_(hashes)
        )
    )
    return set(rows.scalars())


def record_erasure(conn: Connection, workspace_id: int, phone_hash: str, at: datetime) -> None:
    exists = conn.execute(
        select(erased.c.phone_hash).where(
            erased.c.workspace_id == workspace_id, erased.c.phone_hash == phone_hash
        )
    ).first()
    if exists is None:
        conn.execute(
            insert(erased).values(workspace_id=workspace_id, phone_hash=phone_hash, erased_at=at)
        )


def forget_erasure(conn: Connection, workspace_id: int, phone_hash: str) -> None:
    conn.execute(
        delete(erased).where(
            erased.c.workspace_id == workspace_id, erased.c.phone_hash == phone_hash
        )
    )


def consent_status_of(
    conn: Connection, contact_ids: Sequence[int], channel: str, purpose: str
) -> dict[int, str]:
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    rows = select_in(
        conn,
        "SELECT contact_id, status FROM consent_states "
        f"WHERE channel = {marker} AND purpose = {marker} AND contact_id IN",
        contact_ids,
        (channel, purpose),
    )
    return {contact_id: status for contact_id, status in rows}
