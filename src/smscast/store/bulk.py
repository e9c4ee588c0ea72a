"""Bulk inserts straight through the driver, for the paths that write millions of rows.

SQLAlchemy's per-value processing costs more than SQLite's own insert at these
volumes, so these rows arrive driver-ready: datetimes and JSON are converted once
here, for the dialect at hand, the same way the column types would.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table

_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class DriverValues:
    """Converts values the way UtcDateTime and the JSON columns store them."""

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"

    def moment(self, value: datetime) -> Any:
        utc = value if value.tzinfo is UTC else value.astimezone(UTC)
        if not self.sqlite:
            return utc
        # SQLAlchemy's SQLite DATETIME text; isoformat builds it at half strftime's cost.
        return utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def json(self, value: Any) -> str:
        return _ENCODER.encode(value)


def insert_rows(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """INSERTs driver-ready tuples in one executemany."""
    if not rows:
        return
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(columns)
    values = ", ".join([marker] * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({values})", rows)


def insert_returning(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    returning: Sequence[str],
    chunk: int = 1000,
) -> list[tuple[Any, ...]]:
    """INSERTs driver-ready tuples as multi-row VALUES and returns the `returning` columns."""
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    one = "(" + ", ".join([marker] * len(columns)) + ")"
    head = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES "
    tail = f" RETURNING {', '.join(returning)}"
    out: list[Any] = []
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        sql = head + ", ".join([one] * len(part)) + tail
        params = tuple(value for row in part for value in row)
        out.extend(conn.exec_driver_sql(sql, params).fetchall())
    return out


def select_in(
    conn: Connection,
    sql: str,
    values: Sequence[Any],
    extra: Sequence[Any] = (),
    chunk: int = 5000,
    tail: str = "",
) -> list[tuple[Any, ...]]:
    """Runs `sql` (ending in `IN`) for `values` in chunks; `extra` parameters come first,
    `tail` (e.g. a GROUP BY) follows the IN list.

    Plain placeholders instead of an expanding bind parameter: compiling thousands
    of those per batch costs more than the query.
    """
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    out: list[Any] = []
    for start in range(0, len(values), chunk):
        part = list(values[start : start + chunk])
        statement = f"{sql} ({', '.join([marker] * len(part))}) {tail}"
        out.extend(conn.exec_driver_sql(statement, (*extra, *part)).fetchall())
    return out


def insert_keyed(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    key: str,
) -> dict[Any, int]:
    """INSERTs driver-ready tuples and returns {row[key]: new id}; keys must be unique.

    On SQLite one writer holds the database, so once this transaction has taken
    the write lock the new rows get the ids after the largest one, in order: an
    executemany and one `max(id)` replace RETURNING, at a third of its cost. A
    check afterwards falls back to a lookup should that ever not hold.
    """
    if not rows:
        return {}
    at = columns.index(key)
    if conn.dialect.name != "sqlite":
        returned = insert_returning(conn, table, columns, rows, (key, "id"))
        return {row_key: row_id for row_key, row_id in returned}
    # A write that changes nothing, to hold the write lock before reading max(id).
    conn.exec_driver_sql(f"UPDATE {table.name} SET id = id WHERE id = -1")
    before = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar_one()
    insert_rows(conn, table, columns, rows)
    after = conn.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar_one()
    if after - before == len(rows):
        return {row[at]: before + 1 + index for index, row in enumerate(rows)}
    keys = [row[at] for row in rows]
    found = select_in(conn, f"SELECT {key}, id FROM {table.name} WHERE id > ? AND {key} IN",
                      keys, (before,))  # fmt: skip
    return {row_key: row_id for row_key, row_id in found}
