"""The channels a message can travel on, and which connector kinds speak each.

A contact has an address per channel (the phone for SMS and voice, an email address,
a WhatsApp number, web push subscriptions) and consent per channel in the one ledger.
A campaign names a chain of channels: each person gets the first one that works for
them, and the next one only when it did not (see `engine.campaigns.fallback`).
"""

from __future__ import annotations

import enum
import re
from datetime import datetime, timedelta

from smscast.core.errors import UserError


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    PUSH = "push"
    VOICE = "voice"


#: The connector kinds of each channel. A kind belongs to exactly one channel, so a
#: message's channel picks the connectors that may carry it.
KINDS_OF_CHANNEL: dict[Channel, tuple[str, ...]] = {
    Channel.SMS: ("smpp", "twilio", "infobip", "kannel"),
    Channel.EMAIL: ("smtp",),
    Channel.WHATSAPP: ("whatsapp_cloud", "infobip_whatsapp"),
    Channel.PUSH: ("webpush",),
    Channel.VOICE: ("infobip_voice", "twilio_voice"),
}
CHANNEL_OF_KIND: dict[str, Channel] = {
    kind: channel for channel, kinds in KINDS_OF_CHANNEL.items() for kind in kinds
}
#: Channels whose address is the contact's phone number (E.164).
PHONE_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
#: Channels on which one message is one SMS-like text counted in parts; the others
#: carry one unit per message whatever its length.
PART_COUNTED = frozenset({Channel.SMS})

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s<>\"(),;:]+@{_LABEL}(?:\.{_LABEL})+$")


#: How long after a person's last WhatsApp message we may write to them freely; outside
#: it, only an approved template (WhatsApp Business Platform's customer-service window).
SERVICE_WINDOW = timedelta(hours=24)


def within_service_window(last_inbound: datetime | None, now: datetime) -> bool:
    return last_inbound is not None and now - last_inbound < SERVICE_WINDOW


def channel_of_kind(kind: str) -> Channel:
    """The channel a connector kind sends on; an unknown kind is SMS's business to refuse."""
    return CHANNEL_OF_KIND.get(kind, Channel.SMS)


def parse_channel(text: str, *, field: str = "channel") -> Channel:
    word = text.strip().lower()
    try:
        return Channel(word)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise UserError.of(
            "unknown_channel", f'"{text}" is not a channel: use one of {names}', field=field
        ) from None


def parse_channel_chain(text: str, *, field: str = "channels") -> tuple[Channel, ...]:
    """`whatsapp,sms` → the channels in the order they are tried; each at most once."""
    words = [word for word in text.split(",") if word.strip()]
    if not words:
        raise UserError.of("missing_channel", "name at least one channel, like sms", field=field)
    chain = tuple(parse_channel(word, field=field) for word in words)
    repeated = sorted({c.value for c in chain if chain.count(c) > 1})
    if repeated:
        raise UserError.of(
            "repeated_channel", f"{', '.join(repeated)} is named twice in {text!r}", field=field
        )
    return chain


def check_fallback_delay(delay: timedelta, *, field: str = "fallback_after") -> timedelta:
    """A fallback delay between one minute and three days: shorter falls back before a
    chat app's own report can come; longer is no longer the same campaign."""
    if delay < timedelta(minutes=1) or delay > timedelta(days=3):
        raise UserError.of(
            "bad_fallback_delay", "the fallback delay must be between 1m and 3d", field=field
        )
    return delay


def normalise_email(text: str, *, field: str = "email") -> str:
    """An email address as stored: trimmed, the domain in lower case. The local part
    keeps its case (RFC 5321 lets a server tell `Ann` from `ann`, few do)."""
    value = text.strip()
    if not _EMAIL.match(value) or len(value) > 320:
        raise UserError.of("bad_email", f'"{text}" is not an email address', field=field)
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"
