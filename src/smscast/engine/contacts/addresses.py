"""A contact's address on each channel, and the contact behind an address.

SMS and voice reach the phone; WhatsApp the `whatsapp` number, else the phone; email
the `email` column; web push each of the contact's subscriptions (by id).
"""

from __future__ import annotations

from sqlalchemy import Connection, or_, select

from smscast.core.channels import Channel
from smscast.store.channel_models import PushSubscription
from smscast.store.models import Contact, table_of

contacts = table_of(Contact)
subscriptions = table_of(PushSubscription)


def contact_of_address(
    conn: Connection, workspace_id: int, channel: str, address: str
) -> int | None:
    """The contact an address on `channel` belongs to; the newest one where several share
    it (two people with one family email), None for nobody."""
    if channel == Channel.PUSH:
        where = (
            subscriptions.c.id == int(address)
            if address.isdigit()
            else (subscriptions.c.endpoint == address)
        )
        found = conn.execute(
            select(subscriptions.c.contact_id).where(
                subscriptions.c.workspace_id == workspace_id, where
            )
        ).scalar()
        return int(found) if found is not None else None
    if channel == Channel.EMAIL:
        match = contacts.c.email == address
    elif channel == Channel.WHATSAPP:
        match = or_(contacts.c.whatsapp == address, contacts.c.phone == address)
    else:
        match = contacts.c.phone == address
    found = conn.execute(
        select(contacts.c.id)
        .where(contacts.c.workspace_id == workspace_id, match)
        .order_by(contacts.c.id.desc())
        .limit(1)
    ).scalar()
    return int(found) if found is not None else None
