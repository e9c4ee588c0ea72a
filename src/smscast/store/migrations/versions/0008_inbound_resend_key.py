"""messages.resend_key, inbound_link: an inbound text the carrier sends again is recognised, not answered twice

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("resend_key", sa.String(length=44), nullable=True))
        batch.add_column(sa.Column("inbound_link", sa.String(length=32), nullable=True))
    # Partial: outgoing messages (no key) cost the index nothing.
    op.create_index(
        "ix_messages_resend",
        "messages",
        ["connector_id", "resend_key"],
        sqlite_where=sa.text("resend_key IS NOT NULL"),
        postgresql_where=sa.text("resend_key IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_resend", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("inbound_link")
        batch.drop_column("resend_key")
