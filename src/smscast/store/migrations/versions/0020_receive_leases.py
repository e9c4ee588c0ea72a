"""receive leases: a connector's receiving side (delivery reports, inbound texts) may be
held by another worker than its sending side (`smscast worker --role receive`), with
what that worker last saw of its receiving connection

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smscast.store.types import UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("connectors") as batch:
        batch.add_column(sa.Column("receive_owner", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("receive_until", UtcDateTime(timezone=True), nullable=True))
        # Written by a receive-only holder (the sending side's state is connector_states).
        batch.add_column(sa.Column("receive_connected", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("receive_detail", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("connectors") as batch:
        for column in ("receive_detail", "receive_connected", "receive_until", "receive_owner"):
            batch.drop_column(column)
