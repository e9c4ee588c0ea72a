"""Tables of the campaign side: hourly counters, coupons, tracked links, clicks, launch progress.

Counters live in hourly buckets per campaign so a report over tens of millions of
messages reads a few hundred rows. A recipient's tracked link is the message's
`link_token` (unique), so launching a million recipients writes no extra link rows:
`campaign_links` only keeps the target URLs a campaign's template points at.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.messaging_models import Message
from smscast.store.models import Base, BigId

EXCLUSION_REASONS = (
    "no_consent",
    "opted_out",
    "capped",
    "invalid_number",
    "duplicate",
    "missing_value",
    "contact_deleted",
    "no_address",  # no address on any channel of the campaign's chain
    "suppressed",  # the address bounced or complained on the only channel it had
)
"""Why a segment member got no message; each has an `excluded_<reason>` counter."""

COUNTERS = (
    "targeted",
    "queued",
    "sent",
    "delivered",
    "undelivered",
    "failed",
    "expired",
    "unknown",
    "cancelled",
    "parts",
    "clicks",
    "unique_clicks",
    "bot_clicks",
    "replies",
    "opt_outs",
    "redemptions",
    "smart_changed",
    *(f"excluded_{reason}" for reason in EXCLUSION_REASONS),
)
"""Integer counters of `campaign_stats`; `cost` is the one decimal counter."""


class CampaignStats(Base):
    """One hour of one campaign's counters; every change adds to the bucket of its hour."""

    __tablename__ = "campaign_stats"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(primary_key=True)
    targeted: Mapped[int] = mapped_column(default=0)
    queued: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)
    undelivered: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    expired: Mapped[int] = mapped_column(default=0)
    unknown: Mapped[int] = mapped_column(default=0)
    cancelled: Mapped[int] = mapped_column(default=0)
    parts: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(default=0.0)
    clicks: Mapped[int] = mapped_column(default=0)
    unique_clicks: Mapped[int] = mapped_column(default=0)
    bot_clicks: Mapped[int] = mapped_column(default=0)
    replies: Mapped[int] = mapped_column(default=0)
    opt_outs: Mapped[int] = mapped_column(default=0)
    redemptions: Mapped[int] = mapped_column(default=0)
    excluded_no_consent: Mapped[int] = mapped_column(default=0)
    excluded_opted_out: Mapped[int] = mapped_column(default=0)
    excluded_capped: Mapped[int] = mapped_column(default=0)
    excluded_invalid_number: Mapped[int] = mapped_column(default=0)
    excluded_duplicate: Mapped[int] = mapped_column(default=0)
    excluded_missing_value: Mapped[int] = mapped_column(default=0)
    excluded_contact_deleted: Mapped[int] = mapped_column(default=0)
    excluded_no_address: Mapped[int] = mapped_column(default=0, server_default="0")
    excluded_suppressed: Mapped[int] = mapped_column(default=0, server_default="0")
    smart_changed: Mapped[int] = mapped_column(default=0)  # texts smart encoding changed


class CouponPool(Base):
    """A named set of unique codes (imported or generated) that campaigns hand out."""

    __tablename__ = "coupon_pools"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_coupon_pools_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime]


class Coupon(Base):
    """One code; `allocated_at` set means it belongs to a campaign's recipient for good."""

    __tablename__ = "coupons"
    __table_args__ = (
        UniqueConstraint("pool_id", "code", name="uq_coupons_code"),
        Index(
            "ix_coupons_free",
            "pool_id",
            "id",
            sqlite_where=text("allocated_at IS NULL"),
            postgresql_where=text("allocated_at IS NULL"),
        ),
        Index("ix_coupons_code_lower", text("lower(code)")),  # people type codes in any case
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("coupon_pools.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    allocated_at: Mapped[datetime | None]
    redeemed_at: Mapped[datetime | None]
    redeemed_by: Mapped[str | None] = mapped_column(String(200))


class CampaignLink(Base):
    """A target URL of a campaign's template; position 1 is the first `link()` in the text."""

    __tablename__ = "campaign_links"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(Text)


class Click(Base):
    """One request for a tracked link; preview bots are kept, marked, and counted apart."""

    __tablename__ = "clicks"
    __table_args__ = (Index("ix_clicks_message", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=1)
    is_bot: Mapped[bool] = mapped_column(default=False)
    user_agent: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class CampaignLaunch(Base):
    """How far one stage of one run of a launch got: the resume point after a crash."""

    __tablename__ = "campaign_launches"

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    run: Mapped[int] = mapped_column(Integer, primary_key=True)
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)  # all, sample, rest
    last_contact_id: Mapped[int] = mapped_column(BigId, default=0)
    done: Mapped[bool] = mapped_column(default=False)
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    """Moved on with every batch: a launch left alone for long was interrupted."""
    finished_at: Mapped[datetime | None]


# A recipient's click finds its message by token; declared here, on the outbox table.
Index(
    "ix_messages_link_token",
    Message.link_token,
    unique=True,
    sqlite_where=text("link_token IS NOT NULL"),
    postgresql_where=text("link_token IS NOT NULL"),
)


class BuilderDraft(Base):
    """The campaign builder's work in progress: the fields as typed and the step reached,
    kept until the campaign is created from it (then `campaign_id` says which)."""

    __tablename__ = "builder_drafts"
    __table_args__ = (Index("ix_builder_drafts_workspace_updated", "workspace_id", "updated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200), default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    step: Mapped[str] = mapped_column(String(32), default="audience")
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
