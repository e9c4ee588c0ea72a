"""Who wrote, and to what, on channels whose sender is not a phone number we route by.

An email or a WhatsApp message is filed the way an SMS is (a contact, one of the
workspace's numbers, perhaps the campaign it answers), but found otherwise:

- the message it answers (an email's In-Reply-To, a WhatsApp reply's context id) is
  looked up among our sent messages' carrier ids: its contact, number and campaign;
- the contact is the one whose address on the channel it came from is the sender's
  (`contacts.addresses.contact_of_address`), before the answered message's: a
  forwarded email answered by someone else is that person's, not the first reader's;
- the number is the answered message's, else the one written to (a WhatsApp number
  registered as a number), else the connector's own, else the workspace's default.

An email from an address no contact has stays a message without a contact: a contact
is a phone number first, and an email address alone makes none. A WhatsApp number
does: it is a phone, so a stranger's first WhatsApp message makes a contact as a
stranger's first SMS does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from smscast.channels.base import InboundMessage
from smscast.core.channels import Channel, normalise_email
from smscast.core.errors import UserError
from smscast.core.router import CampaignContact
from smscast.engine.contacts.addresses import contact_of_address
from smscast.engine.inbound.numbers import NumberRef, find_number
from smscast.engine.inbound.senders import campaign_contact
from smscast.engine.inbound.tickets import answer_payload
from smscast.engine.sending.routing import load_routes
from smscast.engine.tally import read_moment
from smscast.store.messaging_models import CarrierRef, Connector, Message
from smscast.store.models import table_of

messages = table_of(Message)
carrier_refs = table_of(CarrierRef)
connectors = table_of(Connector)


@dataclass(frozen=True, slots=True)
class Answered:
    """One of our messages that an inbound message answers."""

    message_id: int
    contact_id: int | None
    number_id: int | None
    campaign_id: int | None
    sent_at: datetime | None


@dataclass(frozen=True, slots=True)
class Placement:
    """Where an inbound message on another channel belongs; `reason` when nowhere."""

    address: str
    number: NumberRef | None
    contact_id: int | None
    replied: CampaignContact | None = None
    reason: str | None = None


def sender_address(message: InboundMessage) -> str:
    """The sender as contacts keep it: an email address with its domain in lower case,
    a WhatsApp number in E.164."""
    sender = message.sender.strip()
    if message.channel == Channel.EMAIL:
        try:
            return normalise_email(sender)
        except UserError:
            return sender
    if message.channel == Channel.WHATSAPP and sender.isdigit():
        return f"+{sender}"
    return sender


def place(
    conn: Connection, workspace_id: int, connector_id: int, owned: list[NumberRef],
    message: InboundMessage,
) -> Placement:  # fmt: skip
    """The contact, number and answered campaign of one message (see the module)."""
    address = sender_address(message)
    answered = find_answered(conn, workspace_id, message.in_reply_to)
    contact_id = contact_of_address(conn, workspace_id, message.channel, address)
    replied: CampaignContact | None = None
    if (
        answered is not None
        and answered.contact_id is not None
        and contact_id in (None, answered.contact_id)
    ):
        contact_id = answered.contact_id
        if answered.campaign_id is not None:
            sent_at = answered.sent_at or message.received_at
            replied = campaign_contact(conn, answered.campaign_id, sent_at)
    number = _number(conn, workspace_id, connector_id, owned, message, answered)
    if number is None:
        return Placement(address, None, contact_id, reason=(
            "the workspace has no number to file it under: add one with "
            "`smscast numbers add`"
        ))  # fmt: skip
    return Placement(address, number, contact_id, replied)


def find_answered(conn: Connection, workspace_id: int, carrier_id: str | None) -> Answered | None:
    """Our message whose carrier id (an email's Message-ID, with or without its angle
    brackets; a WhatsApp message id) is `carrier_id`, the newest where several are."""
    if not carrier_id:
        return None
    bare = carrier_id.strip().strip("<>")
    ids = sorted({bare, f"<{bare}>", carrier_id})
    ours = select(connectors.c.id).where(connectors.c.workspace_id == workspace_id)
    row = conn.execute(
        select(messages.c.id, messages.c.contact_id, messages.c.number_id,
               messages.c.campaign_id, messages.c.sent_at, messages.c.created_at)
        .join(carrier_refs, carrier_refs.c.message_id == messages.c.id)
        .where(carrier_refs.c.connector_id.in_(ours), carrier_refs.c.carrier_id.in_(ids),
               messages.c.workspace_id == workspace_id, messages.c.direction == "out")
        .order_by(messages.c.id.desc())
        .limit(1)
    ).first()  # fmt: skip
    if row is None:
        return None
    sent_at = read_moment(row.sent_at) or read_moment(row.created_at)
    return Answered(int(row.id), row.contact_id, row.number_id, row.campaign_id, sent_at)


def _number(
    conn: Connection, workspace_id: int, connector_id: int, owned: list[NumberRef],
    message: InboundMessage, answered: Answered | None,
) -> NumberRef | None:  # fmt: skip
    by_id = {n.id: n for n in owned}
    if answered is not None and answered.number_id in by_id:
        return by_id[answered.number_id]
    if message.channel == Channel.WHATSAPP:
        written_to = find_number(owned, message.recipient)
        if written_to is not None:
            return written_to
    own = next((n for n in owned if n.connector_id == connector_id), None)
    if own is not None:
        return own
    default = load_routes(conn, workspace_id).default_number
    return by_id.get(default) if default is not None else (owned[0] if owned else None)


def inbound_payload(message: InboundMessage) -> dict[str, Any] | None:
    """What the inbound row keeps beside the text: the subject, its own carrier id (an
    answer's In-Reply-To names it) and the id of ours it answers."""
    payload: dict[str, Any] = {}
    if message.subject:
        payload["subject"] = message.subject
    if message.carrier_ids:
        payload["message_id"] = message.carrier_ids[0]
    if message.in_reply_to:
        payload["in_reply_to"] = message.in_reply_to
    return payload or None


def answer_fields(message: InboundMessage, address: str, connector_id: int) -> dict[str, Any]:
    """What an automatic answer's outbox row carries to go back on the message's channel,
    by the connector it came in on, to the address it came from."""
    return {
        "channel": message.channel, "address": address, "connector_id": connector_id,
        "payload": answer_payload(message.channel, inbound_payload(message) or {}),
    }  # fmt: skip
