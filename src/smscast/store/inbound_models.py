"""Tables of the inbound side: keyword rules, compliance word edits, double opt-ins,
support tickets and how each inbound text was routed.

The inbound text itself is a `messages` row (direction "in"); `inbound_routes` says
what became of it, which is what response analysis counts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.models import Base, BigId
from smscast.store.types import JsonColumn


class KeywordRule(Base):
    """One rule of a number: a keyword (or none: the number's default rule) and its actions."""

    __tablename__ = "keyword_rules"
    __table_args__ = (UniqueConstraint("number_id", "keyword", name="uq_keyword_rules_keyword"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id", ondelete="CASCADE"))
    keyword: Mapped[str | None] = mapped_column(String(160))  # normalised; None: default rule
    aliases: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    match: Mapped[str] = mapped_column(String(12), default="first_word")
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn, default=list)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]


class ComplianceKeyword(Base):
    """A workspace's edit of a compliance list: a word added, or a default removed."""

    __tablename__ = "compliance_keywords"
    __table_args__ = (
        UniqueConstraint("workspace_id", "language", "kind", "word", name="uq_compliance_word"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(12))  # opt_out, opt_in, help
    word: Mapped[str] = mapped_column(String(160))  # normalised
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime]


class PendingOptIn(Base):
    """A double opt-in waiting for YES: one per contact and number, the latest JOIN wins."""

    __tablename__ = "pending_opt_ins"
    __table_args__ = (
        UniqueConstraint("contact_id", "number_id", name="uq_pending_opt_ins_contact"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id", ondelete="CASCADE"))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("keyword_rules.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(String(16), default="promotional")
    join_text: Mapped[str] = mapped_column(Text)
    prompt_text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Set when the opt-in was asked for on the public sign-up form: its evidence.
    web_sign_up_id: Mapped[int | None] = mapped_column(
        ForeignKey("web_sign_ups.id", ondelete="SET NULL")
    )


class WebSignUp(Base):
    """One use of a workspace's public sign-up form (`/join/<slug>`) that reached a phone.

    It is the form's evidence until the person's YES turns it into a consent event
    (the exact text agreed to, when, from which address and browser), and what the
    form's throttle counts: attempts per phone and per client address in the last hour.
    """

    __tablename__ = "web_sign_ups"
    __table_args__ = (
        Index("ix_web_sign_ups_phone", "phone", "created_at"),
        Index("ix_web_sign_ups_address", "client_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    number_id: Mapped[int | None] = mapped_column(ForeignKey("numbers.id", ondelete="SET NULL"))
    page: Mapped[str] = mapped_column(String(100))  # "/join/<slug>" as it was then
    phone: Mapped[str] = mapped_column(String(20))
    consent_text: Mapped[str] = mapped_column(Text)
    client_address: Mapped[str] = mapped_column(String(64))
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    outcome: Mapped[str] = mapped_column(String(20))  # sent, already_subscribed
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]


class Ticket(Base):
    """A support conversation: one per contact and number, open → pending → solved."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("contact_id", "number_id", name="uq_tickets_contact_number"),
        Index("ix_tickets_workspace_state", "workspace_id", "state", "updated_at"),
        Index("ix_tickets_workspace_updated", "workspace_id", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    number_id: Mapped[int] = mapped_column(ForeignKey("numbers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(10), default="open")
    assignee: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(200), default="")
    # The channel the person last wrote on: agents' replies go out on it.
    channel: Mapped[str] = mapped_column(String(12), default="sms", server_default="sms")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_inbound_at: Mapped[datetime | None]
    solved_at: Mapped[datetime | None]


class TicketNote(Base):
    """An agent's internal note on a ticket: never sent to the customer."""

    __tablename__ = "ticket_notes"
    __table_args__ = (Index("ix_ticket_notes_ticket", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(String(320))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]


class SavedReply(Base):
    """An agent's canned response: a template filled with the contact's attributes."""

    __tablename__ = "saved_replies"
    __table_args__ = (UniqueConstraint("workspace_id", "title", name="uq_saved_replies_title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class TicketPresence(Base):
    """Who is doing what on a ticket right now ("replying"), until a moment that the
    agent's open page keeps pushing forward: a closed tab lets the mark lapse."""

    __tablename__ = "ticket_presence"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    activity: Mapped[str] = mapped_column(String(16))
    until: Mapped[datetime]


class InboundRoute(Base):
    """What became of one inbound text: its route, rule, keyword and attributed campaign."""

    __tablename__ = "inbound_routes"
    __table_args__ = (
        Index("ix_inbound_routes_campaign", "campaign_id", "contact_id"),
        Index("ix_inbound_routes_number", "number_id", "received_at"),
        Index("ix_inbound_routes_rule", "rule_id"),
    )

    message_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    number_id: Mapped[int | None] = mapped_column(ForeignKey("numbers.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    route: Mapped[str] = mapped_column(String(16))
    keyword: Mapped[str | None] = mapped_column(String(160))
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("keyword_rules.id", ondelete="SET NULL"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    replies: Mapped[int] = mapped_column(default=0)  # automatic texts queued in answer
    suppressed: Mapped[int] = mapped_column(default=0)  # held back by the loop guard
    detail: Mapped[str | None] = mapped_column(Text)  # why nothing happened, when nothing did
    received_at: Mapped[datetime]
