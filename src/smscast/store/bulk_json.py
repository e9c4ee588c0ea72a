"""Bulk inserts as one statement over a JSON array, for SQLite writes that run beside Python work.

`executemany` hands the GIL back and forth once per row: it binds a row's values
(holding the GIL), lets SQLite insert it (without), then must win the GIL back.
While another thread of the process is busy in Python, winning it back takes up to
the interpreter's switch interval, so a writer thread inserting beside a
rendering thread crawls and the two end up taking turns. Sent as one JSON array,
the whole batch is one `INSERT … SELECT … FROM json_each(?)`: one release of the
GIL for all of its rows. Elsewhere (PostgreSQL) the plain executemany is used.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table

from smscast.store.bulk import insert_rows, select_in

_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
"""ASCII with \\u escapes: a third quicker to make than UTF-16 text, and SQLite reads both."""


def insert_json_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    fixed: Mapping[str, Any],
    *,
    existing: tuple[str, str] | None = None,
) -> int:
    """INSERTs driver-ready `rows` (values for `columns`), each with the `fixed` values.

    Values must be JSON scalars as the driver would bind them: str, int, float or
    None (datetimes already converted, see `DriverValues`). With `existing`
    (column, parent table) given, on SQLite a row whose parent id is no longer in
    the parent table is left out rather than failing the statement; returns the
    number of rows written.
    """
    if not rows:
        return 0
    if conn.dialect.name != "sqlite":
        if existing is not None:
            rows = _rows_with_parent(conn, columns, rows, existing)
        names = (*fixed, *columns)
        constant = tuple(fixed.values())
        insert_rows(conn, table, names, [constant + row for row in rows])
        return len(rows)
    listed = ", ".join((*fixed, *columns))
    picks = ", ".join(["?"] * len(fixed) + [f"value ->> {i}" for i in range(len(columns))])
    where = ""
    if existing is not None:
        column, parent = existing
        at = columns.index(column)
        where = f" WHERE EXISTS (SELECT 1 FROM {parent} WHERE id = value ->> {at})"
    result = conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({listed}) SELECT {picks} FROM json_each(?){where}",
        (*fixed.values(), _ENCODER.encode(rows)),
    )
    return int(result.rowcount)


def _rows_with_parent(
    conn: Connection,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    existing: tuple[str, str],
) -> list[tuple[Any, ...]]:
    """The rows whose parent still exists, the parents locked against deletion (PostgreSQL)."""
    column, parent = existing
    at = columns.index(column)
    ids = [row[at] for row in rows]
    found = select_in(conn, f"SELECT id FROM {parent} WHERE id IN", ids, tail="FOR KEY SHARE")
    present = {row[0] for row in found}
    return [row for row in rows if row[at] in present]
