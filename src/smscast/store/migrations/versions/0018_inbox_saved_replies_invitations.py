"""portal part 2: agents' saved replies, who is replying on a ticket right now, member
invitations, accounts that must change a one-time password, and an index that lets the
live inbox ask "what changed?" cheaply

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from smscast.store.types import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "saved_replies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=120), nullable=False),
        # A template: {{ first_name }} and the contact's other attributes are filled in
        # when an agent picks it.
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UtcDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("workspace_id", "title", name="uq_saved_replies_title"),
    )
    op.create_table(
        "ticket_presence",
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        # What the agent is doing ("replying"), and until when it counts: a closed tab
        # stops renewing it and the mark goes by itself.
        sa.Column("activity", sa.String(length=16), nullable=False),
        sa.Column("until", UtcDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "member_invitations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        # Only the hash of the link's token is kept: the link is shown (or mailed) once.
        sa.Column("token_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("invited_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", UtcDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", UtcDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_member_invitations_workspace", "member_invitations", ["workspace_id", "created_at"]
    )
    op.create_index("ix_tickets_workspace_updated", "tickets", ["workspace_id", "updated_at"])
    # An account made with a one-time password: the portal asks for a new one first.
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("must_change_password")
    op.drop_index("ix_tickets_workspace_updated", table_name="tickets")
    op.drop_index("ix_member_invitations_workspace", table_name="member_invitations")
    op.drop_table("member_invitations")
    op.drop_table("ticket_presence")
    op.drop_table("saved_replies")
