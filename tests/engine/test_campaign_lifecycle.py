"""Campaign states as the marketer and the scheduler move them: pause, resume, cancel, finish."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from campaign_data import add_contact
from sqlalchemy import insert, select, update

from smscast.core.errors import UserError
from smscast.engine.campaigns import (
    ABTest,
    CampaignDraft,
    change_status,
    complete_finished_campaigns,
    create_campaign,
)
from smscast.engine.launch import launch_campaign, launch_due_campaigns
from smscast.engine.stats import campaign_report
from smscast.store.campaign_models import Click
from smscast.store.messaging_models import Campaign, CampaignVariant, Message
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)


def status_of(engine, campaign_id):
    with engine.connect() as conn:
        query = select(campaigns.c.status).where(campaigns.c.id == campaign_id)
        return conn.execute(query).scalar()


def statuses(engine, campaign_id):
    with engine.connect() as conn:
        rows = conn.execute(select(messages.c.status).where(messages.c.campaign_id == campaign_id))
        return sorted(rows.scalars())


def deliver_all(engine, campaign_id):
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.campaign_id == campaign_id)
                     .values(status="delivered"))  # fmt: skip


@pytest.fixture
def three(engine, workspace, now):
    return [add_contact(engine, workspace, f"+4860010020{i}", now, first_name="A")
            for i in range(3)]  # fmt: skip


def test_pause_resume_cancel_and_complete(engine, settings, workspace, now, three):
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    with pytest.raises(UserError, match="is draft; pause works on running, scheduled"):
        change_status(engine, workspace, campaign_id, "pause", actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    assert status_of(engine, campaign_id) == "running"
    change_status(engine, workspace, campaign_id, "pause", actor="t", now=now)
    assert status_of(engine, campaign_id) == "paused"
    assert complete_finished_campaigns(engine, now) == []
    change_status(engine, workspace, campaign_id, "resume", actor="t", now=now)
    assert complete_finished_campaigns(engine, now) == []  # three messages still queued
    deliver_all(engine, campaign_id)
    assert complete_finished_campaigns(engine, now) == [campaign_id]
    assert status_of(engine, campaign_id) == "completed"


def test_cancel_stops_every_queued_message_at_once(engine, settings, workspace, now, three):
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    result = change_status(engine, workspace, campaign_id, "cancel", actor="t", now=now)
    assert result["cancelled_messages"] == 3
    assert statuses(engine, campaign_id) == ["cancelled"] * 3
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["status"], report["queued"], report["cancelled"]) == ("cancelled", 0, 3)
    with pytest.raises(UserError, match="is cancelled"):
        change_status(engine, workspace, campaign_id, "resume", actor="t", now=now)


def test_a_campaign_at_a_later_time_is_launched_by_the_scheduler(engine, settings, workspace,
                                                                  now, three):  # fmt: skip
    at = now + timedelta(hours=3)
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="L", body="Hi", at=at),
                                  actor="t", now=now)  # fmt: skip
    assert launch_campaign(engine, settings, workspace, campaign_id, actor="t",
                           now=now)["status"] == "scheduled"  # fmt: skip
    assert launch_due_campaigns(engine, settings, now + timedelta(hours=1)) == []
    assert statuses(engine, campaign_id) == []
    assert launch_due_campaigns(engine, settings, at) == [campaign_id]
    assert statuses(engine, campaign_id) == ["queued"] * 3
    with engine.connect() as conn:
        send_after = conn.execute(select(messages.c.send_after)).scalars().all()
    assert set(send_after) == {at}


def test_a_recurring_campaign_runs_again_on_its_cron(engine, settings, workspace, now, three):
    draft = CampaignDraft(name="Weekly", body="Hi", cron="0 12 * * WED")
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    result = launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    first = now.replace(hour=11)  # Wednesday 25 Nov 2026, 12:00 in Warsaw
    assert result == {"id": campaign_id, "status": "scheduled", "next_run_at": first.isoformat()}
    launch_due_campaigns(engine, settings, first)
    deliver_all(engine, campaign_id)
    launch_due_campaigns(engine, settings, first + timedelta(minutes=1))
    assert status_of(engine, campaign_id) == "scheduled"
    following = first + timedelta(days=7)
    launch_due_campaigns(engine, settings, following)
    with engine.connect() as conn:
        runs = conn.execute(select(messages.c.run, messages.c.contact_id)
                            .where(messages.c.campaign_id == campaign_id)).all()  # fmt: skip
    assert sorted(run for run, _ in runs) == [0, 0, 0, 1, 1, 1]


def test_ab_test_sends_the_winner_to_everyone_else(engine, settings, workspace, now):
    for i in range(40):
        add_contact(engine, workspace, f"+486001003{i:02d}", now)
    draft = CampaignDraft(name="AB", body="Variant A", variants=(("B", "Variant B"),),
                          ab_test=ABTest(50, "click", timedelta(hours=2)))  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    first = launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                            rng=random.Random(3))  # fmt: skip
    assert 5 < first["queued"] < 35
    with engine.begin() as conn:
        sample = conn.execute(select(messages.c.id, messages.c.body, messages.c.contact_id)).all()
        assert {body for _, body, _ in sample} == {"Variant A", "Variant B"}
        clicked = next(row for row in sample if row.body == "Variant B")
        conn.execute(insert(table_of(Click)).values(
            message_id=clicked.id, campaign_id=campaign_id, contact_id=clicked.contact_id,
            at=now))  # fmt: skip
    assert launch_due_campaigns(engine, settings, now + timedelta(hours=1)) == []
    assert launch_due_campaigns(engine, settings, now + timedelta(hours=2)) == [campaign_id]
    with engine.connect() as conn:
        bodies = conn.execute(select(messages.c.body)).scalars().all()
        winner = conn.execute(select(table_of(CampaignVariant).c.name)
                              .where(table_of(CampaignVariant).c.is_winner)).scalar()  # fmt: skip
    assert winner == "B"
    assert len(bodies) == 40
    assert bodies.count("Variant B") == 40 - sum(1 for _, b, _ in sample if b == "Variant A")
