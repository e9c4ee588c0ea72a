"""Engines and sessions for SQLite and PostgreSQL.

SQLite runs in WAL mode with foreign keys on, so the API, the scheduler and the
dispatcher in one process can read while one of them writes, and a CLI command
beside them waits its turn (the busy timeout) instead of failing. A write
transaction that reads before it writes must take the write lock first
(`begin_write`): in WAL mode a reader whose snapshot another writer has moved past
cannot become a writer, and SQLite answers "database is locked" at once, without
waiting, however long the busy timeout.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


#: How long a SQLite connection waits for another process's write to end (seconds).
BUSY_TIMEOUT_S = 30.0


def create_db_engine(url: str, *, busy_timeout: float = BUSY_TIMEOUT_S, **kwargs: Any) -> Engine:
    """An engine for `url`; for SQLite, creates the file's folder and sets the pragmas.

    `busy_timeout` (SQLite only) is how long a statement waits for the write lock.
    """
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout}, **kwargs)
    event.listen(
        engine, "connect", functools.partial(_set_sqlite_pragmas, busy_ms=int(busy_timeout * 1000))
    )
    return engine


def begin_write(conn: Connection) -> None:
    """Takes the write lock now, at the start of a transaction that will write (SQLite).

    Call it first thing inside `conn.begin()`. SQLite starts a transaction as a
    reader and upgrades it at its first write; if another connection committed in
    between, the upgrade fails at once with "database is locked" (the busy timeout
    does not apply to it). BEGIN IMMEDIATE waits for the lock up front, under the
    busy timeout, before this transaction has read anything. PostgreSQL needs
    nothing: its writers do not conflict that way.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def is_busy(error: BaseException) -> bool:
    """True when `error` is SQLite's "database is locked" / "busy": worth a retry."""
    if not isinstance(error, OperationalError):
        return False
    text = str(error.orig).lower()
    return "database is locked" in text or "database is busy" in text


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any, *, busy_ms: int = 30000) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
    # Imports and launches insert into large indexes in random order: a bigger page
    # cache (64 MB, not the 2 MB default) keeps those inserts off the disk.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA temp_store=MEMORY")
    # Checkpoint every 10,000 WAL pages (40 MB), not 1,000: the same hot index pages
    # are copied back once instead of ten times, with a tenth of the fsyncs; inbound
    # routing committing a small batch every few milliseconds spent a fifth of its
    # time in checkpoints at the default.
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


#: What `time_queries` reports a statement as: its first word, when it is one of these.
STATEMENT_KINDS = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})


def time_queries(engine: Engine, observe: Callable[[str, float], None]) -> None:
    """Calls `observe(kind, seconds)` after each statement `engine` runs (opt-in: the
    metrics of `engine.metrics` ask for it). `kind` is the statement's first word
    (SELECT, INSERT, UPDATE, DELETE; OTHER for the rest: BEGIN, PRAGMA, WITH …), read
    from its first characters only: a statement of a batch with thousands of values
    costs what a short one does. An executemany counts once. A statement that fails
    is not counted.
    """

    def started(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any,
                _many: bool) -> None:  # fmt: skip
        context.smscast_started = time.perf_counter()

    def finished(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any,
                 _many: bool) -> None:  # fmt: skip
        seconds = time.perf_counter() - context.smscast_started
        word = statement[:16].lstrip()[:6].upper()
        observe(word if word in STATEMENT_KINDS else "OTHER", seconds)

    event.listen(engine, "before_cursor_execute", started)
    event.listen(engine, "after_cursor_execute", finished)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
