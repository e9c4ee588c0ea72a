"""public sign-up form: each use of /join/<slug> that reached a phone, kept as the
evidence of the opt-in it asks for (and counted by the form's throttle)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 21:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smscast.store.types import UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "web_sign_ups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workspace_id", sa.Integer(),
                  sa.ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=False),
        sa.Column("contact_id", BIG_ID,
                  sa.ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
        sa.Column("number_id", sa.Integer(),
                  sa.ForeignKey("numbers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("page", sa.String(length=100), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        # The exact consent text the person ticked the box for, as the form showed it.
        sa.Column("consent_text", sa.Text(), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=500), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", UtcDateTime(timezone=True), nullable=True),
    )  # fmt: skip
    # The throttle counts recent attempts per phone and per client address.
    op.create_index("ix_web_sign_ups_phone", "web_sign_ups", ["phone", "created_at"])
    op.create_index("ix_web_sign_ups_address", "web_sign_ups", ["client_address", "created_at"])
    # A double opt-in asked for on the form points at the form's evidence.
    with op.batch_alter_table("pending_opt_ins") as batch:
        batch.add_column(sa.Column("web_sign_up_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_pending_opt_ins_web_sign_up", "web_sign_ups",
                                 ["web_sign_up_id"], ["id"], ondelete="SET NULL")  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("pending_opt_ins") as batch:
        batch.drop_constraint("fk_pending_opt_ins_web_sign_up", type_="foreignkey")
        batch.drop_column("web_sign_up_id")
    op.drop_index("ix_web_sign_ups_address", table_name="web_sign_ups")
    op.drop_index("ix_web_sign_ups_phone", table_name="web_sign_ups")
    op.drop_table("web_sign_ups")
