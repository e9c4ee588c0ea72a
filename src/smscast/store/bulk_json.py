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

from smscast.store.bulk import insert_rows

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def insert_json_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    fixed: Mapping[str, Any],
) -> None:
    """INSERTs driver-ready `rows` (values for `columns`), each with the `fixed` values.

    Values must be JSON scalars as the driver would bind them: str, int, float or
    None (datetimes already converted, see `DriverValues`).
    """
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        names = (*fixed, *columns)
        constant = tuple(fixed.values())
        insert_rows(conn, table, names, [constant + row for row in rows])
        return
    listed = ", ".join((*fixed, *columns))
    picks = ", ".join(["?"] * len(fixed) + [f"value ->> {i}" for i in range(len(columns))])
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({listed}) SELECT {picks} FROM json_each(?)",
        (*fixed.values(), _ENCODER.encode(rows)),
    )
