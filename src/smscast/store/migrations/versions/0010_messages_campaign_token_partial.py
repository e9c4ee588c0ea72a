"""messages: the campaign and link-token indexes hold campaign texts and tracked texts only

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 15:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

IN_CAMPAIGN = "campaign_id IS NOT NULL"
TRACKED = "link_token IS NOT NULL"


def upgrade() -> None:
    # Inbound texts, answers, agent replies and API messages have neither a campaign
    # nor a link token: they took an entry in both indexes (and the campaign one moved
    # with each status change) that no query could use.
    op.drop_index("ix_messages_campaign", table_name="messages")
    op.create_index(
        "ix_messages_campaign",
        "messages",
        ["campaign_id", "status"],
        sqlite_where=sa.text(IN_CAMPAIGN),
        postgresql_where=sa.text(IN_CAMPAIGN),
    )
    op.drop_index("ix_messages_link_token", table_name="messages")
    op.create_index(
        "ix_messages_link_token",
        "messages",
        ["link_token"],
        unique=True,
        sqlite_where=sa.text(TRACKED),
        postgresql_where=sa.text(TRACKED),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_link_token", table_name="messages")
    op.create_index("ix_messages_link_token", "messages", ["link_token"], unique=True)
    op.drop_index("ix_messages_campaign", table_name="messages")
    op.create_index("ix_messages_campaign", "messages", ["campaign_id", "status"])
