"""portal: the campaign builder's drafts — what a marketer has typed so far, step by
step, kept until the campaign is created from it

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from smscast.store.types import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "builder_drafts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "owner_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("name", sa.String(length=200), nullable=False, server_default=""),
        # The builder's fields as typed (audience, message, variants, timing, sender,
        # purpose) and the furthest step reached; checked when the campaign is created.
        sa.Column("data", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("step", sa.String(length=32), nullable=False, server_default="audience"),
        # Set once the campaign is created from the draft; the draft is then read-only.
        sa.Column(
            "campaign_id",
            sa.Integer(),
            sa.ForeignKey("campaigns.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_builder_drafts_workspace_updated", "builder_drafts", ["workspace_id", "updated_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_builder_drafts_workspace_updated", table_name="builder_drafts")
    op.drop_table("builder_drafts")
