"""What a campaign owner reads off a campaign: who replied, which A/B variant won, and
how later runs of a recurring A/B test are sent."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from campaign_data import add_contact, add_pool
from mo_harness import LONG, setup_numbers
from sqlalchemy import Engine, insert, select, update

from smscast.channels.base import InboundMessage
from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.ab import variant_rates
from smscast.engine.campaigns.launch import launch_campaign, launch_due_campaigns
from smscast.engine.campaigns.lifecycle import ABTest, CampaignDraft, create_campaign
from smscast.engine.campaigns.preview import preview_campaign
from smscast.engine.campaigns.segments import count_segment
from smscast.engine.inbound.receive import handle_inbound
from smscast.engine.stats import bump_campaign_stats, campaign_report
from smscast.store.campaign_models import Click, Coupon
from smscast.store.messaging_models import Campaign, CampaignVariant, Message
from smscast.store.models import Workspace, table_of

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


def priced(engine: Engine, workspace: WorkspaceRef, part_price: float) -> WorkspaceRef:
    """The workspace with a price per part, as `smscast workspace settings` sets it."""
    settings = {**workspace.settings, "part_price": part_price}
    with engine.begin() as conn:
        conn.execute(update(table_of(Workspace)).where(table_of(Workspace).c.id == workspace.id)
                     .values(settings=settings))  # fmt: skip
    return replace(workspace, settings=settings)


def test_preview_counts_recipients_exclusions_parts_by_encoding_and_cost_as_launch_writes(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    workspace = priced(engine, workspace, 0.05)
    add_contact(engine, workspace, "+48600100200", now, first_name="Ala")
    add_contact(engine, workspace, "+48600100201", now, first_name="Łucja")  # Ł: UCS-2
    add_contact(engine, workspace, "+48600100202", now, first_name="Ola", consent="opted_out")
    add_contact(engine, workspace, "+48600100203", now, first_name="Ewa", consent=None)
    add_contact(engine, workspace, "+48600100204", now)  # no first name, no default
    draft = CampaignDraft(name="Shoes", body="Hi {{ first_name }}, shoes -20% today")
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    preview = preview_campaign(engine, settings, workspace, campaign_id, now)
    assert (preview["targeted"], preview["recipients"]) == (5, 2)
    assert {k: v for k, v in preview["excluded"].items() if v} == {
        "opted_out": 1, "no_consent": 1, "missing_value": 1}
    assert preview["excluded_total"] == 3
    assert preview["encodings"] == {"GSM-7": {"messages": 1, "parts": 1},
                                    "UCS-2": {"messages": 1, "parts": 1}}  # fmt: skip
    assert (preview["parts"], preview["part_price"], preview["cost"]) == (2, 0.05, 0.1)
    assert "+48600100204" in preview["problems"][0]
    with engine.connect() as conn:  # nothing was written
        assert conn.execute(select(messages.c.id)).first() is None
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    with engine.connect() as conn:
        written = conn.execute(select(messages.c.encoding, messages.c.parts)).all()
    assert sorted(written) == [("GSM-7", 1), ("UCS-2", 1)]
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["excluded"] == preview["excluded"]


def test_preview_of_a_coupon_campaign_reads_codes_without_claiming_them(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    for i in range(3):
        add_contact(engine, workspace, f"+4860010020{i}", now)
    add_pool(engine, workspace, "bf", ["ALPHA-2026-LONG-CODE-WITH-MANY-LETTERS", "B"], now)
    draft = CampaignDraft(name="BF", body="Black Friday! " + "x" * 120 + " {{ coupon }}",
                          coupon_pool="bf")  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    preview = preview_campaign(engine, settings, workspace, campaign_id, now)
    assert preview["recipients"] == 3 and preview["coupons_missing"] == 1
    assert preview["most_parts"] == 2  # the long code takes a second part
    with engine.connect() as conn:
        given = conn.execute(select(table_of(Coupon).c.allocated_at)).scalars().all()
    assert given == [None, None]


def test_report_gives_each_rate_with_numerator_and_denominator(
    engine: Engine, workspace: WorkspaceRef, now: datetime
) -> None:
    draft = CampaignDraft(name="Rates", body="Hi")
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    empty = campaign_report(engine, workspace.id, campaign_id)["rates"]
    assert empty["delivery"] == {"value": None, "numerator": 0, "denominator": 0}
    with engine.begin() as conn:
        bump_campaign_stats(conn, campaign_id, now, sent=8, delivered=6, unique_clicks=3,
                            clicks=5, replies=2, opt_outs=1, parts=10, cost=0.5)  # fmt: skip
    report = campaign_report(engine, workspace.id, campaign_id)
    assert report["rates"] == {
        "delivery": {"value": 0.75, "numerator": 6, "denominator": 8},
        "click_through": {"value": 0.5, "numerator": 3, "denominator": 6},
        "reply": {"value": 0.3333, "numerator": 2, "denominator": 6},
        "opt_out": {"value": 0.1667, "numerator": 1, "denominator": 6},
        "redemption": {"value": 0.0, "numerator": 0, "denominator": 6},
    }
    assert (report["parts"], report["cost"]) == (10, 0.5)


def test_preview_counts_tracked_links_at_the_length_the_launch_writes(
    engine: Engine, settings: Settings, workspace: WorkspaceRef, now: datetime
) -> None:
    for i in range(3):
        add_contact(engine, workspace, f"+4860010020{i}", now)
    url = "https://shop.example/" + "winter-sale/" * 8  # far longer than its short link
    for filler in (110, 130):  # one text in one part, then in two
        body = "y" * filler + " {{ link('" + url + "') }}"
        draft = CampaignDraft(name=f"L{filler}", body=body, purpose="informational")
        campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
        preview = preview_campaign(engine, settings, workspace, campaign_id, now)
        launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
        with engine.connect() as conn:
            parts = conn.execute(select(messages.c.parts).where(
                messages.c.campaign_id == campaign_id)).scalars().all()
        assert preview["encodings"] == {"GSM-7": {"messages": 3, "parts": sum(parts)}}
        assert preview["most_parts"] == (1 if filler == 110 else 2)
