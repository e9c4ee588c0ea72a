"""inbound: keyword rules, compliance word edits, double opt-ins, tickets, routes

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-25 12:10:00
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import smscast.store.types

revision = "0005"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def moment(name: str, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, smscast.store.types.UtcDateTime(timezone=True), nullable=nullable)


def workspace_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "keyword_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("keyword", sa.String(length=160), nullable=True),
        sa.Column("aliases", JSON, nullable=False),
        sa.Column("match", sa.String(length=12), nullable=False),
        sa.Column("actions", JSON, nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        moment("created_at"),
        workspace_fk(),
        sa.ForeignKeyConstraint(["number_id"], ["numbers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number_id", "keyword", name="uq_keyword_rules_keyword"),
    )
    op.create_table(
        "compliance_keywords",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("word", sa.String(length=160), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        moment("created_at"),
        workspace_fk(),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "language", "kind", "word", name="uq_compliance_word"),
    )
    op.create_table(
        "pending_opt_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("join_text", sa.Text(), nullable=False),
        sa.Column("prompt_text", sa.Text(), nullable=False),
        moment("created_at"),
        moment("expires_at"),
        workspace_fk(),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["number_id"], ["numbers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["rule_id"], ["keyword_rules.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "number_id", name="uq_pending_opt_ins_contact"),
    )
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", BIG_ID, nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("assignee", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=200), nullable=False),
        moment("created_at"),
        moment("updated_at"),
        moment("last_inbound_at", nullable=True),
        moment("solved_at", nullable=True),
        workspace_fk(),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["number_id"], ["numbers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("contact_id", "number_id", name="uq_tickets_contact_number"),
    )
    op.create_index(
        "ix_tickets_workspace_state", "tickets", ["workspace_id", "state", "updated_at"]
    )
    op.create_table(
        "ticket_notes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        moment("created_at"),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_ticket_notes_ticket", "ticket_notes", ["ticket_id", "id"])
    op.create_table(
        "inbound_routes",
        sa.Column("message_id", BIG_ID, nullable=False),
        sa.Column("workspace_id", sa.Integer(), nullable=False),
        sa.Column("number_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", BIG_ID, nullable=True),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("keyword", sa.String(length=160), nullable=True),
        sa.Column("rule_id", sa.Integer(), nullable=True),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        moment("received_at"),
        workspace_fk(),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["number_id"], ["numbers.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["rule_id"], ["keyword_rules.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaigns.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_inbound_routes_campaign", "inbound_routes", ["campaign_id", "contact_id"])
    op.create_index("ix_inbound_routes_number", "inbound_routes", ["number_id", "received_at"])
    op.create_index("ix_inbound_routes_rule", "inbound_routes", ["rule_id"])


def downgrade() -> None:
    for index, table in (
        ("ix_inbound_routes_rule", "inbound_routes"),
        ("ix_inbound_routes_number", "inbound_routes"),
        ("ix_inbound_routes_campaign", "inbound_routes"),
        ("ix_ticket_notes_ticket", "ticket_notes"),
        ("ix_tickets_workspace_state", "tickets"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "inbound_routes", "ticket_notes", "tickets", "pending_opt_ins", "compliance_keywords",
        "keyword_rules",
    ):  # fmt: skip
        op.drop_table(table)
