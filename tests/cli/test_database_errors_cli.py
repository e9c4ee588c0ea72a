"""What the CLI says when the database fails: `db upgrade` is suggested only when it helps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from smscast.cli import app
from smscast.cli.context import _database_failure
from smscast.store.db import create_db_engine
from smscast.store.migrate import alembic_config, upgrade_database

runner = CliRunner()


@pytest.fixture
def sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "smscast.db"
    monkeypatch.setenv("SMSCAST_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    return path


def test_a_database_without_the_schema_gets_the_upgrade_hint(sqlite_file: Path) -> None:
    with sqlite3.connect(sqlite_file) as db:  # a file, but not one `db upgrade` made
        db.execute("CREATE TABLE notes (id INTEGER)")
    result = runner.invoke(app, ["contacts", "count"])
    assert result.exit_code == 1
    assert "no such table" in result.output
    assert "the database has no schema yet: run `smscast db upgrade`" in result.output


def test_an_old_schema_names_both_revisions(sqlite_file: Path) -> None:
    upgrade_database(f"sqlite:///{sqlite_file}")
    created = runner.invoke(app, ["workspace", "create", "Shop", "--country", "PL",
                                  "--timezone", "Europe/Warsaw"])  # fmt: skip
    assert created.exit_code == 0, created.output
    (sqlite_file.parent / "c.csv").write_text("phone\n+48600100200\n", encoding="utf-8")
    assert runner.invoke(app, ["contacts", "import", "c.csv"]).exit_code == 0
    with sqlite3.connect(sqlite_file) as db:  # as the database was before revision 0012
        db.execute("UPDATE alembic_version SET version_num = '0011'")
        db.execute("ALTER TABLE import_jobs DROP COLUMN failure")
    result = runner.invoke(app, ["contacts", "imports"])
    assert result.exit_code == 1
    scripts = ScriptDirectory.from_config(alembic_config(f"sqlite:///{sqlite_file}"))
    said = " ".join(result.output.split())
    assert f"schema is at revision 0011, this version needs {scripts.get_current_head()}" in said
    assert "smscast db upgrade" in result.output


def test_a_locked_current_database_is_not_told_to_upgrade(sqlite_file: Path) -> None:
    url = f"sqlite:///{sqlite_file}"
    upgrade_database(url)
    engine = create_db_engine(url)
    try:
        locked = OperationalError("INSERT …", {}, sqlite3.OperationalError("database is locked"))
        message = _database_failure(engine, locked)
        broken = OperationalError("SELECT …", {}, sqlite3.OperationalError("disk I/O error"))
        other = _database_failure(engine, broken)
    finally:
        engine.dispose()
    assert "database is locked" in message and "try again" in message
    assert "upgrade" not in message
    assert other.endswith("disk I/O error") and "upgrade" not in other
