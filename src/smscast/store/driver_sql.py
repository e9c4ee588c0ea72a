"""Plain SQL for the paths that move thousands of rows a second.

The dispatcher and the delivery-report processor pass tuples straight to the
driver: SQLAlchemy's per-row parameter processing would cost more than SQLite's
own work. Statements are written once with `?` markers and turned into the
driver's paramstyle here.

Where they can, those paths write a batch in a few statements, not a statement per
row (`update_by_ids`, `insert_values`). In a worker the database thread shares the
interpreter lock with the event loop: sqlite3 lets the lock go around every
statement it steps, and while the loop is busy, taking it back costs up to the
interpreter's switch interval. An `executemany` of 1,000 rows beside a busy loop
ran at 12,000 rows a second on SQLite, one statement for the same rows at 42,000;
on PostgreSQL each statement is a round trip.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

VALUES_PER_INSERT = 128
"""Rows in one multi-row INSERT: few statement texts to prepare, far below any
driver's limit on parameters."""


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


def id_set(conn: Connection) -> str:
    """`IN …` over one parameter holding a list of ids (see `id_list`): one statement
    text whatever the list's length, so the driver prepares it once."""
    if conn.dialect.name == "sqlite":
        return "IN (SELECT value FROM json_each(?))"
    return "= ANY(?)"


def id_list(conn: Connection, ids: Iterable[Any]) -> Any:
    """The parameter for `id_set`: a JSON array on SQLite, an array on PostgreSQL (of
    numbers, or of text such as carrier ids)."""
    values = list(ids)
    return json.dumps(values) if conn.dialect.name == "sqlite" else values


def update_by_ids(
    conn: Connection, statement: str, rows: Iterable[tuple[Any, ...]], *, tail: tuple[Any, ...] = ()
) -> int:
    """Runs `statement` once per distinct set of values instead of once per row.

    Each row is (value, …, id). `statement` has a `?` per value, then `{ids}` where
    the ids go (an `id IN …`), then the markers `tail` fills (guards common to every
    row). Rows alike but for their id - a batch of answers or reports is mostly one
    kind - are changed by one statement. Returns the rows changed.
    """
    groups: defaultdict[tuple[Any, ...], list[int]] = defaultdict(list)
    for row in rows:
        groups[row[:-1]].append(row[-1])
    if not groups:
        return 0
    text = driver_sql(conn, statement.format(ids=id_set(conn)))
    changed = 0
    cursor = conn.connection.cursor()
    try:
        for values, ids in groups.items():
            cursor.execute(text, (*values, id_list(conn, ids), *tail))
            changed += max(0, int(cursor.rowcount))
    finally:
        cursor.close()
    return changed


def insert_values(
    conn: Connection, head: str, rows: Sequence[tuple[Any, ...]], tail: str = ""
) -> None:
    """`head VALUES (…), (…) tail` over `rows`, in statements of a power of two rows.

    `head` is `INSERT INTO table (columns)`; `tail` e.g. `ON CONFLICT DO NOTHING`.
    On SQLite statements hold `VALUES_PER_INSERT` rows, the rest in halves (64, 32, …
    1), so a table has at most eight statement texts to prepare.
    """
    if not rows:
        return
    one = "(" + ", ".join("?" * len(rows[0])) + ")"
    if conn.dialect.name != "sqlite":
        # psycopg sends an executemany's rows in one pipeline, the statement prepared
        # once; a statement of a thousand markers it would parse again on every call.
        execute_many(conn, f"{head} VALUES {one} {tail}", rows)
        return
    cursor = conn.connection.cursor()
    try:
        start, size = 0, VALUES_PER_INSERT
        while start < len(rows):
            while size > len(rows) - start:
                size //= 2
            text = driver_sql(conn, f"{head} VALUES {', '.join([one] * size)} {tail}")
            while len(rows) - start >= size:
                chunk = rows[start : start + size]
                cursor.execute(text, [value for row in chunk for value in row])
                start += size
    finally:
        cursor.close()
