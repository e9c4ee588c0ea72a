"""`smscast connectors add` refuses a carrier connection whose callbacks anyone could forge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.cli import app

runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.chdir(tmp_path)
    created = runner.invoke(
        app, ["workspace", "create", "Shop", "--country", "PL", "--timezone", "Europe/Warsaw"]
    )
    assert created.exit_code == 0, created.output
    return tmp_path


def test_a_twilio_connector_without_its_auth_token_is_refused(cli_env: Path) -> None:
    empty = runner.invoke(
        app,
        ["connectors", "add", "twilio", "--kind", "twilio", "--setting", "account_sid=AC1",
         "--setting", "auth_token="],
    )  # fmt: skip
    assert empty.exit_code == 1
    assert "settings.auth_token" in empty.output
    added = runner.invoke(
        app,
        ["connectors", "add", "twilio", "--kind", "twilio", "--setting", "account_sid=AC1",
         "--setting", "auth_token=0123abcd"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(app, ["connectors", "list", "--json"]).output)
    assert listed[0]["settings"] == {"account_sid": "AC1", "auth_token": "[redacted]"}
