"""Contacts, consent and coupons written straight into the tables, for campaign tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, insert

from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.campaigns.coupons import add_codes
from smscast.store.models import ConsentState, Contact, table_of

contacts = table_of(Contact)
consent_states = table_of(ConsentState)


def add_contact(
    engine: Engine, workspace: WorkspaceRef, phone: str, now: datetime, *,
    consent: str | None = "opted_in", purpose: str = "promotional", country: str = "PL",
    timezone: str = "Europe/Warsaw", tags: list[str] | None = None, language: str | None = "pl",
    **attributes: Any,
) -> int:  # fmt: skip
    """One contact; `consent` is its SMS state for `purpose` (None: no consent recorded)."""
    with engine.begin() as conn:
        contact_id = conn.execute(
            insert(contacts)
            .values(
                workspace_id=workspace.id, phone=phone, country=country, attributes=attributes,
                language=language, timezone=timezone, email=None, tags=tags or [],
                created_at=now, updated_at=now,
            )
            .returning(contacts.c.id)
        ).scalar_one()  # fmt: skip
        if consent is not None:
            conn.execute(
                insert(consent_states).values(
                    contact_id=contact_id, channel="sms", purpose=purpose, status=consent,
                    event_id=0, changed_at=now,
                )
            )  # fmt: skip
    return int(contact_id)


def add_pool(engine: Engine, workspace: WorkspaceRef, name: str, codes: list[str],
             now: datetime) -> None:  # fmt: skip
    add_codes(engine, workspace, name, codes, actor="test", now=now)
