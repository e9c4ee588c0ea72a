"""`smscast segments`, `coupons` and `campaigns` as a marketer types them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from smscast.cli.app import app

runner = CliRunner()


@pytest.fixture
def cli(db_url, settings, workspace, monkeypatch, engine):
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_SECRET_KEY", "test-secret")
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> object:
        return runner.invoke(app, list(args))

    for phone in ("+48600100200", "+48600100201"):
        opted = run("consent", "opt-in", phone, "--channel", "sms", "--evidence", "form")
        assert opted.exit_code == 0, opted.output
    return run


def test_create_launch_pause_report(cli):
    counted = cli("segments", "count", 'country = "PL"', "--json")
    assert json.loads(counted.output)["count"] == 2
    assert cli("coupons", "generate", "bf", "--count", "5").exit_code == 0
    created = cli("campaigns", "create", "--name", "BF", "--segment", 'country = "PL"',
                  "--body", "Code {{ coupon }} {{ link('https://shop.example') }}",
                  "--coupon-pool", "bf", "--spread", "2h", "--validity", "48h")
    assert created.exit_code == 0, created.output
    campaign_id = created.output.strip()
    launched = cli("campaigns", "launch", campaign_id, "--json")
    assert json.loads(launched.output)["queued"] == 2
    assert "paused" in cli("campaigns", "pause", campaign_id).output
    report = json.loads(cli("campaigns", "report", campaign_id, "--json").output)
    assert (report["status"], report["targeted"], report["queued"]) == ("paused", 2, 2)
    assert "2 given" in cli("coupons", "list").output


def test_bad_input_exits_non_zero_with_the_reason(cli):
    bad = cli("segments", "count", 'country = "PL" and\n plan ~ 1')
    assert bad.exit_code == 1 and "line 2, column 7" in bad.output
    past = cli("campaigns", "create", "--name", "x", "--segment", "", "--body", "Hi",
               "--at", "2020-01-01T10:00")
    assert past.exit_code == 1 and "in the past" in past.output
    split = cli("campaigns", "create", "--name", "x", "--segment", "", "--body", "Hi",
                "--variant", "B=Yo", "--split", "50,40")
    assert split.exit_code == 1 and "adding up to 100" in split.output
    assert "no campaign with id 99" in cli("campaigns", "report", "99").output


def test_the_report_says_what_smart_encoding_changed(cli):
    body = ("Hi — it’s our sale day, every coat and every scarf is half price until Sunday, "
            "so come early.")  # fmt: skip
    created = cli("campaigns", "create", "--name", "S", "--segment", 'country = "PL"',
                  "--body", body, "--smart-encoding", "--purpose", "informational")
    assert created.exit_code == 0, created.output
    campaign_id = created.output.strip()
    assert cli("campaigns", "launch", campaign_id).exit_code == 0
    report = json.loads(cli("campaigns", "report", campaign_id, "--json").output)
    assert report["smart_encoding"] == {"changed": 2, "characters": {"—": "-", "’": "'"}}
    shown = cli("campaigns", "report", campaign_id).output
    assert "smart encoding changed 2 texts: — → -, ’ → '" in shown
