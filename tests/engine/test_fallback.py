"""Fallback along a campaign's chain: a message failed on WhatsApp goes out by SMS at
once, one not delivered by the deadline at the deadline, never twice, and everyone ends
with exactly one delivered message when the SMS carrier (the simulator) delivers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from channel_data import add_person, campaign_rows, launch
from outbound_helpers import ManualClock, add_sim_connector, wait_for
from sqlalchemy import select, update

from smscast.channels.simulator import SimulatorConfig, start_simulator
from smscast.engine.campaigns.channel_report import channel_figures
from smscast.engine.campaigns.fallback import fall_back_due
from smscast.engine.campaigns.lifecycle import (
    CampaignDraft,
    change_status,
    complete_finished_campaigns,
    create_campaign,
)
from smscast.engine.runtime import Runtime
from smscast.engine.stats import campaign_report
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
DELAY = timedelta(minutes=10)


def whatsapp_then_sms(engine, workspace, now, people):
    ids = [add_person(engine, workspace, f"+4860020{i:04d}", now, consent=("whatsapp", "sms"),
                      first_name=f"P{i}") for i in range(people)]  # fmt: skip
    draft = CampaignDraft(
        name="Chain", body="Hi {{ first_name }}", channels=("whatsapp", "sms"),
        fallback_after=DELAY, content={"whatsapp": {"template": "hello"}},
    )  # fmt: skip
    return ids, create_campaign(engine, workspace, draft, actor="t", now=now)


def provider_says(engine, contact_ids, status, at, **values):
    """What a WhatsApp provider's answer or status callback does to the first messages."""
    with engine.begin() as conn:
        conn.execute(
            update(messages)
            .where(messages.c.contact_id.in_(contact_ids), messages.c.chain_step == 0)
            .values(status=status, sent_at=at, **values)
        )


def by_contact(engine, campaign_id):
    found: dict[int, list] = {}
    for row in campaign_rows(engine, campaign_id):
        found.setdefault(row.contact_id, []).append(row)
    return found


def test_failed_falls_back_at_once_undelivered_at_the_deadline_and_never_twice(
    engine, settings, workspace, now
):
    (failed, late, delivered, queued, refused, backlog), campaign_id = whatsapp_then_sms(
        engine, workspace, now, 6
    )
    launch(engine, settings, workspace, campaign_id, now)
    provider_says(engine, [failed], "failed", now, error_code="not_on_whatsapp",
                  error="not a WhatsApp user")  # fmt: skip
    provider_says(engine, [late], "sent", now)
    provider_says(engine, [delivered], "delivered", now)
    provider_says(engine, [refused], "cancelled", None, error_code="no_consent")

    assert fall_back_due(engine, now + timedelta(seconds=1)) == 2
    assert fall_back_due(engine, now + timedelta(seconds=2)) == 0

    rows = by_contact(engine, campaign_id)
    assert [(r.channel, r.status) for r in rows[failed]] == [("whatsapp", "failed"),
                                                             ("sms", "queued")]  # fmt: skip
    assert rows[failed][0].error_code == "not_on_whatsapp"  # the reason stays
    sms = rows[failed][1]
    assert (sms.chain_step, sms.body, sms.fallback_at, sms.link_token) == (1, "Hi P0", None, None)
    assert sms.send_after == now + timedelta(seconds=1)
    assert [r.channel for r in rows[refused]] == ["whatsapp", "sms"]
    assert len(rows[late]) == 1 and len(rows[delivered]) == 1 and len(rows[queued]) == 1
    assert rows[delivered][0].fallback_at is None  # delivered: nothing left to wait for
    assert rows[late][0].fallback_at == now + DELAY

    provider_says(engine, [backlog], "sent", now + DELAY + timedelta(minutes=5))
    assert fall_back_due(engine, now + DELAY - timedelta(seconds=1)) == 0
    assert fall_back_due(engine, now + DELAY + timedelta(minutes=5)) == 1
    assert fall_back_due(engine, now + DELAY + timedelta(minutes=5)) == 0
    rows = by_contact(engine, campaign_id)
    first = rows[late][0]
    assert (first.status, first.error_code, first.fallback_at) == ("sent", "fell_back", None)
    assert [r.channel for r in rows[late]] == ["whatsapp", "sms"]
    assert len(rows[queued]) == 1  # still queued: it has not had its chance
    assert rows[queued][0].fallback_at == now + DELAY
    # sent 5 minutes after its deadline (a backlog): it gets its own full delay from then
    assert len(rows[backlog]) == 1
    assert rows[backlog][0].fallback_at == now + 2 * DELAY + timedelta(minutes=5)
    assert fall_back_due(engine, now + 2 * DELAY + timedelta(minutes=5)) == 1
    assert [r.channel for r in by_contact(engine, campaign_id)[backlog]] == ["whatsapp", "sms"]

    with engine.begin() as conn:  # a late report is still recorded
        conn.execute(update(messages).where(messages.c.id == first.id).values(status="delivered"))
    with engine.connect() as conn:
        figures = {f["channel"]: f for f in channel_figures(conn, campaign_id)}
    assert figures["whatsapp"]["fell_back"] == 4
    assert figures["whatsapp"]["delivered"] == 2 and figures["whatsapp"]["failed"] == 1
    assert figures["sms"]["messages"] == 4
    queued = campaign_report(engine, workspace.id, campaign_id)["queued"]
    assert queued == 6 + 4  # launched, and the fallbacks (statuses above were set by hand)


