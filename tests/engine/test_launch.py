"""Launching into the outbox: who is excluded and why, texts, coupons, links, timing, resume."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from campaign_data import add_contact, add_pool
from sqlalchemy import func, insert, select, update

from smscast.core.errors import UserError
from smscast.engine.campaigns import materialise
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.stats import campaign_report
from smscast.store.campaign_models import Coupon
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import Workspace, table_of

messages = table_of(Message)
coupons = table_of(Coupon)
BODY = "Hi {{ first_name }}, code {{ coupon }} {{ link('https://shop.example/sale') }}"


def launch(engine, settings, workspace, campaign_id, now, seed=1):
    return launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                           rng=random.Random(seed))  # fmt: skip


def outbox(engine):
    with engine.connect() as conn:
        return conn.execute(select(messages).order_by(messages.c.contact_id)).all()


def with_settings(engine, workspace, **values):
    with engine.begin() as conn:
        conn.execute(update(table_of(Workspace)).where(table_of(Workspace).c.id == workspace.id)
                     .values(settings=values))  # fmt: skip
    return dataclasses.replace(workspace, settings=values)


def test_launch_excludes_by_reason_and_personalises_everyone_else(engine, settings, workspace,
                                                                   now):  # fmt: skip
    ok = [add_contact(engine, workspace, f"+4860010020{i}", now, first_name=f"Ola{i}")
          for i in range(3)]  # fmt: skip
    add_contact(engine, workspace, "+4812", now, first_name="Bad")
    add_contact(engine, workspace, "+48600100210", now, first_name="Out", consent="opted_out")
    add_contact(engine, workspace, "+48600100211", now, first_name="None", consent=None)
    add_contact(engine, workspace, "+48600100212", now)  # no first_name
    capped = add_contact(engine, workspace, "+48600100213", now, first_name="Busy")
    with engine.begin() as conn:
        for days in (1, 3):
            conn.execute(insert(messages).values(
                workspace_id=workspace.id, direction="out", kind="campaign",
                purpose="promotional", contact_id=capped, phone="+48600100213", body="x",
                status="delivered", created_at=now - timedelta(days=days)))  # fmt: skip
    add_pool(engine, workspace, "sale", [f"CODE{i}" for i in range(20)], now)
    campaign_id = create_campaign(
        engine, workspace, CampaignDraft(name="Sale", body=BODY, coupon_pool="sale"),
        actor="t", now=now,
    )  # fmt: skip

    result = launch(engine, settings, workspace, campaign_id, now)

    assert result["queued"] == 3
    assert result["excluded"] == {"invalid_number": 1, "opted_out": 1, "no_consent": 1,
                                  "missing_value": 1, "capped": 1}  # fmt: skip
    assert "no value for 'first_name'" in result["problems"][0]
    rows = [r for r in outbox(engine) if r.campaign_id == campaign_id]
    assert [r.contact_id for r in rows] == ok
    codes = [r.coupon_code for r in rows]
    tokens = [r.link_token for r in rows]
    assert len(set(codes)) == 3 and len(set(tokens)) == 3
    first = rows[0]
    assert first.body == (f"Hi Ola0, code {first.coupon_code} "
                          f"http://127.0.0.1:8000/l/{first.link_token}")  # fmt: skip
    assert (first.status, first.parts, first.encoding, first.send_after) == (
        "queued", 1, "GSM-7", now)
    with engine.connect() as conn:
        given = conn.execute(select(coupons.c.code).where(coupons.c.campaign_id == campaign_id))
        assert sorted(given.scalars()) == sorted(codes)
    report = campaign_report(engine, workspace.id, campaign_id)
    assert (report["targeted"], report["queued"], report["excluded_total"]) == (8, 3, 5)
    assert report["excluded"]["capped"] == 1


def test_an_exhausted_pool_refuses_the_launch_up_front(engine, settings, workspace, now):
    for i in range(5):
        add_contact(engine, workspace, f"+4860010020{i}", now, first_name="A")
    add_pool(engine, workspace, "small", ["ONE", "TWO"], now)
    campaign_id = create_campaign(
        engine, workspace, CampaignDraft(name="S", body=BODY, coupon_pool="small"),
        actor="t", now=now,
    )  # fmt: skip
    with pytest.raises(UserError, match="3 codes missing"):
        launch(engine, settings, workspace, campaign_id, now)
    assert outbox(engine) == []
    with engine.connect() as conn:
        status = conn.execute(select(table_of(Campaign).c.status)).scalar()
        assert status == "draft"
        assert conn.execute(select(func.count()).where(coupons.c.allocated_at.is_not(None))
                            ).scalar() == 0  # fmt: skip


def test_an_interrupted_launch_resumes_without_a_second_message(engine, settings, workspace, now,
                                                                monkeypatch):  # fmt: skip
    for i in range(9):
        add_contact(engine, workspace, f"+4860010030{i}", now, first_name=f"P{i}")
    add_pool(engine, workspace, "p", [f"C{i}" for i in range(9)], now)
    campaign_id = create_campaign(
        engine, workspace, CampaignDraft(name="R", body=BODY, coupon_pool="p"), actor="t", now=now
    )
    small = settings.model_copy(update={"launch_batch_size": 2})
    real = materialise._write_batch
    calls = {"n": 0}

    def crash_on_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            real(*args, **kwargs)  # the rows are written, then the process dies before commit
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(materialise, "_write_batch", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        launch(engine, small, workspace, campaign_id, now)
    assert len(outbox(engine)) == 4  # two batches committed, the third rolled back
    monkeypatch.setattr(materialise, "_write_batch", real)

    result = launch(engine, small, workspace, campaign_id, now, seed=2)

    assert result["queued"] == 5
    rows = outbox(engine)
    assert len(rows) == 9 and len({r.contact_id for r in rows}) == 9
    assert len({r.coupon_code for r in rows}) == 9
    with engine.connect() as conn:
        allocated = conn.execute(select(func.count()).where(coupons.c.allocated_at.is_not(None)))
        assert allocated.scalar() == 9
    assert campaign_report(engine, workspace.id, campaign_id)["queued"] == 9
    with pytest.raises(UserError, match="only a draft can be launched"):
        launch(engine, small, workspace, campaign_id, now)


def test_local_time_and_quiet_hours_per_recipient(engine, settings, workspace, now):
    add_contact(engine, workspace, "+48600100200", now, first_name="W")
    add_contact(engine, workspace, "+12125550123", now, first_name="N", country="US",
                timezone="America/New_York")  # fmt: skip
    draft = CampaignDraft(name="Ten", body="Hi {{ first_name }}", local_time=time(22, 0))
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch(engine, settings, workspace, campaign_id, now)
    warsaw, new_york = outbox(engine)
    # 22:00 is quiet: each waits for 08:00 next morning in their own zone.
    assert warsaw.send_after.astimezone(ZoneInfo("Europe/Warsaw")) == datetime(
        2026, 11, 26, 8, 0, tzinfo=ZoneInfo("Europe/Warsaw"))
    assert new_york.send_after == datetime(2026, 11, 26, 13, 0, tzinfo=UTC)


def test_informational_may_skip_quiet_hours_and_spread_fills_the_window(
    engine, settings, workspace, now
):
    workspace = with_settings(engine, workspace, quiet_hours_informational=False)
    for i in range(30):
        add_contact(engine, workspace, f"+486001004{i:02d}", now, consent=None)
    draft = CampaignDraft(name="Info", body="Your parcel", purpose="informational",
                          local_time=time(23, 0), spread=timedelta(hours=2))  # fmt: skip
    campaign_id = create_campaign(engine, workspace, draft, actor="t", now=now)
    launch(engine, settings, workspace, campaign_id, now)
    start = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 23:00 in Warsaw
    times = [row.send_after for row in outbox(engine)]
    assert len(times) == 30
    assert all(start <= moment < start + timedelta(hours=2) for moment in times)
    assert len(set(times)) > 10


def test_bad_input_is_refused_when_the_campaign_is_created(engine, workspace, now):
    add_contact(engine, workspace, "+48600100200", now, first_name="A")
    cases = [
        (CampaignDraft(name="x", body="Hi {{ frist_name }}"), "unknown variable 'frist_name'"),
        (CampaignDraft(name="x", body="Hi", segment="plna = 1"), "unknown field 'plna'"),
        (CampaignDraft(name="x", body="Hi", at=now - timedelta(minutes=5)), "in the past"),
        (CampaignDraft(name="x", body="Hi", coupon_pool="nope"), "no coupon pool"),
        (CampaignDraft(name="x", body="Hi", cron="0 25 * * *"), "hour field"),
        (CampaignDraft(name="x", body="Hi", variants=(("B", "Yo"),), split=(60, 60)), "adding up"),
    ]
    for draft, words in cases:
        with pytest.raises(UserError, match=words):
            create_campaign(engine, workspace, draft, actor="t", now=now)
