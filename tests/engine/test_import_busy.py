"""An import beside another writer on SQLite: it waits and retries, and a failure is recorded.

Another process (here a plain sqlite3 connection) takes the write lock exactly when
the import opens a batch's transaction, so what happens is the same on every run.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef, create_workspace
from smscast.engine.contacts.import_jobs import list_imports, show_import
from smscast.engine.contacts.importing import BusyRetry, ImportRequest, import_contacts
from smscast.store.db import create_db_engine
from smscast.store.models import Contact, table_of

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
contacts = table_of(Contact)

pytestmark = pytest.mark.sqlite_only


class LockHolder:
    """Another connection that takes the write lock when the import begins its Nth write
    transaction, and gives it back when asked."""

    def __init__(self, path: str, engine: Engine, at_write: int) -> None:
        self.other = sqlite3.connect(path, timeout=0, isolation_level=None)
        self.at_write = at_write
        self.writes = 0
        self.holding = False
        event.listen(engine, "before_cursor_execute", self._on_statement)

    def _on_statement(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement == "BEGIN IMMEDIATE":
            self.writes += 1
            if self.writes == self.at_write:
                self.other.execute("BEGIN IMMEDIATE")
                self.other.execute("UPDATE workspaces SET name = name")
                self.holding = True

    def release(self) -> None:
        if self.holding:
            self.other.execute("COMMIT")
            self.holding = False

    def close(self) -> None:
        self.release()
        self.other.close()


@pytest.fixture
def busy_engine(db_url: str) -> Iterator[Engine]:
    """The test database with a short busy timeout: a held lock shows up in 0.1 s."""
    engine = create_db_engine(db_url, busy_timeout=0.1)
    yield engine
    engine.dispose()


@pytest.fixture
def shop(busy_engine: Engine) -> WorkspaceRef:
    return create_workspace(busy_engine, "Shop", "PL", "Europe/Warsaw", actor="test", now=NOW)


def write_rows(path: Path, count: int) -> Path:
    lines = ["phone,first_name"] + [f"+48600{i:06d},P{i}" for i in range(count)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def small_batches(settings: Settings) -> Settings:
    return settings.model_copy(update={"import_batch_size": 10})


def test_a_busy_database_makes_the_batch_wait_and_retry(
    db_url: str, busy_engine: Engine, shop: WorkspaceRef, settings: Settings, tmp_path: Path
) -> None:
    # the third write transaction is the second batch: the first is the job row
    holder = LockHolder(str(make_url(db_url).database), busy_engine, at_write=3)
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        holder.release()  # the other writer finishes while the import waits

    request = ImportRequest(write_rows(tmp_path / "c.csv", 35), shop, None, "test", NOW)
    try:
        summary = import_contacts(
            busy_engine, small_batches(settings), request, busy=BusyRetry((0.5, 1.0), pause)
        )
    finally:
        holder.close()
    assert pauses == [0.5]
    assert (summary.rows_read, summary.created, summary.rejected) == (35, 35, 0)
    with busy_engine.connect() as conn:
        assert len(conn.execute(select(contacts.c.id)).all()) == 35
    job = show_import(busy_engine, shop, summary.job_id)
    assert (job["status"], job["created"], job["failure"]) == ("finished", 35, None)


def test_an_import_that_gives_up_is_failed_with_its_reason_and_a_rerun_completes_it(
    db_url: str, busy_engine: Engine, shop: WorkspaceRef, settings: Settings, tmp_path: Path
) -> None:
    holder = LockHolder(str(make_url(db_url).database), busy_engine, at_write=3)
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if len(pauses) == 3:  # the batch gave up; recording the outcome waits, then works
            holder.release()

    path = write_rows(tmp_path / "c.csv", 35)
    request = ImportRequest(path, shop, None, "test", NOW)
    try:
        with pytest.raises(OperationalError, match="database is locked"):
            import_contacts(
                busy_engine, small_batches(settings), request,
                busy=BusyRetry((0.01, 0.02), pause),
            )  # fmt: skip
    finally:
        holder.close()
    assert pauses == [0.01, 0.02, 0.01]
    [job] = list_imports(busy_engine, shop, after=0, limit=10)
    assert job["status"] == "failed"
    assert job["failure"] == "OperationalError: database is locked"
    assert (job["rows_read"], job["created"]) == (10, 10)  # the batch committed before

    again = import_contacts(busy_engine, small_batches(settings), request)
    assert (again.created, again.unchanged) == (25, 10)
    assert show_import(busy_engine, shop, again.job_id)["status"] == "finished"
