"""A command run where there is no database says so, and only `db upgrade` creates one."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.cli import app

runner = CliRunner()


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with no database, the default (relative) database URL, no config file."""
    for name in ("SMSCAST_DATABASE_URL", "SMSCAST_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SMSCAST_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_commands_refuse_a_missing_database_naming_it_and_create_nothing(elsewhere: Path) -> None:
    expected = elsewhere / "var" / "smscast.db"
    for command in (["contacts", "count"], ["keywords", "list"], ["bootstrap"], ["serve"]):
        code, out = run(*command)
        flat = " ".join(out.split())
        assert code == 1, (command, out)
        assert f"no database at {expected}" in flat, (command, out)
        assert "smscast db upgrade" in flat and "SMSCAST_DATABASE_URL" in flat
    assert not (elsewhere / "var").exists()


def test_db_upgrade_creates_it_and_then_commands_work(elsewhere: Path) -> None:
    code, out = run("db", "upgrade")
    assert code == 0, out
    assert (elsewhere / "var" / "smscast.db").is_file()
    assert run("bootstrap")[0] == 0
    code, out = run("contacts", "count")
    assert code == 0 and "0 contacts" in out, out
