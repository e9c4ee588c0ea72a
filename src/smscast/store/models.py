"""The tables. One module while the schema is small; split by subject as it grows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from smscast.store.types import JsonColumn, UtcDateTime

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL wants BIGINT for big tables.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime(),
        dict[str, Any]: JsonColumn,
    }


class Workspace(Base):
    __tablename__ = "workspaces"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    country: Mapped[str] = mapped_column(String(2))
    timezone: Mapped[str] = mapped_column(String(64))
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    # May create workspaces and name other instance administrators (the first admin is one).
    instance_admin: Mapped[bool] = mapped_column(default=False)
    # The portal language this person chose ("en", "pl"); None follows the browser.
    locale: Mapped[str | None] = mapped_column(String(16))
    # Made with a one-time password someone else saw: the portal asks for a new one first.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]


class Dashboard(Base):
    """A named arrangement of tiles, owned by one user, shareable within the workspace."""

    __tablename__ = "dashboards"
    __table_args__ = (
        UniqueConstraint("workspace_id", "owner_id", "name", name="uq_dashboards_owner_name"),
        Index("ix_dashboards_workspace_shared", "workspace_id", "shared"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    shared: Mapped[bool] = mapped_column(default=False)
    layout: Mapped[list[dict[str, Any]]] = mapped_column(JsonColumn)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SignInThrottle(Base):
    """Failed sign-ins for one account (`account:<email>`) or client address
    (`address:<ip>`), kept in the database so every process counts the same attempts."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    last_failure_at: Mapped[datetime | None]
    blocked_until: Mapped[datetime | None]


class Membership(Base):
    __tablename__ = "memberships"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(20))


class Contact(Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("workspace_id", "phone", name="uq_contacts_workspace_phone"),
        Index("ix_contacts_email", "workspace_id", "email"),
        Index("ix_contacts_whatsapp", "workspace_id", "whatsapp"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320))
    whatsapp: Mapped[str | None] = mapped_column(String(16))  # E.164, when not the phone
    tags: Mapped[list[str]] = mapped_column(JsonColumn, default=list)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_import_id: Mapped[int | None] = mapped_column(Integer)


class ConsentEvent(Base):
    """Append-only proof of consent: nothing updates or deletes a row but erasure."""

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_contact", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(20))
    evidence: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    occurred_at: Mapped[datetime]


class ConsentState(Base):
    """The current consent per contact, channel and purpose: derived from the ledger."""

    __tablename__ = "consent_states"

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[int] = mapped_column(BigId)
    changed_at: Mapped[datetime]


class ErasedPhone(Base):
    """A keyed hash of an erased contact's phone: the person is gone, the refusal stays."""

    __tablename__ = "erased_phones"

    workspace_id: Mapped[int] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    phone_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime]


class ImportJob(Base):
    __tablename__ = "import_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200), default="")
    consent_source: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    rows_read: Mapped[int] = mapped_column(default=0)
    created: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    error_report: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(Text)  # why a failed import stopped


class AuditEvent(Base):
    """Who did what: the audit log."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_workspace_at", "workspace_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    workspace_id: Mapped[int | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE")
    )
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(200), default="")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime]


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model, typed as such for insert/update/select in bulk."""
    return cast(Table, model.__table__)
