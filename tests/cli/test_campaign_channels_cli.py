"""`smscast campaigns create … --channels whatsapp,sms` and the per-channel report."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from smscast.cli.app import app
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

runner = CliRunner()
campaigns = table_of(Campaign)
messages = table_of(Message)


@pytest.fixture
def cli(db_url, settings, workspace, monkeypatch, engine):
    monkeypatch.setenv("SMSCAST_DATABASE_URL", db_url)
    monkeypatch.setenv("SMSCAST_SECRET_KEY", "test-secret")
    monkeypatch.setenv("SMSCAST_DATA_DIR", str(settings.data_dir))

    def run(*args: str) -> object:
        return runner.invoke(app, list(args))

    for phone, channels in (("+48600100300", ("sms", "whatsapp")), ("+48600100301", ("sms",))):
        for channel in channels:
            opted = run("consent", "opt-in", phone, "--channel", channel, "--evidence", "form")
            assert opted.exit_code == 0, opted.output
    return run


def test_a_whatsapp_campaign_with_sms_fallback_from_the_command_line(cli, engine):
    created = cli("campaigns", "create", "--name", "Chain", "--segment", "",
                  "--body", "Hi {{ phone }}", "--channels", "whatsapp,sms",
                  "--fallback-after", "10m", "--template", "sale_day",
                  "--template-language", "pl", "--template-param", "{{ phone }}",
                  "--template-param", "-20%")  # fmt: skip
    assert created.exit_code == 0, created.output
    campaign_id = int(created.output.strip())
    with engine.connect() as conn:
        options = conn.execute(select(campaigns.c.options)
                               .where(campaigns.c.id == campaign_id)).scalar_one()  # fmt: skip
    assert (options["channels"], options["fallback_after_s"]) == (["whatsapp", "sms"], 600)
    assert options["content"] == {"whatsapp": {"template": "sale_day", "language": "pl",
                                               "params": ["{{ phone }}", "-20%"]}}  # fmt: skip

    preview = cli("campaigns", "preview", str(campaign_id))
    assert "first channel  whatsapp 1, sms 1" in preview.output, preview.output
    launched = json.loads(cli("campaigns", "launch", str(campaign_id), "--json").output)
    assert launched["queued"] == 2
    with engine.connect() as conn:
        sent = conn.execute(select(messages.c.phone, messages.c.channel, messages.c.payload)
                            .order_by(messages.c.phone)).all()  # fmt: skip
    assert [(r.phone, r.channel) for r in sent] == [("+48600100300", "whatsapp"),
                                                    ("+48600100301", "sms")]  # fmt: skip
    assert sent[0].payload["params"] == ["+48600100300", "-20%"]

    report = cli("campaigns", "report", str(campaign_id))
    assert report.exit_code == 0, report.output
    assert "fell back" in report.output
    lines = {line.split()[0]: line.split() for line in report.output.splitlines()
             if line.startswith("    whatsapp") or line.startswith("    sms")}  # fmt: skip
    assert lines["whatsapp"][:2] == ["whatsapp", "1"] and lines["sms"][:2] == ["sms", "1"]
    as_json = json.loads(cli("campaigns", "report", str(campaign_id), "--json").output)
    assert [c["channel"] for c in as_json["channels"]] == ["whatsapp", "sms"]


def test_email_content_from_flags_and_files(cli, engine, tmp_path):
    html = tmp_path / "mail.html"
    html.write_text("<h1>Hi {{ phone }}</h1>", encoding="utf-8")
    created = cli("campaigns", "create", "--name", "Mail", "--segment", "", "--body", "Hi",
                  "--channel", "email", "--subject", "News", "--html-file", str(html))  # fmt: skip
    assert created.exit_code == 0, created.output
    with engine.connect() as conn:
        options = conn.execute(select(campaigns.c.options)).scalar_one()
    assert options["content"] == {"email": {"subject": "News", "html": "<h1>Hi {{ phone }}</h1>"}}
    content = tmp_path / "content.json"
    content.write_text(json.dumps({"push": {"title": "Sale", "url": "https://shop.example"}}))
    from_file = cli("campaigns", "create", "--name", "Push", "--segment", "", "--body", "Hi",
                    "--channel", "push", "--content-file", str(content))  # fmt: skip
    assert from_file.exit_code == 0, from_file.output


def test_what_a_campaign_on_other_channels_cannot_go_without(cli):
    def refused(*flags: str) -> str:
        result = cli("campaigns", "create", "--name", "x", "--segment", "", "--body", "Hi",
                     *flags)  # fmt: skip
        assert result.exit_code == 1, result.output
        return str(result.output)

    assert "approved message template" in refused("--channel", "whatsapp")
    assert "needs a subject" in refused("--channel", "email")
    assert "second channel" in refused("--fallback-after", "10m")
    assert "not among" in refused("--subject", "News")
    assert "not a channel" in refused("--channels", "sms,fax")
    assert "--html-file" in refused("--channel", "email", "--subject", "S", "--html-file",
                                    "/nonexistent/mail.html")  # fmt: skip
