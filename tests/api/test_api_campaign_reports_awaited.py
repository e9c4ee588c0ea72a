"""A campaign's report over the API while its delivery reports are due, and once they are in."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine, update

from smscast.engine.campaigns.lifecycle import complete_finished_campaigns
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)


def test_the_report_shows_sending_finished_and_reports_awaited_until_all_are_final(
    client: TestClient, engine: Engine, now: datetime
) -> None:
    for phone in ("+48601234567", "+48601234568"):
        opted = client.post("/api/v1/consent/opt-in", json={"phone": phone, "evidence": "form"})
        assert opted.status_code < 300, opted.text
    made = client.post("/api/v1/campaigns", json={"name": "Zima", "body": "Hi",
                                                  "purpose": "informational"})  # fmt: skip
    campaign_id = made.json()["id"]
    assert client.post(f"/api/v1/campaigns/{campaign_id}/launch").status_code == 200
    with engine.begin() as conn:
        conn.execute(update(messages).values(status="sent", sent_at=now))
    assert complete_finished_campaigns(engine, now) == []
    body = client.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert (body["status"], body["sending_finished_at"], body["reports_awaited"]) == (
        "running", now.isoformat(), 2
    )  # fmt: skip
    with engine.begin() as conn:
        conn.execute(update(messages).values(status="delivered", done_at=now))
    assert complete_finished_campaigns(engine, now + timedelta(minutes=1)) == [campaign_id]
    body = client.get(f"/api/v1/campaigns/{campaign_id}").json()
    assert (body["status"], body["sending_finished_at"], body["reports_awaited"]) == (
        "completed", now.isoformat(), 0
    )  # fmt: skip
