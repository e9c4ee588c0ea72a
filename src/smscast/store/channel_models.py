"""Tables of the channels beside SMS: web push subscriptions and suppressed addresses.

A contact's email and WhatsApp number are columns of `contacts`; a person may have
several push subscriptions (one per browser), so they have a table. An address that
bounced or complained is suppressed by address, not by contact: a re-import of the
same address, or the address moved to another contact, is still never mailed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from smscast.store.models import Base, BigId


class PushSubscription(Base):
    """One browser's web push subscription (RFC 8030 endpoint, RFC 8291 keys)."""

    __tablename__ = "push_subscriptions"
    __table_args__ = (
        UniqueConstraint("workspace_id", "endpoint", name="uq_push_subscriptions_endpoint"),
        Index("ix_push_subscriptions_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(Text)
    p256dh: Mapped[str] = mapped_column(String(200))  # the browser's public key, base64url
    auth: Mapped[str] = mapped_column(String(100))  # the shared auth secret, base64url
    user_agent: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime]
    last_sent_at: Mapped[datetime | None]


class SuppressedAddress(Base):
    """An address nothing is sent to again on its channel: bounced, complained, gone."""

    __tablename__ = "suppressed_addresses"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(12), primary_key=True)
    address: Mapped[str] = mapped_column(String(512), primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # bounce, complaint, gone
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    message_id: Mapped[int | None] = mapped_column(BigId)  # the message that told us
    at: Mapped[datetime]
