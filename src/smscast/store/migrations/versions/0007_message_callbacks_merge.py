"""messages.callback_url, one-off webhook targets per message; merges the 0003-0006 branches

Revision ID: 0007
Revises: 0003, 0004, 0005, 0006
Create Date: 2026-11-25 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import smscast.store.types

revision = "0007"
down_revision = ("0003", "0004", "0005", "0006")
branch_labels = None
depends_on = None

UtcDateTime = smscast.store.types.UtcDateTime


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("message_id", sa.BigInteger(), nullable=True))
        batch.create_index("ix_webhook_endpoints_message", ["message_id"], unique=True)
    op.create_table(
        "callback_secrets",
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("secret", sa.String(length=80), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("workspace_id"),
    )


def downgrade() -> None:
    op.drop_table("callback_secrets")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_index("ix_webhook_endpoints_message")
        batch.drop_column("message_id")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("callback_url")
