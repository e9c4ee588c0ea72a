"""A campaign's figures per channel: messages, sent, delivered, failed, fell back, cost.

On one channel (every SMS campaign) they are the campaign's hourly counters, read as
the report reads them, so the report costs the same however many messages there are.
On a chain they come from the messages themselves, grouped by channel in one pass
over the campaign's index: "fell back" counts a channel's messages after which the
person's chain went on to a later channel (a failure, a refusal, or no delivery by
the deadline; see `fallback`), found through the unique (campaign, run, contact,
step) key. Only store tables are read here, so `engine.stats` may import it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, and_, case, exists, func, select
from sqlalchemy.orm import aliased

from smscast.store.campaign_models import EXCLUSION_REASONS, CampaignStats
from smscast.store.messaging_models import Campaign, Message
from smscast.store.models import table_of

messages = table_of(Message)
campaigns = table_of(Campaign)
campaign_stats = table_of(CampaignStats)
FAILED = ("failed", "undelivered", "expired")
"""What the per-channel `failed` figure counts: ended without reaching the person."""


def chain_of(options: dict[str, Any] | None) -> list[str]:
    """The campaign's channels in the order they are tried."""
    return list((options or {}).get("channels") or ["sms"])


def channel_figures(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Per channel in chain order: {"channel", "messages", "sent", "delivered", "failed",
    "fell_back", "cost"}; a channel of the chain nobody was sent on shows zeros."""
    options = conn.execute(
        select(campaigns.c.options).where(campaigns.c.id == campaign_id)
    ).scalar()
    chain = chain_of(options)
    if len(chain) == 1:
        return [{"channel": chain[0], **_from_counters(conn, campaign_id)}]
    found = _from_messages(conn, campaign_id)
    order = chain + sorted(set(found) - set(chain))
    empty = {"messages": 0, "sent": 0, "delivered": 0, "failed": 0, "fell_back": 0, "cost": 0.0}
    return [{"channel": channel, **found.get(channel, empty)} for channel in order]


def _from_counters(conn: Connection, campaign_id: int) -> dict[str, Any]:
    names = ["targeted", "sent", "delivered", "cost", *FAILED]
    names += [f"excluded_{reason}" for reason in EXCLUSION_REASONS]
    sums = [func.coalesce(func.sum(campaign_stats.c[name]), 0).label(name) for name in names]
    row = conn.execute(select(*sums).where(campaign_stats.c.campaign_id == campaign_id)).one()
    totals = row._mapping
    excluded = sum(int(totals[f"excluded_{reason}"]) for reason in EXCLUSION_REASONS)
    return {
        "messages": max(int(totals["targeted"]) - excluded, 0),
        "sent": int(totals["sent"]),
        "delivered": int(totals["delivered"]),
        "failed": sum(int(totals[name]) for name in FAILED),
        "fell_back": 0,
        "cost": round(float(totals["cost"]), 5),
    }


def _from_messages(conn: Connection, campaign_id: int) -> dict[str, dict[str, Any]]:
    later = aliased(messages)
    went_on = exists().where(
        and_(
            later.c.campaign_id == messages.c.campaign_id,
            later.c.run == messages.c.run,
            later.c.contact_id == messages.c.contact_id,
            later.c.chain_step > messages.c.chain_step,
        )
    )
    was_sent = messages.c.sent_at.is_not(None)
    rows = conn.execute(
        select(
            messages.c.channel,
            func.count().label("messages"),
            func.sum(case((was_sent, 1), else_=0)).label("sent"),
            func.sum(case((messages.c.status == "delivered", 1), else_=0)).label("delivered"),
            func.sum(case((messages.c.status.in_(FAILED), 1), else_=0)).label("failed"),
            func.sum(case((went_on, 1), else_=0)).label("fell_back"),
            func.sum(case((was_sent, messages.c.cost), else_=0)).label("cost"),
        )
        .where(messages.c.campaign_id == campaign_id, messages.c.direction == "out")
        .group_by(messages.c.channel)
    ).all()
    return {
        row.channel: {
            "messages": int(row.messages),
            "sent": int(row.sent or 0),
            "delivered": int(row.delivered or 0),
            "failed": int(row.failed or 0),
            "fell_back": int(row.fell_back or 0),
            "cost": round(float(row.cost or 0), 5),
        }
        for row in rows
    }
