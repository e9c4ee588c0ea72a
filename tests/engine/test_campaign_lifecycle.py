"""Campaign states as the marketer and the scheduler move them: pause, resume, cancel, finish."""

from __future__ import annotations

import json
import random
from datetime import timedelta

import pytest
from campaign_data import add_contact
from outbound_helpers import add_sim_connector
from sqlalchemy import insert, select, update

from smscast.channels.base import DeliveryReport, ReportState, SubmitOutcome, SubmitResult
from smscast.core.errors import UserError
from smscast.engine.campaigns.launch import launch_campaign, launch_due_campaigns
from smscast.engine.campaigns.lifecycle import (
    ABTest,
    CampaignDraft,
    change_status,
    complete_finished_campaigns,
    create_campaign,
)
from smscast.engine.delivery.reports import apply_reports, expire_silent
from smscast.engine.sending.leases import take_lease
from smscast.engine.sending.outbox import RetryPolicy, claim_due, record_results
from smscast.engine.stats import campaign_report
from smscast.engine.tally import Tally
from smscast.engine.webhooks.endpoints import create_webhook
from smscast.store.api_models import WebhookDelivery
from smscast.store.campaign_models import Click
from smscast.store.messaging_models import Campaign, CampaignVariant, Message
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
webhook_deliveries = table_of(WebhookDelivery)


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


def test_a_campaign_completes_when_every_report_is_in_not_when_sending_ends(
    engine, settings, workspace, now, three
):
    """Sending everything is not the outcome: the campaign shows it has finished sending
    and how many reports it awaits, and completes - announcing `campaign.completed` with
    what arrived - only once every text is final."""
    connector = add_sim_connector(engine, workspace, 2775, now)
    hooks = settings.model_copy(update={"webhook_allow_private": True})
    create_webhook(engine, hooks, workspace, "http://127.0.0.1:9/hooks", ["campaign.completed"],
                   description="", actor="t", now=now)  # fmt: skip
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    with engine.begin() as conn:
        assert take_lease(conn, connector.id, "w1", now, 60)
        batch = claim_due(conn, connector_id=connector.id, worker="w1", now=now, limit=10,
                          validity=timedelta(hours=48))  # fmt: skip
        tally = Tally()
        record_results(conn, connector_id=connector.id, worker="w1",
                       claimed={m.id: m for m in batch}, now=now, retry=RetryPolicy(),
                       results=[SubmitResult(m.id, SubmitOutcome.ACCEPTED, (f"c{m.id}",))
                                for m in batch], tally=tally)  # fmt: skip
        tally.write(conn)
    sent_at = now + timedelta(seconds=1)
    assert complete_finished_campaigns(engine, sent_at) == []
    report = campaign_report(engine, workspace.id, campaign_id, now=sent_at)
    assert (report["status"], report["sent"], report["delivered"]) == ("running", 3, 0)
    assert (report["sending_finished_at"], report["reports_awaited"]) == (sent_at.isoformat(), 3)
    assert completed_events(engine) == []

    def report_in(carrier_id: str, state: ReportState, at) -> None:
        with engine.begin() as conn:
            apply_reports(conn, connector.id, [DeliveryReport(carrier_id, state)], at,
                          timedelta(hours=72))  # fmt: skip

    first, second, third = (f"c{m.id}" for m in batch)
    report_in(first, ReportState.DELIVERED, now + timedelta(minutes=1))
    report_in(second, ReportState.UNDELIVERED, now + timedelta(minutes=1))
    assert complete_finished_campaigns(engine, now + timedelta(minutes=2)) == []
    report = campaign_report(engine, workspace.id, campaign_id, now=now)
    assert (report["status"], report["reports_awaited"]) == ("running", 1)
    assert report["sending_finished_at"] == sent_at.isoformat()  # set once
    assert completed_events(engine) == []
    report_in(third, ReportState.DELIVERED, now + timedelta(minutes=3))
    done = now + timedelta(minutes=4)
    assert complete_finished_campaigns(engine, done) == [campaign_id]
    report = campaign_report(engine, workspace.id, campaign_id, now=done)
    assert (report["status"], report["reports_awaited"], report["delivered"]) == (
        "completed", 0, 2
    )  # fmt: skip
    [event] = completed_events(engine)
    assert {key: event[key] for key in ("campaign_id", "status", "sending_finished_at",
                                        "finished_at", "sent", "delivered", "undelivered")} == {
        "campaign_id": campaign_id, "status": "completed",
        "sending_finished_at": sent_at.isoformat(), "finished_at": done.isoformat(),
        "sent": 3, "delivered": 2, "undelivered": 1,
    }  # fmt: skip


def test_texts_that_never_get_a_report_expire_so_the_campaign_completes(
    engine, settings, workspace, now, three
):
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="C", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    with engine.begin() as conn:
        conn.execute(update(messages).values(status="sent", sent_at=now))
    assert complete_finished_campaigns(engine, now) == []
    later = now + timedelta(hours=72, minutes=1)
    with engine.begin() as conn:
        assert expire_silent(conn, later, timedelta(hours=72)) == 3
    assert complete_finished_campaigns(engine, later) == [campaign_id]
    report = campaign_report(engine, workspace.id, campaign_id, now=later)
    assert (report["status"], report["reports_awaited"], report["sending_finished_at"]) == (
        "completed", 0, now.isoformat()
    )  # fmt: skip


def completed_events(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.payload)
            .where(webhook_deliveries.c.event == "campaign.completed")
        ).all()  # fmt: skip
    return [(row.payload if isinstance(row.payload, dict) else json.loads(row.payload))["data"]
            for row in rows]  # fmt: skip
