"""security: instance administrators, sign-in throttling shared across processes, and
keyword-rule webhook actions delivered through the one webhook sender

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 19:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smscast.store.types import UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only instance administrators create workspaces; the first admin becomes one.
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("instance_admin", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.execute("UPDATE users SET instance_admin = TRUE WHERE id = (SELECT MIN(id) FROM users)")
    # Failed sign-ins per account and per client address, in the database so that every
    # process of a deployment counts the same attempts.
    op.create_table(
        "sign_in_throttles",
        sa.Column("key", sa.String(length=400), primary_key=True),
        sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_failure_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("blocked_until", UtcDateTime(timezone=True), nullable=True),
    )
    # A keyword rule's webhook action is a one-off target of the one webhook sender
    # (address policy, signature, retries, delivery log), like a message's callback_url.
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.add_column(sa.Column("rule_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_webhook_endpoints_rule", "keyword_rules", ["rule_id"], ["id"], ondelete="CASCADE"
        )
    op.create_index("ix_webhook_endpoints_rule", "webhook_endpoints", ["rule_id"])


def downgrade() -> None:
    op.drop_index("ix_webhook_endpoints_rule", table_name="webhook_endpoints")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.drop_constraint("fk_webhook_endpoints_rule", type_="foreignkey")
        batch.drop_column("rule_id")
    op.drop_table("sign_in_throttles")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("instance_admin")
