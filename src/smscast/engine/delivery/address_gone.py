"""An address a channel told us not to use again: suppressed, or the person opted out.

A permanent bounce and a gone push subscription say the address is dead: it is kept in
`suppressed_addresses`, so no later import or campaign sends to it on that channel. A
spam complaint is the person's no: the address is suppressed *and* an opt-out of that
channel goes into the consent ledger, with the report as evidence. A digit pressed in a
call to opt out is an opt-out of voice. Written with the batch of events that carried
them, so a crash loses none (the channel reports again what it was never told we have).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, delete, select

from smscast.channels.base import AddressGone, GoneReason
from smscast.core.channels import Channel
from smscast.core.consent import Action, Purpose, Source
from smscast.engine.contacts.addresses import contact_of_address
from smscast.engine.inbound.consent_by_text import record_text_consent
from smscast.store.channel_models import PushSubscription, SuppressedAddress
from smscast.store.messaging_models import CarrierRef, Message
from smscast.store.models import table_of

suppressed = table_of(SuppressedAddress)
subscriptions = table_of(PushSubscription)
carrier_refs = table_of(CarrierRef)
messages = table_of(Message)
SOURCE_OF = {GoneReason.COMPLAINT: Source.COMPLAINT, GoneReason.OPT_OUT: Source.VOICE_KEY}


def record_addresses_gone(
    conn: Connection,
    workspace_id: int,
    connector_id: int,
    events: Sequence[AddressGone],
    now: datetime,
) -> None:
    for event in events:
        message_id = event.ref or _message_of(conn, connector_id, event.carrier_id)
        if event.reason == GoneReason.GONE and event.channel == Channel.PUSH:
            where = (
                subscriptions.c.id == int(event.address)
                if event.address.isdigit()
                else subscriptions.c.endpoint == event.address
            )
            conn.execute(
                delete(subscriptions).where(subscriptions.c.workspace_id == workspace_id, where)
            )
            continue
        if event.reason != GoneReason.OPT_OUT:
            suppress_address(conn, workspace_id, event, message_id, now)
        if event.reason in SOURCE_OF:
            contact_id = contact_of_address(conn, workspace_id, event.channel, event.address)
            if contact_id is not None:
                record_text_consent(
                    conn, workspace_id, contact_id, Action.OPT_OUT, Purpose.ALL.value,
                    SOURCE_OF[event.reason], event.detail or event.reason.value,
                    f"{event.channel}:{event.address}", event.at or now, channel=event.channel,
                )  # fmt: skip


def suppress_address(
    conn: Connection, workspace_id: int, event: AddressGone, message_id: int | None,
    now: datetime,
) -> None:  # fmt: skip
    """Keeps the address from being sent to again; a later reason replaces an earlier."""
    key = (
        suppressed.c.workspace_id == workspace_id,
        suppressed.c.channel == event.channel,
        suppressed.c.address == event.address,
    )
    conn.execute(delete(suppressed).where(*key))
    conn.execute(
        suppressed.insert().values(
            workspace_id=workspace_id, channel=event.channel, address=event.address,
            reason=event.reason.value, detail=event.detail[:2000], message_id=message_id,
            at=event.at or now,
        )
    )  # fmt: skip


def _message_of(conn: Connection, connector_id: int, carrier_id: str | None) -> int | None:
    if not carrier_id:
        return None
    found = conn.execute(
        select(carrier_refs.c.message_id)
        .where(carrier_refs.c.connector_id == connector_id,
               carrier_refs.c.carrier_id == carrier_id)
        .order_by(carrier_refs.c.message_id.desc())
        .limit(1)
    ).scalar()  # fmt: skip
    return int(found) if found is not None else None
