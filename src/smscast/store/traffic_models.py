"""The workspace's traffic counters: one row per hour and route, for the dashboard.

`campaign_stats` counts per campaign; this table counts every text - campaign texts,
single API sends, automatic and agent replies, HELP answers, double opt-in prompts,
inbound texts that answer nothing - by the connector and number each one actually
left through or arrived on, its purpose and its campaign. A dashboard over millions
of texts sums a few hundred of these rows through the primary key (workspace, hour …).

"None" is 0, not NULL, in the key columns (connector, number, campaign): NULL is not
allowed in a primary key and never equal to itself in an upsert's conflict target,
on SQLite and PostgreSQL alike. So those columns carry no foreign key either: a
deleted campaign's or number's history stays counted where it happened.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.models import Base

TRAFFIC_COUNTERS = (
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "parts",
    "inbound",
    "replies",
    "opt_outs",
    "clicks",
    "unique_clicks",
    "redemptions",
)
"""Event counts, each added to the hour it happened in; `cost` (money) comes beside them."""


class TrafficStats(Base):
    """One hour of one route's counters (connector, number, purpose, campaign; 0 = none)."""

    __tablename__ = "traffic_stats"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    connector_id: Mapped[int] = mapped_column(primary_key=True)
    number_id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    sent: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    undelivered: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    expired: Mapped[int] = mapped_column(default=0)
    parts: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    inbound: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    opt_outs: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    unique_clicks: Mapped[int] = mapped_column(default=0)
    redemptions: Mapped[int] = mapped_column(default=0)
