"""campaigns: hourly stats, coupon pools and coupons, tracked links, clicks, launch progress

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 11:43:43.615575
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smscast.store.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coupon_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "name", name="uq_coupon_pools_name"),
    )
    op.create_table(
        "campaign_launches",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("run", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column(
            "last_contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("started_at", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", smscast.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "run", "stage"),
    )
    op.create_table(
        "campaign_links",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "position"),
    )
    op.create_table(
        "campaign_stats",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("hour", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("targeted", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("undelivered", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("expired", sa.Integer(), nullable=False),
        sa.Column("unknown", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Double(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("unique_clicks", sa.Integer(), nullable=False),
        sa.Column("bot_clicks", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("opt_outs", sa.Integer(), nullable=False),
        sa.Column("redemptions", sa.Integer(), nullable=False),
        sa.Column("excluded_no_consent", sa.Integer(), nullable=False),
        sa.Column("excluded_opted_out", sa.Integer(), nullable=False),
        sa.Column("excluded_capped", sa.Integer(), nullable=False),
        sa.Column("excluded_invalid_number", sa.Integer(), nullable=False),
        sa.Column("excluded_duplicate", sa.Integer(), nullable=False),
        sa.Column("excluded_missing_value", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("campaign_id", "hour"),
    )
    op.create_table(
        "coupons",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("allocated_at", smscast.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_at", smscast.store.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["pool_id"], ["coupon_pools.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("pool_id", "code", name="uq_coupons_code"),
    )
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.create_index("ix_coupons_free", ["pool_id", "allocated_at", "id"], unique=False)

    op.create_table(
        "clicks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column(
            "contact_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("at", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.create_index("ix_clicks_message", ["message_id"], unique=False)

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_link_token", ["link_token"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_link_token")

    with op.batch_alter_table("clicks", schema=None) as batch_op:
        batch_op.drop_index("ix_clicks_message")

    op.drop_table("clicks")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.drop_index("ix_coupons_free")

    op.drop_table("coupons")
    op.drop_table("campaign_stats")
    op.drop_table("campaign_links")
    op.drop_table("campaign_launches")

    op.drop_table("coupon_pools")
