"""coupons: the free-code index holds only free codes, so handing a code out is one index delete

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

FREE = "allocated_at IS NULL"


def upgrade() -> None:
    # A launch claims a million codes: with every code in the index (keyed on
    # allocated_at), each claim moved an entry; now it only removes one.
    op.drop_index("ix_coupons_free", table_name="coupons")
    op.create_index(
        "ix_coupons_free",
        "coupons",
        ["pool_id", "id"],
        sqlite_where=sa.text(FREE),
        postgresql_where=sa.text(FREE),
    )


def downgrade() -> None:
    op.drop_index("ix_coupons_free", table_name="coupons")
    op.create_index("ix_coupons_free", "coupons", ["pool_id", "allocated_at", "id"])
