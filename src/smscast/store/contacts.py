"""Contacts in bulk: the updates an import makes to contacts it merges, and erasures.

Batches use SQLAlchemy Core with plain parameter lists, so one round trip serves
thousands of rows on SQLite and PostgreSQL alike. New contacts and their consent
are written set-based by `store.import_stage`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update

from smscast.store.models import Contact, ErasedPhone, table_of

contacts = table_of(Contact)
erased = table_of(ErasedPhone)


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
    whatsapp: str | None = None


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
                whatsapp=bindparam("whatsapp"),
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