def test_a_campaign_with_fallbacks_due_is_not_complete_and_a_cancelled_one_never_falls_back(
    engine, settings, workspace, now
):
    (one, two), campaign_id = whatsapp_then_sms(engine, workspace, now, 2)
    launch(engine, settings, workspace, campaign_id, now)
    provider_says(engine, [one, two], "failed", now, error_code="x")
    assert complete_finished_campaigns(engine, now) == []  # the SMS has yet to go

    change_status(engine, workspace, campaign_id, "cancel", actor="t", now=now)
    assert fall_back_due(engine, now) == 0
    with engine.connect() as conn:
        waiting = conn.execute(select(messages.c.id).where(messages.c.fallback_at.is_not(None)))
        assert waiting.all() == []
    assert all(len(rows) == 1 for rows in by_contact(engine, campaign_id).values())


async def test_everyone_ends_with_exactly_one_delivered_message(engine, settings, workspace,
                                                               now):  # fmt: skip
    """Half the people are not on WhatsApp (the provider fails their message at once), the
    other half never get theirs delivered: SMS reaches all of them, once each."""
    sim = await start_simulator(SimulatorConfig(
        port=0, http_port=None, dlr_delay=0.05, delivered=1.0, undeliverable=0.0, expired=0.0,
        rejected=0.0, seed=7,
    ))  # fmt: skip
    add_sim_connector(engine, workspace, sim.port, now, window=20)
    ids, campaign_id = whatsapp_then_sms(engine, workspace, now, 40)
    launch(engine, settings, workspace, campaign_id, now)
    not_on_whatsapp, silent = ids[:20], ids[20:]
    provider_says(engine, not_on_whatsapp, "failed", now, error_code="not_on_whatsapp")
    provider_says(engine, silent, "sent", now)
    clock = ManualClock(now + timedelta(seconds=1))
    runtime = Runtime(engine, settings, worker="w1", clock=clock)
    running = asyncio.create_task(runtime.run())

    def delivered_sms() -> set[int]:
        with engine.connect() as conn:
            return set(
                conn.execute(
                    select(messages.c.contact_id).where(
                        messages.c.channel == "sms", messages.c.status == "delivered"
                    )
                ).scalars()
            )

    try:

        def failed_half_reached() -> bool:
            """the people not on WhatsApp get their SMS"""
            return delivered_sms() == set(not_on_whatsapp)

        await wait_for(failed_half_reached)
        clock.set(now + DELAY + timedelta(seconds=1))

        def everyone_reached() -> bool:
            """every person gets an SMS"""
            return delivered_sms() == set(ids)

        await wait_for(everyone_reached)
        await asyncio.sleep(1.5)  # a few more passes: nothing more may be written
    finally:
        runtime.stop()
        await running
        await sim.close()
    rows = by_contact(engine, campaign_id)
    assert all(len(found) == 2 for found in rows.values())
    assert all(sum(1 for r in found if r.status == "delivered") == 1 for found in rows.values())
    assert sim.stats.submits == 40
    received = sorted(s.destination_addr for s in sim.recent_submits)
    assert received == sorted(f"4860020{i:04d}" for i in range(40))
