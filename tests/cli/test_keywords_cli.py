"""`smscast keywords` as an operator types it: rules show their number, actions count from 1."""

from __future__ import annotations

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
    assert run("workspace", "create", "Shop", "--country", "PL",
               "--timezone", "Europe/Warsaw")[0] == 0  # fmt: skip
    assert run("numbers", "add", "+48500100200")[0] == 0
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def test_keywords_list_names_the_number_not_its_id(cli_env: Path) -> None:
    code, out = run("keywords", "add", "PIZZA", "--number", "+48500100200", "--reply", "Yum",
                    "--actions", '[{"type": "tag", "name": "pizza"}]')  # fmt: skip
    assert code == 0, out
    code, out = run("keywords", "list")
    assert code == 0, out
    assert "+48500100200" in out and "pizza" in out and "reply, tag" in out
    assert "number #" not in out


def test_actions_errors_count_from_one_as_the_help_does(cli_env: Path) -> None:
    code, out = run("keywords", "add", "PIZZA", "--number", "+48500100200", "--reply", "Yum",
                    "--actions", '[{"type": "tag", "name": "pizza"}, {"type": "hug"}]')  # fmt: skip
    assert code == 1
    assert '--actions[2].type: "hug" is not an action' in out
    code, out = run("keywords", "add", "PIZZA", "--number", "+48500100200",
                    "--actions", '[{"type": "tag"}]')  # fmt: skip
    assert code == 1 and "--actions[1].name: a tag action needs a name" in out
    assert run("keywords", "list")[1].strip() == ""


def test_actions_format_is_in_the_help(cli_env: Path) -> None:
    code, out = run("keywords", "add", "--help")
    flat = " ".join(out.replace("│", " ").split())
    assert code == 0
    assert '[{"type": "tag", "name": "pizza"}, {"type": "opt_in"}]' in flat
    assert "action 1 is the first" in flat
    for kind in ("reply", "set_attribute", "opt_out", "double_opt_in", "webhook", "ticket"):
        assert kind in flat
