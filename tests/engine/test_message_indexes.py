"""The outbox's partial indexes still serve the lookups that need them (SQLite's planner
uses a partial index only when the query implies its condition)."""

from __future__ import annotations

import pytest
from sqlalchemy import exists, func, select
from sqlalchemy.dialects import sqlite

from smscast.engine.campaigns import PENDING, campaigns
from smscast.store.campaign_models import Coupon
from smscast.store.messaging_models import Message
from smscast.store.models import table_of

messages = table_of(Message)
coupons = table_of(Coupon)


def _plan(engine, statement) -> str:
    compiled = statement.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}").all()
    return " | ".join(row[-1] for row in rows)


@pytest.mark.sqlite_only
def test_clicks_campaigns_and_coupon_pools_find_their_rows_by_index(engine) -> None:
    by_token = select(messages.c.id).where(messages.c.link_token == "abcdefghijkl")
    queued = select(func.count()).where(messages.c.campaign_id == 7,
                                        messages.c.status == "queued")  # fmt: skip
    pending = select(campaigns.c.id).where(
        exists().where(messages.c.campaign_id == campaigns.c.id, messages.c.status.in_(PENDING))
    )
    free = select(coupons.c.id).where(coupons.c.pool_id == 3, coupons.c.allocated_at.is_(None))

    assert "USING COVERING INDEX ix_messages_link_token" in _plan(engine, by_token)
    assert "INDEX ix_messages_campaign" in _plan(engine, queued)
    assert "INDEX ix_messages_campaign" in _plan(engine, pending)
    assert "INDEX ix_coupons_free" in _plan(engine, free)
