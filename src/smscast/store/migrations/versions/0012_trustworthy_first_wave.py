"""first wave made trustworthy: reused carrier ids, erasure and smart-encoding counters,
what smart encoding replaced, national shift tables, the time a text was due before
quiet hours held it, when a campaign finished sending, why an import failed, and
coupon codes found in any case

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Carriers (and the simulator after a restart) hand out the same id again: one id
    # may name several messages over time, and a report goes to the newest one still
    # awaiting a report (engine.reports), so the id alone is no longer unique.
    with op.batch_alter_table("carrier_refs") as batch:
        batch.drop_constraint("uq_carrier_refs", type_="unique")
    op.create_index(
        "uq_carrier_refs_message",
        "carrier_refs",
        ["connector_id", "carrier_id", "message_id"],
        unique=True,
    )
    with op.batch_alter_table("campaign_stats") as batch:
        batch.add_column(
            sa.Column("excluded_contact_deleted", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("smart_changed", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("messages") as batch:
        # JSON object: character replaced -> what it became, for texts smart encoding changed.
        batch.add_column(sa.Column("smart_changes", sa.Text(), nullable=True))
        # "locking/single" national shift tables the text is encoded with ("tr/tr", "/es").
        batch.add_column(sa.Column("national", sa.String(length=8), nullable=True))
        # When the text was due before quiet hours moved it (NULL: never moved).
        batch.add_column(sa.Column("due_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("sending_finished_at", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("import_jobs") as batch:
        batch.add_column(sa.Column("failure", sa.Text(), nullable=True))
    op.create_index("ix_coupons_code_lower", "coupons", [sa.text("lower(code)")])


def downgrade() -> None:
    op.drop_index("ix_coupons_code_lower", table_name="coupons")
    with op.batch_alter_table("import_jobs") as batch:
        batch.drop_column("failure")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("sending_finished_at")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("due_at")
        batch.drop_column("national")
        batch.drop_column("smart_changes")
    with op.batch_alter_table("campaign_stats") as batch:
        batch.drop_column("smart_changed")
        batch.drop_column("excluded_contact_deleted")
    op.drop_index("uq_carrier_refs_message", table_name="carrier_refs")
    with op.batch_alter_table("carrier_refs") as batch:
        batch.create_unique_constraint("uq_carrier_refs", ["connector_id", "carrier_id"])
