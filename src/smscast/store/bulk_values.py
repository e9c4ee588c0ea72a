"""Bulk inserts as a few multi-row VALUES statements, for SQLite writes that run beside Python work.

`executemany` hands the GIL back and forth once per row: it binds a row's values
(holding the GIL), lets SQLite insert it (without), then must win the GIL back.
While another thread of the process is busy in Python, winning it back takes up to
the interpreter's switch interval, so a writer thread inserting beside a
rendering thread crawls and the two end up taking turns. Here a batch is bound
into one `INSERT … SELECT … FROM (VALUES (?, …), …)` per few thousand rows: one
release of the GIL per statement. (An earlier version sent the batch as one JSON
array through `json_each`; SQLite parsed each row's JSON again for every column it
read, which made the insert of a launch's outbox row 70 % dearer.) Elsewhere
(PostgreSQL) the plain executemany is used.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

_MOST_VARIABLES = 32_766
"""SQLite's default limit on parameters per statement (since 3.32); a build may set it lower."""


def insert_value_rows(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    fixed: Mapping[str, Any],
    *,
    existing: tuple[str, str] | None = None,
) -> int:
    """INSERTs driver-ready `rows` (values for `columns`), each with the `fixed` values.

    Values must be as the driver would bind them (datetimes already converted, see
    `DriverValues`). With `existing` (column, parent table) given, a row whose
    parent id is no longer in the parent table is left out rather than failing the
    statement (on PostgreSQL the parents are also locked against deletion until
    the transaction ends); returns the number of rows written.
    """
    if not rows:
        return 0
    if conn.dialect.name != "sqlite":
        if existing is not None:
            rows = _rows_with_parent(conn, columns, rows, existing)
        _copy_rows(conn, table, (*fixed, *columns), tuple(fixed.values()), rows)
        return len(rows)
    chunk = max(1, (_variable_limit(conn) - len(fixed)) // len(columns))
    where = ""
    if existing is not None:
        column, parent = existing
        parent_id = f"column{columns.index(column) + 1}"
        where = f" WHERE EXISTS (SELECT 1 FROM {parent} WHERE id = {parent_id})"
    constant = tuple(fixed.values())
    written = 0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        sql = _statement(table.name, tuple(fixed), tuple(columns), len(part), where)
        params = constant + tuple(chain.from_iterable(part))  # half a generator's time
        written += int(conn.exec_driver_sql(sql, params).rowcount)
    return written


def _variable_limit(conn: Connection) -> int:
    driver = conn.connection.driver_connection
    if isinstance(driver, sqlite3.Connection):
        return min(_MOST_VARIABLES, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))
    return 999  # the oldest SQLite's limit, for a driver that cannot say


@lru_cache(maxsize=64)
def _statement(table: str, fixed: tuple[str, ...], columns: tuple[str, ...], count: int,
               where: str) -> str:  # fmt: skip
    """The INSERT for `count` rows; full chunks repeat, so the driver's statement cache
    compiles each shape once per connection."""
    constants = ", ".join(f"?{index}" for index in range(1, len(fixed) + 1))
    picks = ", ".join(filter(None, (constants, *(f"column{i + 1}" for i in range(len(columns))))))
    one = "(" + ", ".join(["?"] * len(columns)) + ")"
    return (f"INSERT INTO {table} ({', '.join((*fixed, *columns))}) "
            f"SELECT {picks} FROM (VALUES {', '.join([one] * count)}){where}")  # fmt: skip


def _copy_rows(conn: Connection, table: Table, names: Sequence[str], constant: tuple[Any, ...],
               rows: Sequence[tuple[Any, ...]]) -> None:  # fmt: skip
    """COPYs the rows (each after `constant`) in the connection's transaction; a refused
    row (a unique key taken) fails the whole COPY with SQLAlchemy's error, as an INSERT would."""
    sql = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(sql) as copy:
            write = copy.write_row
            for row in rows:
                write(constant + row)
    except conn.dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(sql, None, error, conn.dialect.loaded_dbapi.Error,
                                  dialect=conn.dialect) from error  # fmt: skip


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
    # One array parameter: an IN list of thousands of placeholders is parsed and bound
    # value by value.
    found = conn.exec_driver_sql(
        f"SELECT id FROM {parent} WHERE id = ANY(%s) FOR KEY SHARE", (ids,)
    )
    present = {row[0] for row in found}
    return [row for row in rows if row[at] in present]
