"""A routing batch's rows written in a few statements, with the ids the batch needs back.

In a worker the database thread shares the interpreter lock with the event loop that
reads the carrier's texts; sqlite3 lets the lock go at every row a statement steps
through (an `executemany` row, a `RETURNING` row), and taking it back from a busy loop
can cost a switch interval. So rows go in multi-row INSERTs (`insert_values`), rows
alike change in one UPDATE (`update_by_ids`) and on SQLite new ids are counted, not
returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table

from smscast.store.bulk import insert_returning
from smscast.store.driver_sql import driver_sql, insert_values


def insert_rows_with_ids(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> list[int]:
    """INSERTs driver-ready tuples; returns their new ids, in `rows` order.

    A table's ids grow in the order its rows are inserted, within one statement and
    within one writer: sorted, the ids returned are the rows' in order, however the
    database returns them.
    """
    if not rows:
        return []
    if conn.dialect.name == "sqlite":
        counted = insert_counted(conn, table, columns, rows)
        if counted is not None:
            return counted
        raise AssertionError(f"{table.name}: new ids out of step")  # pragma: no cover
    returned = insert_returning(conn, table, columns, rows, ("id",))
    return sorted(int(row_id) for (row_id,) in returned)


def insert_counted(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]],
    tail: str = "",
) -> list[int] | None:  # fmt: skip
    """SQLite: INSERTs the rows (`tail` e.g. `ON CONFLICT DO NOTHING`) and returns their
    new ids in order, or None when some were not inserted.

    One writer holds an SQLite database from its first write to its commit, and new
    rowids follow the largest one in insertion order: with the write lock taken,
    `max(id)` before and after tells every id, when the count adds up. Elsewhere
    (None at once, nothing inserted) the caller inserts as it would have.
    """
    if conn.dialect.name != "sqlite":
        return None
    name = table.name
    conn.exec_driver_sql(f"UPDATE {name} SET id = id WHERE id = -1")  # takes the write lock
    before = int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {name}").scalar_one())
    insert_values(conn, f"INSERT INTO {name} ({', '.join(columns)})", rows, tail)
    after = int(conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {name}").scalar_one())
    if after - before == len(rows):
        return list(range(before + 1, after + 1))
    if tail:
        return None
    found = conn.exec_driver_sql(f"SELECT id FROM {name} WHERE id > ? ORDER BY id", (before,))
    return [int(row_id) for (row_id,) in found]  # an AUTOINCREMENT table's gap


def update_cases(
    conn: Connection, table: str, set_sql: str, params: tuple[Any, ...],
    columns: Sequence[str], rows: Sequence[tuple[Any, ...]], chunk: int = 256,
) -> None:  # fmt: skip
    """Sets `columns` of each row (id, value, …) to its own values, in one UPDATE per
    `chunk` rows (`SET column = CASE id WHEN … THEN … END`), beside `set_sql` (with
    `params`) that all rows share."""
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        cases = " ".join(["WHEN ? THEN ?"] * len(part))
        sets = ", ".join(f"{column} = CASE id {cases} END" for column in columns)
        statement = (
            f"UPDATE {table} SET {set_sql}, {sets} WHERE id IN ({', '.join('?' * len(part))})"
        )
        values: list[Any] = list(params)
        for index in range(1, len(columns) + 1):
            for row in part:
                values += (row[0], row[index])
        values += [row[0] for row in part]
        conn.exec_driver_sql(driver_sql(conn, statement), tuple(values))
