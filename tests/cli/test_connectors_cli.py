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


def test_connectors_set_changes_limits_and_refuses_emptying_the_secret(cli_env: Path) -> None:
    added = runner.invoke(
        app,
        ["connectors", "add", "infobip", "--kind", "infobip", "--setting",
         "base_url=https://api.example", "--setting", "api_key=k", "--setting",
         "webhook_secret=s3cret"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    emptied = runner.invoke(app, ["connectors", "set", "infobip", "--unset", "webhook_secret"])
    assert emptied.exit_code == 1 and "settings.webhook_secret" in emptied.output
    changed = runner.invoke(
        app,
        ["connectors", "set", "infobip", "--setting", "sender=Shop", "--rate", "5", "--disable",
         "--json"],
    )  # fmt: skip
    assert changed.exit_code == 0, changed.output
    assert "s3cret" not in changed.output
    listed = json.loads(runner.invoke(app, ["connectors", "list", "--json"]).output)
    assert (listed[0]["rate_per_s"], listed[0]["enabled"]) == (5.0, False)
    assert listed[0]["settings"]["sender"] == "Shop"
    assert listed[0]["settings"]["webhook_secret"] == "[redacted]"
    unknown = runner.invoke(app, ["connectors", "set", "nope", "--rate", "1"])
    assert unknown.exit_code == 1 and "no connector 'nope'" in unknown.output


def test_smscast_workspace_names_the_workspace_once_for_a_shell(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    second = runner.invoke(
        app, ["workspace", "create", "Bistro", "--country", "PL", "--timezone", "Europe/Warsaw"]
    )
    assert second.exit_code == 0, second.output
    unnamed = runner.invoke(app, ["connectors", "list", "--json"])
    assert unnamed.exit_code == 1 and "--workspace" in unnamed.output
    monkeypatch.setenv("SMSCAST_WORKSPACE", "Bistro")
    added = runner.invoke(
        app,
        ["connectors", "add", "bistro-smsc", "--host", "127.0.0.1", "--port", "2775",
         "--system-id", "bistro"],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = json.loads(runner.invoke(app, ["connectors", "list", "--json"]).output)
    assert [c["name"] for c in listed] == ["bistro-smsc"]
    shop = json.loads(runner.invoke(app, ["connectors", "list", "-w", "Shop", "--json"]).output)
    assert shop == []
