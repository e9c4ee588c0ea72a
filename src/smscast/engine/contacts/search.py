"""Finding contacts as a person looks for them: by a phone typed any way, a name, any
attribute's value, and within a segment expression — one page at a time, or all of
them as a CSV download.

The portal's contact list and its export answer from here, so the export holds exactly
the contacts the list found. The expression is checked like a saved segment's (errors
name its line and column); the text is matched case-insensitively inside the phone,
the email, the WhatsApp number and every attribute value (names are attributes), never
inside attribute names, so "city" does not find everyone who has a city.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement

from smscast.core.phones import PhoneError, parse_phone
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.segments import segment_where
from smscast.engine.contacts.export_rows import (
    attribute_names,
    export_header,
    export_query,
    export_row,
)
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
MAX_PAGE_SIZE = 200
EXPORT_BATCH = 2000
SHOWN = ("id", "phone", "attributes", "language", "timezone", "email", "whatsapp", "tags",
         "updated_at")  # fmt: skip


@dataclass(frozen=True, slots=True)
class ContactSearch:
    """What to look for: `text` (phone, name, email or attribute value) and `segment`
    (an expression in the segment language); either may be empty."""

    text: str = ""
    segment: str = ""


@dataclass(frozen=True, slots=True)
class ContactPage:
    """One page of the contacts found, in id order, and how many were found in all."""

    contacts: list[dict[str, Any]]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def search_contacts(
    engine: Engine,
    workspace: WorkspaceRef,
    search: ContactSearch,
    *,
    now: datetime,
    page: int = 1,
    page_size: int = 50,
) -> ContactPage:
    """The `page`-th page (from 1) of the workspace's contacts matching `search`.

    A wrong expression raises the segment language's UserError (line and column).
    """
    page = max(1, page)
    page_size = min(max(1, page_size), MAX_PAGE_SIZE)
    with engine.connect() as conn:
        where = _where(conn, workspace, search, now)
        total = conn.execute(select(func.count()).select_from(contacts).where(where)).scalar_one()
        rows = conn.execute(
            select(*(contacts.c[c] for c in SHOWN))
            .where(where)
            .order_by(contacts.c.id)
            .offset((page - 1) * page_size)
            .limit(page_size)
        ).all()
    return ContactPage([dict(row._mapping) for row in rows], int(total), page, page_size)


def export_found_contacts(
    engine: Engine, workspace: WorkspaceRef, search: ContactSearch, *, now: datetime
) -> Iterator[str]:
    """The contacts `search` finds as CSV text, a few thousand rows per piece, read with
    a server-side cursor, so memory stays flat however many there are.

    The columns are those of `smscast contacts export` (the file imports back as it is);
    cells a spreadsheet would run as a formula are escaped. The expression is checked
    before the first piece, so a wrong one is refused instead of cutting a download short.
    """
    conn = engine.connect()
    try:
        where = _where(conn, workspace, search, now)
        names = attribute_names(conn, where)
    except BaseException:
        conn.close()
        raise
    return _csv_pieces(conn, where, names)


def _csv_pieces(conn: Connection, where: ColumnElement[bool], names: list[str]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(export_header(names))
    try:
        result = conn.execution_options(yield_per=EXPORT_BATCH).execute(export_query(where))
        for index, row in enumerate(result, start=1):
            writer.writerow(export_row(row, names))
            if index % EXPORT_BATCH == 0:
                yield _drain(buffer)
        yield _drain(buffer)
    finally:
        conn.close()


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _where(
    conn: Connection, workspace: WorkspaceRef, search: ContactSearch, now: datetime
) -> ColumnElement[bool]:
    where: ColumnElement[bool] = contacts.c.workspace_id == workspace.id
    if search.segment.strip():
        where = where & segment_where(conn, workspace, search.segment, now)
    text = search.text.strip()
    if text:
        where = where & _matches_text(conn, workspace, text)
    return where


def _matches_text(conn: Connection, workspace: WorkspaceRef, text: str) -> ColumnElement[bool]:
    """Phone or WhatsApp number (as typed, or read as a number of the workspace's
    country), email, or the value of any attribute, ignoring case."""
    pattern = f"%{_escaped(text.lower())}%"
    found: list[ColumnElement[bool]] = [
        func.lower(func.coalesce(contacts.c.email, "")).like(pattern, escape="\\"),
        _attribute_value_like(conn, pattern),
    ]
    digits = "".join(ch for ch in text if ch.isdigit())
    if digits and len(digits) * 2 >= len(text.replace(" ", "")):
        found.append(contacts.c.phone.contains(digits, autoescape=True))
        found.append(contacts.c.whatsapp.contains(digits, autoescape=True))
        with contextlib.suppress(PhoneError):
            e164 = parse_phone(text, workspace.country).e164
            found.extend((contacts.c.phone == e164, contacts.c.whatsapp == e164))
    return or_(*found)


def _attribute_value_like(conn: Connection, pattern: str) -> ColumnElement[bool]:
    if conn.dialect.name == "postgresql":
        each = func.jsonb_each_text(contacts.c.attributes).table_valued("key", "value")
    else:
        each = func.json_each(contacts.c.attributes).table_valued("key", "value")
    value = func.lower(cast(each.c.value, String))
    return exists(select(literal(1)).select_from(each).where(value.like(pattern, escape="\\")))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
