"""`smscast campaigns report` while a campaign has sent everything but its delivery
reports are still due: running, not completed, with how many reports it awaits."""

from __future__ import annotations

import json

from sqlalchemy import update
from typer.testing import CliRunner

from smscast.cli.app import app
from smscast.engine.campaigns.lifecycle import complete_finished_campaigns
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

runner = CliRunner()
messages = table_of(Message)
PHONES = ("+48600100200", "+48600100201")


def test_report_says_sending_finished_and_how_many_reports_are_awaited(
    db_url, settings, workspace, monkeypatch, engine, now
):
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_SECRET_KEY", "test-secret")
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(settings.data_dir))

    def cli(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    for phone in PHONES:
        cli("consent", "opt-in", phone, "--channel", "sms", "--evidence", "form")
    campaign_id = cli("campaigns", "create", "--name", "R", "--segment", "", "--body", "Hi",
                      "--purpose", "informational").strip()  # fmt: skip
    cli("campaigns", "launch", campaign_id)
    with engine.begin() as conn:  # handed to the carrier; no report yet
        conn.execute(update(messages).values(status="sent", sent_at=now))
    assert complete_finished_campaigns(engine, now) == []
    report = json.loads(cli("campaigns", "report", campaign_id, "--json"))
    assert (report["status"], report["sending_finished_at"], report["reports_awaited"]) == (
        "running", now.isoformat(), 2
    )  # fmt: skip
    shown = cli("campaigns", "report", campaign_id)
    assert f"finished sending at {now.isoformat()}" in shown
    assert "2 delivery reports awaited; it completes when every text is final" in shown
