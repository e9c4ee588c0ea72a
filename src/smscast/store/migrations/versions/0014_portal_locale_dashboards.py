"""portal: each user's language, and saved dashboards (named tile layouts per user,
shareable within the workspace)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 21:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from smscast.store.types import UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The portal's language menu is remembered per user ("en", "pl"); NULL follows the
    # browser's Accept-Language, then the workspace's default.
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
    op.create_table(
        "dashboards",
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
        sa.Column("name", sa.String(length=200), nullable=False),
        # Everyone in the workspace may open a shared dashboard; only its owner changes it.
        sa.Column("shared", sa.Boolean(), nullable=False, server_default=sa.false()),
        # The tiles in order: [{"kind": "kpi-sent", "size": "s"|"m"|"l", ...}, ...]
        sa.Column("layout", sa.JSON().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workspace_id", "owner_id", "name", name="uq_dashboards_owner_name"),
    )
    op.create_index("ix_dashboards_workspace_shared", "dashboards", ["workspace_id", "shared"])


def downgrade() -> None:
    op.drop_index("ix_dashboards_workspace_shared", table_name="dashboards")
    op.drop_table("dashboards")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("locale")
