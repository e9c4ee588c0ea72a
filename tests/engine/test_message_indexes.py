"""The outbox's partial indexes still serve the lookups that need them (SQLite's planner
uses a partial index only when the query implies its condition)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, exists, func, select
from sqlalchemy.dialects import sqlite

from smscast.engine.campaigns.lifecycle import PENDING, campaigns
from smscast.engine.delivery.reports import expire_silent
from smscast.engine.sending.outbox import mark_interrupted, outbox_counts
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


def _plans_of(engine, work) -> list[str]:
    """The query plans of the statements `work(conn)` runs on messages (then rolled back)."""
    seen: list[tuple[str, object]] = []

    def record(_conn, _cursor, statement, parameters, _context, _many) -> None:
        if "messages" in statement and not statement.startswith("EXPLAIN"):
            seen.append((statement, parameters))

    with engine.connect() as conn:
        event.listen(conn, "before_cursor_execute", record)
        work(conn)
        event.remove(conn, "before_cursor_execute", record)
        plans = [" | ".join(row[-1] for row in
                            conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all())
                 for sql, params in seen]  # fmt: skip
        conn.rollback()
    return plans


@pytest.mark.sqlite_only
def test_texts_in_flight_are_found_by_index_though_queued_ones_are_not_in_it(engine) -> None:
    """Expiry, interrupted sends and the outbox counts read the status index, which
    holds no queued text (a launch writes millions), or the claim index."""
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    expiry = _plans_of(engine, lambda conn: expire_silent(conn, now, timedelta(hours=72)))
    interrupted = _plans_of(engine, lambda conn: mark_interrupted(conn, 1, now))
    counts = _plans_of(engine, outbox_counts)

    assert "INDEX ix_messages_in_flight (status=?)" in expiry[0]
    assert "INDEX ix_messages_in_flight (status=?)" in interrupted[0]
    assert counts[0].count("INDEX ix_messages_claim") == 1
    assert counts[0].count("INDEX ix_messages_in_flight") == 2
    assert re.search(r"SCAN messages(?! USING)", counts[0]) is None  # no whole-table scan
