"""messages: the status index holds only texts in flight (sending, sent, unknown)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

IN_FLIGHT = "status = 'sending' OR status = 'sent' OR status = 'unknown'"
"""OR-ed equalities: SQLite uses a partial index for a query whose WHERE has one of them."""


def upgrade() -> None:
    # Every queued text (a launch writes millions) took an entry here that the claim
    # index already serves, and every final one kept an entry no query reads; the
    # lookups by status are for texts a worker is sending, awaiting a report, or
    # lost track of (interrupted sends, expiry, `smscast connectors state`).
    op.drop_index("ix_messages_due", table_name="messages")
    op.create_index(
        "ix_messages_in_flight",
        "messages",
        ["status", "send_after"],
        sqlite_where=sa.text(IN_FLIGHT),
        postgresql_where=sa.text(IN_FLIGHT),
    )


def downgrade() -> None:
    op.drop_index("ix_messages_in_flight", table_name="messages")
    op.create_index("ix_messages_due", "messages", ["status", "send_after"])
