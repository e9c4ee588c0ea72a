"""Coupon pools: codes handed out once, redeemed once, counted for their campaign."""

from __future__ import annotations

import random

import pytest
from campaign_data import add_contact

from smscast.core.errors import UserError
from smscast.engine.campaigns.coupons import (
    add_codes,
    allocate_coupons,
    generate_codes,
    pool_id,
    pool_summaries,
    redeem_coupon,
)
from smscast.engine.campaigns.launch import launch_campaign
from smscast.engine.campaigns.lifecycle import CampaignDraft, create_campaign
from smscast.engine.campaigns.segments import count_segment
from smscast.engine.stats import campaign_report


def test_generated_codes_are_unique_and_import_skips_known_ones(engine, workspace, now):
    made = generate_codes(engine, workspace, "gen", 500, rng=random.Random(1), length=6,
                          prefix="BF-", actor="t", now=now)  # fmt: skip
    assert made["added"] == 500
    again = add_codes(engine, workspace, "gen", ["NEW1", "NEW1", " ", "NEW2"], actor="t", now=now)
    assert (again["added"], again["skipped"]) == (2, 0)
    assert pool_summaries(engine, workspace) == [
        {"pool": "gen", "codes": 502, "allocated": 0, "free": 502, "redeemed": 0}]
    with pytest.raises(UserError, match="without spaces"):
        add_codes(engine, workspace, "gen", ["TWO WORDS"], actor="t", now=now)


def test_allocation_never_hands_out_a_code_twice(engine, workspace, now):
    add_codes(engine, workspace, "p", [f"C{i}" for i in range(10)], actor="t", now=now)
    campaign_id = create_campaign(engine, workspace, CampaignDraft(name="x", body="Hi"),
                                  actor="t", now=now)  # fmt: skip
    with engine.begin() as conn:
        pid = pool_id(conn, workspace, "p")
        first = allocate_coupons(conn, pid, campaign_id, 6, now)
        second = allocate_coupons(conn, pid, campaign_id, 4, now)
        assert len(set(first) | set(second)) == 10
        with pytest.raises(UserError, match="1 code missing"):
            allocate_coupons(conn, pid, campaign_id, 1, now)


def test_a_redemption_is_recorded_once_and_counted(engine, settings, workspace, now):
    add_contact(engine, workspace, "+48600100200", now)
    add_codes(engine, workspace, "p", ["ONLY1"], actor="t", now=now)
    campaign_id = create_campaign(
        engine, workspace, CampaignDraft(name="x", body="Code {{ coupon }}", coupon_pool="p"),
        actor="t", now=now,
    )  # fmt: skip
    launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now)
    result = redeem_coupon(engine, workspace, "ONLY1", actor="till 3", now=now)
    assert result["campaign_id"] == campaign_id and result["contact_id"] is not None
    with pytest.raises(UserError, match="already redeemed"):
        redeem_coupon(engine, workspace, "ONLY1", actor="till 3", now=now)
    with pytest.raises(UserError, match='no coupon "NOPE"'):
        redeem_coupon(engine, workspace, "NOPE", actor="till 3", now=now)
    assert campaign_report(engine, workspace.id, campaign_id)["redemptions"] == 1
    assert count_segment(engine, workspace, f"redeemed({campaign_id})", now)["count"] == 1
