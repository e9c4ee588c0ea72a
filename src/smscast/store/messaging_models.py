"""Tables of the message path: connectors, numbers, campaigns, the outbox, reports.

Every outgoing text (campaign message, auto-reply, agent reply, HELP answer) is
one row of `messages`, and so is every incoming one: one way out, one record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.models import Base, BigId
from smscast.store.types import JsonColumn


class Connector(Base):
    """One carrier connection (SMPP bind, HTTP provider account) and its limits.

    A worker holds a connector through a lease (`lease_owner` until `lease_until`),
    so on PostgreSQL exactly one worker at a time talks to the carrier; another
    takes over when the holder stops renewing. An SMPP connector's receiving side
    has a lease of its own (`receive_owner` until `receive_until`): held with the
    sending side by one `all` worker, or apart by a `receive` worker (see
    `engine.sending.leases`), which reports its connection in `receive_connected`
    and `receive_detail`.
    """

    __tablename__ = "connectors"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_connectors_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # see core.channels.KINDS_OF_CHANNEL
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rate_per_s: Mapped[float] = mapped_column(default=100.0)
    window: Mapped[int] = mapped_column(default=10)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    receive_owner: Mapped[str | None] = mapped_column(String(100))
    receive_until: Mapped[datetime | None]
    receive_connected: Mapped[bool | None] = mapped_column(Boolean)
    receive_detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class Number(Base):
    """A long number or short code we own, and the connector its texts use."""

    __tablename__ = "numbers"
    __table_args__ = (UniqueConstraint("workspace_id", "number", name="uq_numbers_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number: Mapped[str] = mapped_column(
        String(20)
    )  # E.164 for long numbers, digits for short codes
    kind: Mapped[str] = mapped_column(String(10))  # long, short, alpha
    country: Mapped[str] = mapped_column(String(2))
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL")
    )
    smart_encoding: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Segment(Base):
    """A saved query over contacts, in the segment language of `core.segments`."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="uq_segments_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    expression: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class Campaign(Base):
    """What to send, to whom, when: draft → scheduled → running → paused → completed|cancelled."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    purpose: Mapped[str] = mapped_column(String(16), default="promotional")
    segment_expression: Mapped[str] = mapped_column(Text, default="")
    number_id: Mapped[int | None] = mapped_column(ForeignKey("numbers.id", ondelete="SET NULL"))
    schedule: Mapped[dict[str, Any]] = mapped_column(default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    excluded: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime]
    launched_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Set when no message is queued or sending any more; delivery reports may still be due.
    sending_finished_at: Mapped[datetime | None]


class CampaignVariant(Base):
    """One message body of a campaign; A/B tests have several with split percentages."""

    __tablename__ = "campaign_variants"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(50))
    body: Mapped[str] = mapped_column(Text)
    split_percent: Mapped[int] = mapped_column(default=100)
    is_winner: Mapped[bool] = mapped_column(Boolean, default=False)


FALLBACK_DUE = "fallback_at IS NOT NULL"
"""Campaign messages whose chain has a next channel waiting on their delivery."""

IN_FLIGHT = "status = 'sending' OR status = 'sent' OR status = 'unknown'"
"""The texts the status index holds: queued ones are found by the claim index."""


class Message(Base):
    """One text to or from one contact: the outbox row is the dispatcher's task."""

    __tablename__ = "messages"
    __table_args__ = (
        Index(
            "ix_messages_in_flight",
            "status",
            "send_after",
            sqlite_where=text(IN_FLIGHT),
            postgresql_where=text(IN_FLIGHT),
        ),
        Index(
            "ix_messages_campaign",
            "campaign_id",
            "status",
            sqlite_where=text("campaign_id IS NOT NULL"),
            postgresql_where=text("campaign_id IS NOT NULL"),
        ),
        Index("ix_messages_contact", "contact_id", "created_at"),
        # One message per person and step of the campaign's channel chain: a fallback
        # written twice (a retried task) is refused by the key, not sent twice.
        UniqueConstraint(
            "campaign_id", "run", "contact_id", "chain_step", name="uq_messages_campaign_contact"
        ),
        Index(
            "ix_messages_fallback",
            "status",
            "fallback_at",
            sqlite_where=text(FALLBACK_DUE),
            postgresql_where=text(FALLBACK_DUE),
        ),
        Index(
            "ix_messages_resend",
            "connector_id",
            "resend_key",
            sqlite_where=text("resend_key IS NOT NULL"),
            postgresql_where=text("resend_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(3))  # out, in
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # campaign, auto_reply, agent_reply, help, inbound
    purpose: Mapped[str] = mapped_column(String(16), default="informational")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    phone: Mapped[str] = mapped_column(String(20))  # the contact's number
    number_id: Mapped[int | None] = mapped_column(ForeignKey("numbers.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    run: Mapped[int] = mapped_column(Integer, default=0)
    variant_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_variants.id", ondelete="SET NULL")
    )
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    parts: Mapped[int] = mapped_column(default=1)
    parts_done: Mapped[int] = mapped_column(default=0)
    cost: Mapped[float] = mapped_column(Numeric(12, 5), default=0)
    status: Mapped[str] = mapped_column(String(12))
    send_after: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL")
    )
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    link_token: Mapped[str | None] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(40))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    callback_url: Mapped[str | None] = mapped_column(Text)  # status changes POSTed here
    resend_key: Mapped[str | None] = mapped_column(String(44))  # inbound: tells a resend apart
    inbound_link: Mapped[str | None] = mapped_column(String(32))  # the bind it came over
    # JSON object, character -> replacement, when smart encoding changed the text.
    smart_changes: Mapped[str | None] = mapped_column(Text)
    national: Mapped[str | None] = mapped_column(String(8))  # "locking/single" shift tables
    due_at: Mapped[datetime | None]  # when it was due before quiet hours moved it
    # sms, email, whatsapp, push, voice (core.channels.Channel)
    channel: Mapped[str] = mapped_column(String(12), default="sms", server_default="sms")
    # The recipient when it is not `phone`: an email address, a WhatsApp number, a push
    # subscription's id.
    address: Mapped[str | None] = mapped_column(String(512))
    # The channel's content beside `body` (subject, html, template, params, language)
    # and, for a campaign's chain, the rendered content of its later channels ("next").
    payload: Mapped[dict[str, Any] | None] = mapped_column(JsonColumn)
    chain_step: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fallback_at: Mapped[datetime | None]  # the next channel's turn if not delivered by then


class CarrierRef(Base):
    """The carrier's id for one part of one message, so a delivery report finds its message."""

    __tablename__ = "carrier_refs"
    # One carrier id may name several messages over time (carriers reuse ids, the
    # simulator counts from 1 after a restart): a report goes to the newest one awaiting it.
    __table_args__ = (
        Index("uq_carrier_refs_message", "connector_id", "carrier_id", "message_id", unique=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    carrier_id: Mapped[str] = mapped_column(String(80))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    part: Mapped[int] = mapped_column(default=0)
    state: Mapped[str | None] = mapped_column(String(12))


class DeliveryReportRow(Base):
    """Every delivery report received, matched or not, as the carrier sent it."""

    __tablename__ = "delivery_reports"
    __table_args__ = (Index("ix_delivery_reports_message", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[int | None] = mapped_column(
        ForeignKey("connectors.id", ondelete="SET NULL")
    )
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    carrier_id: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(12))
    error_code: Mapped[str | None] = mapped_column(String(40))
    raw: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime]


class ConnectorLogRow(Base):
    """One exchange with a carrier (request, response, timing), credentials redacted."""

    __tablename__ = "connector_log"
    __table_args__ = (Index("ix_connector_log_connector_at", "connector_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    connector_id: Mapped[int] = mapped_column(ForeignKey("connectors.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    request: Mapped[str] = mapped_column(Text, default="")
    response: Mapped[str] = mapped_column(Text, default="")
    duration_ms: Mapped[float] = mapped_column(default=0.0)
    message_ids: Mapped[list[int]] = mapped_column(JsonColumn, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime]
