"""Channels from the command line: importing email and WhatsApp with their consent,
`contacts show` listing every channel's address, and `consent opt-out --channel all`."""

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
    return tmp_path


def run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def promotional(shown: dict[str, list[dict[str, str]]]) -> dict[str, str]:
    return {s["channel"]: s["status"] for s in shown["consent"] if s["purpose"] == "promotional"}


def test_import_show_and_opt_out_of_everything(cli_env: Path) -> None:
    assert run("workspace", "create", "Shop", "--country", "PL", "--timezone",
               "Europe/Warsaw")[0] == 0  # fmt: skip
    source = cli_env / "list.csv"
    source.write_text("phone,email,whatsapp,consent,consent_email,consent_whatsapp\n"
                      "600100200,ala@example.com,601 234 567,tak,tak,tak\n", "utf-8")  # fmt: skip
    code, out = run("contacts", "import", str(source), "--consent-source", "form", "--json")
    assert code == 0, out

    code, out = run("contacts", "show", "+48600100200")
    assert code == 0, out
    assert "whatsapp    +48601234567" in out
    assert "email       ala@example.com" in out
    code, out = run("contacts", "show", "+48600100200", "--json")
    shown = json.loads(out)
    assert promotional(shown) == dict.fromkeys(("sms", "email", "whatsapp"), "opted_in")
    assert [a["channel"] for a in shown["channels"]["addresses"]] == [
        "sms", "email", "whatsapp", "voice",
    ]  # fmt: skip

    code, out = run("consent", "opt-out", "600100200", "--channel", "all",
                    "--evidence", "asked to stop everything")  # fmt: skip
    assert code == 0, out

    shown = json.loads(run("contacts", "show", "+48600100200", "--json")[1])
    assert promotional(shown) == dict.fromkeys(
        ("sms", "email", "whatsapp", "push", "voice"), "opted_out"
    )
    code, out = run("consent", "opt-in", "600100200", "--channel", "all", "--evidence", "x")
    assert code != 0
    code, out = run("consent", "opt-out", "600100200", "--channel", "fax")
    assert code != 0
