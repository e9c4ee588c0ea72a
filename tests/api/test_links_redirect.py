"""`GET /l/<token>`: a tap on a campaign link redirects and counts, preview bots apart."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).parent.parent / "engine"))
from campaign_data import add_contact

from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.stats import campaign_report
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

PHONE_BROWSER = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1"
BODY = "Sale {{ link('https://shop.example/a') }} and {{ link('https://shop.example/b') }}"


def launched(engine, settings, workspace, now):
    add_contact(engine, workspace, "+48600100200", now)
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="L", body=BODY),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                    rng=random.Random(5))  # fmt: skip
    messages = table_of(Message)
    with engine.begin() as conn:
        row = conn.execute(select(messages.c.id, messages.c.link_token, messages.c.body)).one()
        delivered = datetime.now(UTC) - timedelta(minutes=5)
        conn.execute(update(messages).values(status="delivered", done_at=delivered))
    return campaign_id, row


def test_a_person_is_redirected_and_counted_once_as_unique(app, engine, settings, workspace, now):
    campaign_id, message = launched(engine, settings, workspace, now)
    assert f"/l/{message.link_token} and " in message.body
    assert f"/l/{message.link_token}.2" in message.body
    client = TestClient(app)
    headers = {"User-Agent": PHONE_BROWSER}
    first = client.get(f"/l/{message.link_token}", headers=headers, follow_redirects=False)
    assert (first.status_code, first.headers["location"]) == (302, "https://shop.example/a")
    second = client.get(f"/l/{message.link_token}.2", headers=headers, follow_redirects=False)
    assert (second.status_code, second.headers["location"]) == (302, "https://shop.example/b")
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["clicks"], report["unique_clicks"], report["bot_clicks"]) == (2, 1, 0)


def test_preview_bots_are_counted_apart_and_unknown_links_answer_404(app, engine, settings,
                                                                     workspace, now):  # fmt: skip
    campaign_id, message = launched(engine, settings, workspace, now)
    client = TestClient(app)
    bot = client.get(f"/l/{message.link_token}", follow_redirects=False,
                     headers={"User-Agent": "facebookexternalhit/1.1"})  # fmt: skip
    assert bot.status_code == 302
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["clicks"], report["bot_clicks"]) == (0, 1)
    for path in ("/l/doesnotexist", "/l/AAAAAAAAAAAA", f"/l/{message.link_token}.9"):
        assert client.get(path, follow_redirects=False).status_code == 404
    assert campaign_report(engine, workspace.id, campaign_id)["bot_clicks"] == 1
