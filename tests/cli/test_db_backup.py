"""`smscast db backup` and `smscast db restore`, as an operator runs them beside a live
system: a backup taken while a campaign is out and another connection writes, opened
and checked, then restored over a database that moved on since.

On SQLite through the online backup API, on PostgreSQL through pg_dump and pg_restore.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from smscast.cli import app
from smscast.cli import db as db_cli
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.sending.connectors import add_connector
from smscast.engine.sending.leases import take_lease
from smscast.store.db import begin_write, create_db_engine
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import Contact, table_of

runner = CliRunner()
contacts = table_of(Contact)
campaigns = table_of(Campaign)
messages = table_of(Message)

Run = Callable[..., Result]
PHONES = [f"+486001002{n:02d}" for n in range(30)]
COUNTER_PHONE = PHONES[0]  # the writer keeps its count here, in the same transactions
WRITER_PREFIX = "+4869900"


@pytest.fixture
def cli(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        workspace: WorkspaceRef) -> Run:  # fmt: skip
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("SMSCAST_SECRET_KEY", "test-secret")
    monkeypatch.chdir(tmp_path)

    def run(*args: str) -> Result:
        return runner.invoke(app, list(args))

    return run


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def one_line(result: Result) -> str:
    """The output as one line: rich wraps long lines at the terminal's width."""
    return " ".join(result.output.split())


def start_campaign(cli: Run, tmp_path: Path) -> int:
    """Thirty opted-in contacts and a campaign launched to them: thirty queued texts."""
    source = tmp_path / "list.csv"
    source.write_text("phone,consent\n" + "".join(f"{p},yes\n" for p in PHONES), "utf-8")
    imported = json.loads(ok(cli("contacts", "import", str(source), "--consent-source",
                                 "form", "--json")))  # fmt: skip
    assert imported["created"] == len(PHONES)
    campaign_id = int(ok(cli("campaigns", "create", "--name", "Sale", "--segment",
                             'country = "PL"', "--body", "Sale today")).strip())  # fmt: skip
    launched = json.loads(ok(cli("campaigns", "launch", str(campaign_id), "--json")))
    assert launched["queued"] == len(PHONES)
    return campaign_id


class Writer(threading.Thread):
    """Another process's work, in another connection: each transaction inserts a contact
    and writes the running count onto the counter contact, so that a backup holding
    half a transaction would show a count that does not match the rows."""

    def __init__(self, url: str, workspace: WorkspaceRef, now: datetime) -> None:
        super().__init__(name="writer", daemon=True)
        self.url, self.workspace, self.now = url, workspace, now
        self.written = 0
        self.warmed_up = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        engine = create_db_engine(self.url)
        try:
            while not self.stop.is_set():
                with engine.connect() as conn, conn.begin():
                    begin_write(conn)
                    n = self.written + 1
                    conn.execute(insert(contacts).values(
                        workspace_id=self.workspace.id, phone=f"{WRITER_PREFIX}{n:04d}",
                        country="PL", attributes={"n": n}, language="pl",
                        timezone="Europe/Warsaw", tags=[], created_at=self.now,
                        updated_at=self.now,
                    ))  # fmt: skip
                    conn.execute(
                        update(contacts)
                        .where(contacts.c.phone == COUNTER_PHONE)
                        .values(attributes={"written": n})
                    )
                self.written = n
                if n >= 5:
                    self.warmed_up.set()
        except BaseException as error:  # the test reports it
            self.error = error
            self.warmed_up.set()
        finally:
            engine.dispose()


@pytest.fixture
def writer(db_url: str, workspace: WorkspaceRef, now: datetime) -> Iterator[Writer]:
    thread = Writer(db_url, workspace, now)
    yield thread
    thread.stop.set()
    if thread.is_alive():
        thread.join()


def state_of(engine: Engine, campaign_id: int) -> dict[str, Any]:
    """What the round trip compares: contacts, the writer's count, the campaign and its texts."""
    with engine.connect() as conn:
        phones = set(conn.execute(select(contacts.c.phone)).scalars())
        counter = conn.execute(
            select(contacts.c.attributes).where(contacts.c.phone == COUNTER_PHONE)
        ).scalar_one()
        status = conn.execute(
            select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        ).scalar_one()
        texts = conn.execute(
            select(messages.c.phone, messages.c.status)
            .where(messages.c.campaign_id == campaign_id)
            .order_by(messages.c.id)
        ).all()
    return {"phones": phones, "written": dict(counter).get("written", 0), "status": status,
            "texts": [tuple(row) for row in texts]}  # fmt: skip


def assert_consistent(state: dict[str, Any]) -> None:
    """Every transaction of the writer is in whole or not at all."""
    by_writer = sorted(p for p in state["phones"] if p.startswith(WRITER_PREFIX))
    assert by_writer == [f"{WRITER_PREFIX}{n:04d}" for n in range(1, state["written"] + 1)]


