"""The rows of a contacts export, one shape for `smscast contacts export` and the
portal's download, so that either file imports back as it is: the addresses on each
channel (phone, email, WhatsApp) and promotional consent per channel in the columns an
import reads (`consent` is SMS's, `consent_email`, `consent_whatsapp`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from smscast.core.contact_rows import spreadsheet_safe
from smscast.store import consent as consent_store
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
EXPORT_COLUMNS = ("phone", "first_name", "last_name", "language", "timezone", "email", "tags",
                  "consent", "whatsapp", "consent_email", "consent_whatsapp")  # fmt: skip
NAMED = ("first_name", "last_name")  # attributes that have columns of their own
_CONSENT = {"opted_in": "yes", "opted_out": "no"}


def export_query(where: ColumnElement[bool]) -> Select[Any]:
    """The contacts `where` selects, oldest first, with their promotional consent on SMS
    (`status`), email (`status_email`) and WhatsApp (`status_whatsapp`)."""
    query = select(contacts)
    for channel, label in (("sms", "status"), ("email", "status_email"),
                           ("whatsapp", "status_whatsapp")):  # fmt: skip
        states = consent_store.states.alias(f"state_{channel}")
        query = query.add_columns(states.c.status.label(label)).outerjoin(
            states,
            (states.c.contact_id == contacts.c.id)
            & (states.c.channel == channel)
            & (states.c.purpose == "promotional"),
        )
    return query.where(where).order_by(contacts.c.id)


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
    # An attribute named like a column (a "whatsapp" column imported before WhatsApp
    # was a channel) would repeat the column's name: the column holds the real value.
    return [name for name in found if name not in NAMED and name not in EXPORT_COLUMNS]


def export_header(names: list[str]) -> list[str]:
    return [*EXPORT_COLUMNS, *names]


def export_row(row: Any, names: list[str]) -> list[str]:
    """One contact's cells; those a spreadsheet would run as a formula are escaped. The
    phone and the WhatsApp number are validated E.164 numbers ("+" and digits), which no
    spreadsheet runs: escaping them too only left "'+48…" in every row."""
    attributes = row.attributes or {}
    named = [
        attributes.get("first_name", ""), attributes.get("last_name", ""),
        row.language or "", row.timezone, row.email or "", ";".join(row.tags or []),
        _CONSENT.get(row.status or "", ""),
    ]  # fmt: skip
    consent = [
        _CONSENT.get(row.status_email or "", ""),
        _CONSENT.get(row.status_whatsapp or "", ""),
    ]
    others = [attributes.get(name, "") for name in names]
    return [
        row.phone, *(spreadsheet_safe(str(cell)) for cell in named), row.whatsapp or "",
        *consent, *(spreadsheet_safe(str(cell)) for cell in others),
    ]  # fmt: skip
