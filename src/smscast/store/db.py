"""Engines and sessions for SQLite and PostgreSQL.

SQLite runs in WAL mode with foreign keys on, so the API, the scheduler and the
dispatcher in one process can read while one of them writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`; for SQLite, creates the file's folder and sets the pragmas."""
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, **kwargs)
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
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


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
