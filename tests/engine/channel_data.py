"""Contacts with addresses and consent on several channels, for the chain tests."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from smscast.config import Settings
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.launch import launch_campaign
from smscast.store.channel_models import PushSubscription, SuppressedAddress
from smscast.store.messaging_models import Message
from smscast.store.models import ConsentState, Contact, table_of

contacts = table_of(Contact)
consent_states = table_of(ConsentState)
subscriptions = table_of(PushSubscription)
suppressed = table_of(SuppressedAddress)
messages = table_of(Message)


def add_person(
    engine: Engine, workspace: WorkspaceRef, phone: str, now: datetime, *,
    email: str | None = None, whatsapp: str | None = None, consent: tuple[str, ...] = ("sms",),
    purpose: str = "promotional", opted_out: tuple[str, ...] = (), language: str = "pl",
    **attributes: Any,
) -> int:  # fmt: skip
    """A contact opted in on each channel of `consent` (opted out on `opted_out`)."""
    with engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts).values(
                workspace_id=workspace.id, phone=phone, country="PL", attributes=attributes,
                language=language, timezone="Europe/Warsaw", email=email, whatsapp=whatsapp,
                tags=[], created_at=now, updated_at=now,
            ).returning(contacts.c.id)
        ).scalar_one()  # fmt: skip
        states = [(c, "opted_in") for c in consent] + [(c, "opted_out") for c in opted_out]
        for channel, status in states:
            conn.execute(insert(consent_states).values(
                contact_id=contact_id, channel=channel, purpose=purpose, status=status,
                event_id=0, changed_at=now))  # fmt: skip
    return int(contact_id)


def add_subscription(engine: Engine, workspace: WorkspaceRef, contact_id: int, endpoint: str,
                     now: datetime) -> int:  # fmt: skip
    with engine.begin() as conn:
        return int(conn.execute(insert(subscriptions).values(
            workspace_id=workspace.id, contact_id=contact_id, endpoint=endpoint,
            p256dh="key", auth="auth", created_at=now,
        ).returning(subscriptions.c.id)).scalar_one())  # fmt: skip


def suppress(engine: Engine, workspace: WorkspaceRef, channel: str, address: str,
             now: datetime) -> None:  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(suppressed).values(
            workspace_id=workspace.id, channel=channel, address=address, reason="bounce",
            detail="", at=now))  # fmt: skip


def launch(engine: Engine, settings: Settings, workspace: WorkspaceRef, campaign_id: int,
           now: datetime) -> dict[str, Any]:  # fmt: skip
    return launch_campaign(engine, settings, workspace, campaign_id, actor="t", now=now,
                           rng=random.Random(1))  # fmt: skip


def campaign_rows(engine: Engine, campaign_id: int) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(
            select(messages).where(messages.c.campaign_id == campaign_id)
            .order_by(messages.c.contact_id, messages.c.chain_step)
        ).all())  # fmt: skip
