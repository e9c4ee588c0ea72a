"""multichannel: a message's channel, its address on that channel and the channel's
extra content (subject, template, …), its place in a campaign's fallback chain; a
contact's WhatsApp number and web push subscriptions; addresses that bounced or
complained, kept apart so no later import sends to them again; a ticket's channel; two
reasons a campaign leaves someone out (no address on its channels, suppressed)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 03:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from smscast.store.types import UtcDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(JSONB(), "postgresql")
FALLBACK_DUE = "fallback_at IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=12), nullable=False, server_default="sms")
        )
        # The recipient on channels whose address is not the phone: an email address,
        # a WhatsApp number, a push subscription's id. NULL: the phone.
        batch.add_column(sa.Column("address", sa.String(length=512), nullable=True))
        # What the channel carries besides the text: subject and HTML of an email, the
        # WhatsApp template and its parameters, the voice's language, and the rendered
        # content of the chain's later channels.
        batch.add_column(sa.Column("payload", JSON, nullable=True))
        batch.add_column(sa.Column("chain_step", sa.Integer(), nullable=False, server_default="0"))
        # When the chain's next channel takes over if this one is not delivered by then.
        batch.add_column(sa.Column("fallback_at", UtcDateTime(timezone=True), nullable=True))
        batch.drop_constraint("uq_messages_campaign_contact", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_campaign_contact", ["campaign_id", "run", "contact_id", "chain_step"]
        )
    # The fallback pass asks for ended messages (any time) and sent ones past their
    # moment: both read the index by status first.
    op.create_index(
        "ix_messages_fallback",
        "messages",
        ["status", "fallback_at"],
        sqlite_where=sa.text(FALLBACK_DUE),
        postgresql_where=sa.text(FALLBACK_DUE),
    )
    with op.batch_alter_table("campaign_stats") as batch:
        for reason in ("no_address", "suppressed"):
            batch.add_column(
                sa.Column(f"excluded_{reason}", sa.Integer(), nullable=False, server_default="0")
            )
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("whatsapp", sa.String(length=16), nullable=True))
    op.create_index("ix_contacts_email", "contacts", ["workspace_id", "email"])
    op.create_index("ix_contacts_whatsapp", "contacts", ["workspace_id", "whatsapp"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("channel", sa.String(length=12), nullable=False, server_default="sms")
        )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "contact_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("contacts.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("p256dh", sa.String(length=200), nullable=False),
        sa.Column("auth", sa.String(length=100), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_sent_at", UtcDateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("workspace_id", "endpoint", name="uq_push_subscriptions_endpoint"),
    )
    op.create_index("ix_push_subscriptions_contact", "push_subscriptions", ["contact_id"])
    op.create_table(
        "suppressed_addresses",
        sa.Column(
            "workspace_id",
            sa.Integer(),
            sa.ForeignKey("workspaces.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("channel", sa.String(length=12), primary_key=True),
        sa.Column("address", sa.String(length=512), primary_key=True),
        # bounce (the address does not exist), complaint (marked as spam), gone (a
        # subscription the push service no longer knows)
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False, server_default=""),
        sa.Column(
            "message_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("at", UtcDateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("suppressed_addresses")
    op.drop_index("ix_push_subscriptions_contact", table_name="push_subscriptions")
    op.drop_table("push_subscriptions")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("channel")
    with op.batch_alter_table("campaign_stats") as batch:
        batch.drop_column("excluded_suppressed")
        batch.drop_column("excluded_no_address")
    op.drop_index("ix_contacts_whatsapp", table_name="contacts")
    op.drop_index("ix_contacts_email", table_name="contacts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("whatsapp")
    op.drop_index("ix_messages_fallback", table_name="messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("uq_messages_campaign_contact", type_="unique")
        batch.create_unique_constraint(
            "uq_messages_campaign_contact", ["campaign_id", "run", "contact_id"]
        )
        for column in ("fallback_at", "chain_step", "payload", "address", "channel"):
            batch.drop_column(column)
