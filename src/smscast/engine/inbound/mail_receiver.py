"""The SMTP listener inside `smscast serve`: mail that comes back, stored as events.

`channels.email.listener` reads each mail into events; this module finds whose they
are and stores them, before the listener answers 250:

- a bounce or complaint names our email by its Message-ID: the smtp connector whose
  carrier ids hold it is the sender, its workspace the owner. The report marks the
  message undelivered (`delivery.reports.apply_reports`) and the address is suppressed
  (`delivery.address_gone.record_addresses_gone`) in one transaction;
- a reply is found the same way through its In-Reply-To (or last References id) and
  goes to `inbound.receive.handle_inbound` as that connector's;
- mail that names none of ours is matched by the address it was sent to: an smtp
  connector whose from, reply_to or return_path setting is that address. Mail that
  matches nothing is logged and accepted (refusing it would only bounce it back to a
  stranger, or to a mailbox provider's feedback loop).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import Connection, Engine, select

from smscast.channels.base import AddressGone, DeliveryReport, InboundMessage
from smscast.channels.email.dsn import MailEvent
from smscast.channels.email.listener import MailListener, start_mail_listener
from smscast.config import Settings
from smscast.core.channels import KINDS_OF_CHANNEL, Channel
from smscast.engine.delivery.address_gone import record_addresses_gone
from smscast.engine.delivery.reports import apply_reports
from smscast.engine.inbound.receive import handle_inbound
from smscast.store.messaging_models import CarrierRef, Connector
from smscast.store.models import table_of

log = logging.getLogger(__name__)
connectors = table_of(Connector)
carrier_refs = table_of(CarrierRef)
EMAIL_KINDS = KINDS_OF_CHANNEL[Channel.EMAIL]
ADDRESS_SETTINGS = ("from", "reply_to", "return_path")


@dataclass(frozen=True, slots=True)
class Owner:
    """The smtp connector a mail belongs to, and the carrier id as it stored it."""

    connector_id: int
    workspace_id: int
    carrier_id: str | None = None


def store_mail_events(
    engine: Engine, settings: Settings, events: Sequence[MailEvent], now: datetime
) -> None:
    """Stores what one mail said; raises when the database refused (the listener then
    answers 451 and the sending server tries again)."""
    reports = [e for e in events if isinstance(e, DeliveryReport)]
    gone = [e for e in events if isinstance(e, AddressGone)]
    replies = [e for e in events if isinstance(e, InboundMessage)]
    if reports or gone:
        _store_bounce(engine, settings, reports, gone, now)
    for message in replies:
        with engine.connect() as conn:
            owner = find_owner(conn, message.in_reply_to, [message.recipient])
        if owner is None:
            log.warning("email from %s to %s answers no email of ours and reaches no smtp "
                        "connector's address: accepted, not stored", message.sender,
                        message.recipient)  # fmt: skip
            continue
        if owner.carrier_id is not None:
            message = replace(message, in_reply_to=owner.carrier_id)
        handle_inbound(engine, settings, owner.connector_id, message)


def _store_bounce(
    engine: Engine, settings: Settings, reports: list[DeliveryReport], gone: list[AddressGone],
    now: datetime,
) -> None:  # fmt: skip
    named = [r.carrier_id for r in reports] + [g.carrier_id or "" for g in gone]
    carrier_id = next((c for c in named if c), None)
    with engine.begin() as conn:
        owner = find_owner(conn, carrier_id, [])
        if owner is None:
            log.warning("a bounce or complaint about %s (message %s) names no email of ours: "
                        "accepted, nothing suppressed", ", ".join(g.address for g in gone),
                        carrier_id or "unknown")  # fmt: skip
            return
        if owner.carrier_id is not None:
            reports = [replace(r, carrier_id=owner.carrier_id) for r in reports]
            gone = [replace(g, carrier_id=owner.carrier_id) for g in gone]
        if reports:
            late = timedelta(hours=settings.dlr_late_window_hours)
            apply_reports(conn, owner.connector_id, reports, now, late)
        if gone:  # after the reports: a bounce's report marks its message first
            record_addresses_gone(conn, owner.workspace_id, owner.connector_id, gone, now)


def find_owner(conn: Connection, carrier_id: str | None, addresses: Sequence[str]) -> Owner | None:
    """The smtp connector that sent the email `carrier_id` names (as stored, with or
    without angle brackets), else the one whose own address is one of `addresses`."""
    if carrier_id:
        bare = carrier_id.strip().strip("<>")
        row = conn.execute(
            select(carrier_refs.c.connector_id, carrier_refs.c.carrier_id,
                   connectors.c.workspace_id)
            .join(connectors, connectors.c.id == carrier_refs.c.connector_id)
            .where(carrier_refs.c.carrier_id.in_(sorted({bare, f"<{bare}>"})),
                   connectors.c.kind.in_(EMAIL_KINDS))
            .order_by(carrier_refs.c.message_id.desc())
            .limit(1)
        ).first()  # fmt: skip
        if row is not None:
            return Owner(int(row.connector_id), int(row.workspace_id), row.carrier_id)
    wanted = {a.strip().lower() for a in addresses if a.strip()}
    if not wanted:
        return None
    rows = conn.execute(
        select(connectors.c.id, connectors.c.workspace_id, connectors.c.settings)
        .where(connectors.c.kind.in_(EMAIL_KINDS))
        .order_by(connectors.c.enabled.desc(), connectors.c.id)
    )  # fmt: skip
    for row in rows:
        own = {
            parseaddr(str(value))[1].strip().lower()
            for name in ADDRESS_SETTINGS
            if (value := (row.settings or {}).get(name))
        }
        if own & wanted:
            return Owner(int(row.id), int(row.workspace_id))
    return None


async def start_mail_receiver(
    engine: Engine,
    settings: Settings,
    *,
    host: str,
    port: int,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> MailListener:
    """Listens for mail on `host`:`port`; each mail is stored in a worker thread before
    it is answered."""

    async def deliver(events: Sequence[MailEvent]) -> None:
        await asyncio.to_thread(store_mail_events, engine, settings, events, clock())

    return await start_mail_listener(deliver, host=host, port=port, clock=clock)
