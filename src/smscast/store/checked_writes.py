"""Write transactions that check their rows' parents per batch instead of per row.

SQLite checks every foreign key of every inserted row: for an outbox row that is
six lookups (workspace, campaign, contact, number, variant, connector), about a
tenth of a launch's CPU. Within a launch batch all but the contact are one value
for every row, so the caller checks those once (`missing_parents`) and the insert
itself keeps only rows whose contact still exists; SQLite's own checks are off for
that one transaction and back on before the connection goes back to the pool.
PostgreSQL keeps its checks: they are cheap there and cannot be switched off per
transaction without superuser rights.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection, Engine


@contextmanager
def parents_checked_per_batch(engine: Engine) -> Iterator[Connection]:
    """A write transaction (committed on success) with SQLite's row-by-row foreign key
    checks off; the caller must check the parents of what it writes."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:  # a pragma outside a transaction: before the driver's implicit BEGIN
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            conn.commit()
        try:
            with conn.begin():
                yield conn
        finally:
            if sqlite:
                conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                conn.commit()


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