def test_a_backup_taken_while_a_campaign_runs_and_rows_change_restores_it(
    cli: Run, db_url: str, engine: Engine, writer: Writer, tmp_path: Path
) -> None:
    campaign_id = start_campaign(cli, tmp_path)
    writer.start()
    assert writer.warmed_up.wait(60), "the writer never committed"
    assert writer.error is None, writer.error
    before = state_of(engine, campaign_id)  # all committed before the backup starts
    backup = tmp_path / "backups" / "smscast.backup"
    backup.parent.mkdir()

    said = cli("db", "backup", str(backup))

    writer.stop.set()
    writer.join()
    assert writer.error is None, writer.error
    ok(said)
    assert f"to {backup} (" in one_line(said)
    assert "schema revision" in said.output
    assert [p.name for p in backup.parent.iterdir()] == [backup.name]  # no partial file left
    sqlite = make_url(db_url).get_backend_name() == "sqlite"
    if sqlite:
        assert "1 campaign, 30 messages" in one_line(said)
        backed_up = open_backup(backup, campaign_id)
        assert backed_up["phones"] >= before["phones"]
        assert backed_up["texts"] == before["texts"]
        assert backed_up["status"] == "running"
        assert_consistent(backed_up)
    # The database moves on: the writer added rows since, and the campaign is paused.
    ok(cli("campaigns", "pause", str(campaign_id)))
    moved_on = state_of(engine, campaign_id)
    assert moved_on["status"] == "paused" and moved_on["written"] == writer.written

    restored = cli("db", "restore", str(backup))

    ok(restored)
    assert f"from {backup} (" in one_line(restored) and "db upgrade" not in restored.output
    after = state_of(engine, campaign_id)  # read through a connection open before the restore
    assert after["status"] == "running"
    assert after["texts"] == before["texts"]
    assert before["phones"] <= after["phones"] <= moved_on["phones"]
    assert_consistent(after)
    if sqlite:
        assert after == backed_up


def open_backup(path: Path, campaign_id: int) -> dict[str, Any]:
    """The backup opened on its own, as a database: checked whole, then read."""
    with sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # one file
    copy = create_db_engine(f"sqlite:///{path}")
    try:
        return state_of(copy, campaign_id)
    finally:
        copy.dispose()


def test_a_backup_does_not_overwrite_a_file_unless_forced(cli: Run, tmp_path: Path) -> None:
    target = tmp_path / "kept.backup"
    target.write_bytes(b"last week's backup")

    refused = cli("db", "backup", str(target))

    assert refused.exit_code == 1
    assert f"{target} exists: pass --force to overwrite it" in one_line(refused)
    assert target.read_bytes() == b"last week's backup"
    ok(cli("db", "backup", str(target), "--force"))
    assert target.read_bytes() != b"last week's backup"


def test_a_restore_is_refused_while_a_worker_holds_a_connector(
    cli: Run, engine: Engine, workspace: WorkspaceRef, now: datetime, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    backup = tmp_path / "before.backup"
    ok(cli("db", "backup", str(backup)))
    connector = add_connector(
        engine, workspace, name="carrier", kind="smpp",
        settings={"host": "127.0.0.1", "port": 2775, "system_id": "smscast"},
        rate_per_s=10.0, window=10, actor="test", now=now,
    )  # fmt: skip
    with engine.begin() as conn:
        assert take_lease(conn, connector.id, "worker-7@host-b", now, 30.0)
    monkeypatch.setattr(db_cli, "now", lambda: now)  # the restore looks at the lease then

    refused = cli("db", "restore", str(backup))

    assert refused.exit_code == 1
    said = one_line(refused)
    assert "workers are running on this database: worker-7@host-b holds carrier (sending)" in said
    assert "Stop `smscast serve` and every `smscast worker` first" in said
    assert "--force" in said
    with engine.connect() as conn:  # nothing was restored
        assert conn.execute(select(func.count()).select_from(contacts)).scalar() == 0
        assert conn.execute(select(campaigns.c.id)).first() is None
        assert conn.exec_driver_sql("SELECT name FROM connectors").scalars().all() == ["carrier"]
    ok(cli("db", "restore", str(backup), "--force"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT name FROM connectors").scalars().all() == []


@pytest.mark.sqlite_only
def test_a_restore_refuses_a_file_that_is_not_a_backup(cli: Run, tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database", "utf-8")
    refused = cli("db", "restore", str(notes))
    assert refused.exit_code == 1
    assert f"{notes} is not a SQLite database" in one_line(refused)
    missing = cli("db", "restore", str(tmp_path / "nowhere.backup"))
    assert missing.exit_code == 1 and "no backup file at" in missing.output


def test_without_pg_dump_the_error_names_the_package_and_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "postgresql+psycopg://smscast:s3cret@db.internal:5432/smscast"
    monkeypatch.setenv("SMSCAST_DATABASE_URL", url)
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH where no pg_dump is
    target = tmp_path / "smscast.dump"

    refused = runner.invoke(app, ["db", "backup", str(target)])

    assert refused.exit_code == 1
    said = one_line(refused)
    assert "pg_dump is not installed: install Debian's postgresql-client package" in said
    assert ("PGPASSWORD=<the database password> pg_dump --format=custom "
            f"--file={target} --dbname=postgresql://smscast@db.internal:5432/smscast") in said
    assert "s3cret" not in said
    assert not target.exists()


@pytest.mark.sqlite_only
def test_a_restored_older_backup_says_to_upgrade(cli: Run, tmp_path: Path) -> None:
    backup = tmp_path / "old.backup"
    ok(cli("db", "backup", str(backup)))
    with sqlite3.connect(backup) as db:  # as a backup taken before the newest migrations
        db.execute("UPDATE alembic_version SET version_num = '0011'")

    restored = cli("db", "restore", str(backup))

    ok(restored)
    said = one_line(restored)
    assert "schema revision 0011" in said
    assert "the database schema is at revision 0011, this version needs" in said
    assert said.endswith("run `smscast db upgrade`")
