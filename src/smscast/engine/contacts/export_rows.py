"""The rows of a contacts export, one shape for `smscast contacts export` and the
portal's download, so that either file imports back as it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from smscast.core.contact_rows import spreadsheet_safe
from smscast.store import consent as consent_store
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
EXPORT_COLUMNS = ("phone", "first_name", "last_name", "language", "timezone", "email", "tags",
                  "consent")  # fmt: skip
NAMED = ("first_name", "last_name")  # attributes that have columns of their own
_CONSENT = {"opted_in": "yes", "opted_out": "no"}


def export_query(where: ColumnElement[bool]) -> Select[Any]:
    """The contacts `where` selects, oldest first, with their promotional SMS consent."""
    states = consent_store.states
    return (
        select(contacts, states.c.status)
        .outerjoin(
            states,
            (states.c.contact_id == contacts.c.id)
            & (states.c.channel == "sms")
            & (states.c.purpose == "promotional"),
        )
        .where(where)
        .order_by(contacts.c.id)
    )


def attribute_names(conn: Connection, where: ColumnElement[bool]) -> list[str]:
    """The attribute columns: every name the selected contacts use, in order, but the
    names that have columns of their own; found by the database, not by reading rows."""
    if conn.dialect.name == "postgresql":
        keys = func.jsonb_object_keys(contacts.c.attributes).label("key")
        query = select(keys).where(where).distinct()
    else:
        each = func.json_each(contacts.c.attributes).table_valued("key")
        query = select(each.c.key).select_from(contacts).join(each, true()).where(where).distinct()
    found = sorted(str(name) for name in conn.execute(query).scalars())
    return [name for name in found if name not in NAMED]


def export_header(names: list[str]) -> list[str]:
    return [*EXPORT_COLUMNS, *names]


def export_row(row: Any, names: list[str]) -> list[str]:
    """One contact's cells; those a spreadsheet would run as a formula are escaped. The
    phone is a validated E.164 number ("+" and digits), which no spreadsheet runs:
    escaping it too only left "'+48…" in every row."""
    attributes = row.attributes or {}
    cells = [
        attributes.get("first_name", ""), attributes.get("last_name", ""),
        row.language or "", row.timezone, row.email or "", ";".join(row.tags or []),
        _CONSENT.get(row.status or "", ""), *(attributes.get(name, "") for name in names),
    ]  # fmt: skip
    return [row.phone, *(spreadsheet_safe(str(cell)) for cell in cells)]
