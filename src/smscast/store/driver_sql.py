"""Plain SQL for the paths that move thousands of rows a second.

The dispatcher and the delivery-report processor pass tuples straight to the
driver's executemany: SQLAlchemy's per-row parameter processing would cost more
than SQLite's own work. Statements are written once with `?` markers and turned
into the driver's paramstyle here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def driver_sql(conn: Connection, statement: str) -> str:
    """`statement` (written with `?` markers) in the paramstyle of `conn`'s driver."""
    return statement if conn.dialect.paramstyle == "qmark" else statement.replace("?", "%s")


def execute_many(conn: Connection, statement: str, rows: Sequence[tuple[Any, ...]]) -> int:
    """Runs `statement` once per tuple of `rows`, in one executemany; nothing for no rows.

    Runs on the DB-API connection inside `conn`'s transaction, skipping SQLAlchemy's
    per-row work; the transaction is still `conn`'s. Returns the driver's rowcount:
    the rows changed in all (sqlite3), or -1 or less where a driver does not add
    them up - never more than were changed.
    """
    if not rows:
        return 0
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(driver_sql(conn, statement), list(rows))
        return int(cursor.rowcount)
    finally:
        cursor.close()


def fetch(conn: Connection, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """All rows of one query as plain tuples, straight from the driver (see execute_many)."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(driver_sql(conn, statement), params)
        return list(cursor.fetchall())
    finally:
        cursor.close()


def in_list(count: int) -> str:
    """`(?, ?, …)` for an IN over `count` values."""
    return "(" + ", ".join("?" * count) + ")"
