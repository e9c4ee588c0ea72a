"""What a campaign owner reads off a campaign: who replied, which A/B variant won, and
how later runs of a recurring A/B test are sent."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from campaign_data import add_contact
from mo_harness import LONG, setup_numbers
from sqlalchemy import Engine, insert, select, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.ab import variant_rates
from smscast.engine.campaigns import ABTest, CampaignDraft, create_campaign
from smscast.engine.inbound import handle_inbound
from smscast.engine.launch import launch_campaign, launch_due_campaigns
from smscast.engine.segments import count_segment
from smscast.engine.stats import campaign_report
from smscast.engine.workspaces import WorkspaceRef
from smscast.store.campaign_models import Click
from smscast.store.messaging_models import Campaign, CampaignVariant, Message
from smscast.store.models import table_of

messages = table_of(Message)
variants = table_of(CampaignVariant)
campaigns = table_of(Campaign)


def mark_sent(engine: Engine, campaign_id: int, at: datetime) -> list[Any]:
    """The campaign's texts as the dispatcher and the carrier leave them: delivered at `at`."""
    with engine.begin() as conn:
        conn.execute(update(messages).where(messages.c.campaign_id == campaign_id)
                     .values(status="delivered", sent_at=at, done_at=at))  # fmt: skip
        return list(conn.execute(
            select(messages.c.id, messages.c.contact_id, messages.c.phone, messages.c.body)
            .where(messages.c.campaign_id == campaign_id).order_by(messages.c.id)
        ))  # fmt: skip


def text_in(engine: Engine, settings: Settings, connector_id: int, phone: str, text: str,
            at: datetime) -> str:  # fmt: skip
    return handle_inbound(engine, settings, connector_id,
                          InboundMessage(phone, LONG, text, at)).route  # fmt: skip


def test_a_reply_makes_replied_match_and_a_stop_does_not(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    replier, stopper = "+48600100201", "+48600100202"
    for phone in (replier, stopper):
        add_contact(engine, workspace, phone, now)
    draft = CampaignDraft(name="Ask", body="Do you like it? Reply", from_number=LONG,
                          expects_reply=True)  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    mark_sent(engine, campaign_id, now)
    later = now + timedelta(minutes=30)
    assert text_in(engine, settings, connector_id, replier, "Love it", later) == "campaign_reply"
    assert text_in(engine, settings, connector_id, stopper, "STOP", later) == "opt_out"

    def members(expression: str) -> int:
        return int(count_segment(engine, workspace, expression, later)["count"])

    assert members(f"replied({campaign_id})") == 1
    assert members('replied("Ask")') == 1
    assert members("replied()") == 1
    assert members(f"not replied({campaign_id})") == 1
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["replies"], report["opt_outs"]) == (1, 1)


def test_the_ab_reply_metric_counts_replies_not_stop(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    connector_id, _, _ = setup_numbers(engine, workspace, now)
    for i in range(40):
        add_contact(engine, workspace, f"+486001003{i:02d}", now)
    draft = CampaignDraft(name="AB", body="Variant A, reply", variants=(("B", "Variant B, reply"),),
                          from_number=LONG, expects_reply=True,
                          ab_test=ABTest(50, "reply", timedelta(hours=2)))  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                    rng=random.Random(1))  # fmt: skip
    sample = mark_sent(engine, campaign_id, now)
    to_a = [row for row in sample if row.body.startswith("Variant A")]
    to_b = [row for row in sample if row.body.startswith("Variant B")]
    later = now + timedelta(minutes=30)
    text_in(engine, settings, connector_id, to_a[0].phone, "STOP", later)
    text_in(engine, settings, connector_id, to_a[1].phone, "HELP", later)
    text_in(engine, settings, connector_id, to_b[0].phone, "Yes, tell me more", later)
    with engine.connect() as conn:
        campaign = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).one()
        rates = variant_rates(conn, campaign, "reply")
        ids = dict(conn.execute(select(variants.c.name, variants.c.id)).all())
    assert rates == {ids["A"]: (0, len(to_a)), ids["B"]: (1, len(to_b))}
    assert launch_due_campaigns(engine, settings, now + timedelta(hours=2)) == [campaign_id]
    with engine.connect() as conn:
        winner = conn.execute(select(variants.c.name).where(variants.c.is_winner)).scalar()
    assert winner == "B"


def test_runs_after_the_ab_winner_go_to_the_whole_segment_with_the_winner(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    for i in range(40):
        add_contact(engine, workspace, f"+486001003{i:02d}", now)
    draft = CampaignDraft(name="Weekly AB", body="Variant A", variants=(("B", "Variant B"),),
                          cron="0 12 * * WED", ab_test=ABTest(50, "click", timedelta(hours=2)))
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    first = now.replace(hour=11)  # Wednesday 25 Nov 2026, 12:00 in Warsaw
    assert launch_due_campaigns(engine, settings, first, random.Random(1)) == [campaign_id]
    sample = mark_sent(engine, campaign_id, first)
    assert 5 < len(sample) < 35
    clicked = next(row for row in sample if row.body == "Variant B")
    with engine.begin() as conn:
        conn.execute(insert(table_of(Click)).values(
            message_id=clicked.id, campaign_id=campaign_id, contact_id=clicked.contact_id,
            at=first))  # fmt: skip
    decided = first + timedelta(hours=2)
    assert launch_due_campaigns(engine, settings, decided, random.Random(2)) == [campaign_id]
    assert len(mark_sent(engine, campaign_id, decided)) == 40
    launch_due_campaigns(engine, settings, decided + timedelta(minutes=1))
    for week in (1, 2):
        run_at = first + timedelta(days=7 * week)
        assert launch_due_campaigns(engine, settings, run_at, random.Random(3)) == [campaign_id]
        with engine.connect() as conn:
            bodies = conn.execute(select(messages.c.body).where(
                messages.c.campaign_id == campaign_id, messages.c.run == week)).scalars().all()
        assert sorted(bodies) == ["Variant B"] * 40, f"run {week}"
        mark_sent(engine, campaign_id, run_at)
        launch_due_campaigns(engine, settings, run_at + timedelta(minutes=1))
