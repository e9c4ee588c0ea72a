"""Write transactions that check their rows' parents per batch instead of per row.

SQLite checks every foreign key of every inserted row: for an outbox row that is
six lookups (workspace, campaign, contact, number, variant, connector), about a
tenth of a launch's CPU. Within a launch batch all but the contact are one value
for every row, so the caller checks those once (`missing_parents`) and the insert
itself keeps only rows whose contact still exists; SQLite's own checks are off on
the job's connection and back on before it goes back to the pool.
PostgreSQL keeps its checks: they are cheap there and cannot be switched off per
transaction without superuser rights.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


class ParentsCheckedWrites:
    """Write transactions on one connection, held for a whole bulk job, with SQLite's
    row-by-row foreign key checks off; the caller must check the parents of what it writes.

    The pragma is switched once for the job, not per transaction: switching it
    expires every statement the connection has prepared, and a launch's multi-row
    INSERT of thousands of rows takes ~10 ms to prepare again, a third of its cost.
    Used as a context manager; on the way out the checks are back on before the
    connection goes back to the pool (or it is discarded, should that fail).
    Transactions are taken one at a time, from any thread.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None
        self._lock = threading.Lock()

    def __enter__(self) -> ParentsCheckedWrites:
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()
        except Exception:
            conn.invalidate()  # never pooled with the checks off
            raise
        finally:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends without an error."""
        with self._lock:
            conn = self._connection()
            with conn.begin():
                yield conn

    def _connection(self) -> Connection:
        if self._conn is None:
            conn = self.engine.connect()
            if conn.dialect.name == "sqlite":  # outside a transaction: before the implicit BEGIN
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            self._conn = conn
        return self._conn


def missing_parents(conn: Connection, parents: Mapping[str, tuple[str, list[int]]]) -> list[str]:
    """The names in `parents` (name -> (table, ids)) for which some id no longer exists."""
    checks = [(name, table, sorted(set(ids))) for name, (table, ids) in parents.items() if ids]
    if not checks:
        return []
    marker = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    counts = ", ".join(
        f"(SELECT COUNT(*) FROM {table} WHERE id IN ({', '.join([marker] * len(ids))}))"
        for _, table, ids in checks
    )
    found = conn.exec_driver_sql(
        f"SELECT {counts}", tuple(i for _, _, ids in checks for i in ids)
    ).one()
    return [name for (name, _, ids), count in zip(checks, found, strict=True) if count < len(ids)]
