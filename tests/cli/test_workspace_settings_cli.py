"""`smscast workspace settings`: campaign rules shown, changed, and bad values refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from smscast.cli import app
from smscast.core.campaign_rules import rules_from_settings
from smscast.engine.accounts.workspaces import resolve_workspace

runner = CliRunner()


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(tmp_path / "var"))


def test_rules_are_changed_for_launch_and_dispatch(cli_env: None, engine, workspace) -> None:
    result = runner.invoke(app, ["workspace", "settings", "--json"])
    assert json.loads(result.output)["frequency_cap_limit"] == 2
    result = runner.invoke(
        app,
        ["workspace", "settings", "--set", "frequency_cap_limit=3",
         "--set", 'quiet_hours={"start": "22:00", "end": "07:30"}'],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rules = rules_from_settings(resolve_workspace(conn, None).settings)
    assert rules.cap.limit == 3
    assert rules.quiet.start.strftime("%H:%M") == "22:00"


def test_bad_settings_are_refused_and_nothing_is_saved(cli_env: None, engine, workspace) -> None:
    result = runner.invoke(app, ["workspace", "settings", "--set", "quiet_hours=late"])
    assert result.exit_code == 1 and "quiet_hours" in result.output
    result = runner.invoke(app, ["workspace", "settings", "--set", "colour=blue"])
    assert result.exit_code == 1 and '"colour=blue" is not KEY=VALUE' in result.output
    with engine.connect() as conn:
        assert resolve_workspace(conn, None).settings == {}


def test_quiet_hours_off_is_stored_and_shown_and_null_is_refused(
    cli_env: None, engine, workspace
) -> None:
    result = runner.invoke(app, ["workspace", "settings", "--set", "quiet_hours=off", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["quiet_hours"] == "off"
    with engine.connect() as conn:
        stored = resolve_workspace(conn, None).settings
    assert stored == {"quiet_hours": "off"}
    assert not rules_from_settings(stored).quiet.enabled
    for empty in ("null", ""):
        refused = runner.invoke(app, ["workspace", "settings", "--set", f"quiet_hours={empty}"])
        assert refused.exit_code == 1
        assert "quiet_hours cannot be empty" in " ".join(refused.output.split())
    with engine.connect() as conn:
        assert resolve_workspace(conn, None).settings == {"quiet_hours": "off"}
