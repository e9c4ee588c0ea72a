"""dispatch: connector states, outbox claim and routing indexes

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import smscast.store.types

revision = "0004"
down_revision = "0002"
branch_labels = None
depends_on = None

UNROUTED = "status = 'queued' AND (connector_id IS NULL OR send_after IS NULL)"


def upgrade() -> None:
    op.create_table(
        "connector_states",
        sa.Column("connector_id", sa.Integer(), nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=False),
        sa.Column("connected", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("sent_per_s", sa.Double(), nullable=False),
        sa.Column(
            "last_errors",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", smscast.store.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["connector_id"], ["connectors.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("connector_id"),
    )
    op.create_index(
        "ix_messages_claim",
        "messages",
        ["connector_id", "send_after"],
        unique=False,
        sqlite_where=sa.text("status = 'queued'"),
        postgresql_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "ix_messages_unrouted",
        "messages",
        ["id"],
        unique=False,
        sqlite_where=sa.text(UNROUTED),
        postgresql_where=sa.text(UNROUTED),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_unrouted", table_name="messages")
    op.drop_index("ix_messages_claim", table_name="messages")
    op.drop_table("connector_states")
