"""The one small interface every connector implements, and the events it speaks in.

A connector turns our messages into the wire (SMPP PDUs, HTTP requests, SMTP) and
the wire's answers into events: submit results, delivery reports, inbound messages
and connector log entries. The engine persists events; connectors never touch the
database, so a connector can be tested with nothing but a socket.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """One text to one recipient, as the engine hands it to a connector.

    `ref` is our message id; every event about this message carries it back.
    The connector splits the text into parts with the message core, using its
    own settings (data coding, UDH or SAR). `national` is the (locking, single)
    national shift table pair the engine counted the parts with ((None, None): the
    default alphabet); None leaves the choice to the connector's settings.

    On channels beside SMS, `recipient` is the address on that channel (an email
    address, a WhatsApp number, a push subscription's endpoint id) and `extras` holds
    what the channel carries beside the text, by name: `subject`, `html`,
    `unsubscribe_url` (email); `template`, `language`, `params` (WhatsApp); `language`
    (voice); `subscription` ({endpoint, p256dh, auth}) and `title`, `url` (push).
    """

    ref: int
    sender: str
    recipient: str
    text: str
    want_report: bool = True
    valid_until: datetime | None = None
    national: tuple[str | None, str | None] | None = None
    channel: str = "sms"
    extras: Mapping[str, Any] = field(default_factory=dict)


class SubmitOutcome(enum.StrEnum):
    ACCEPTED = "accepted"  # every part was accepted by the carrier
    TEMPORARY = "temporary"  # rejected for now (throttled, queue full): retry later
    PERMANENT = "permanent"  # rejected for good: fail the message
    UNKNOWN = "unknown"  # no answer in time: the carrier may or may not have it


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """What became of submitting one message (all of its parts)."""

    ref: int
    outcome: SubmitOutcome
    carrier_ids: tuple[str, ...] = ()
    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None


#: Called by the engine once the event it came with is committed: the connector then
#: tells the carrier (SMPP deliver_sm_resp), so a crash before the commit loses nothing,
#: as the carrier sends again what it was never told we have. Events that need no
#: answer (HTTP callbacks are answered by the API after its commit) carry None.
Ack = Callable[[], None]


class ReportState(enum.StrEnum):
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    EXPIRED = "expired"
    REJECTED = "rejected"
    DELETED = "deleted"
    ACCEPTED = "accepted"  # intermediate: the carrier has it, not yet final
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A carrier's word on one part, matched to our message where the connector could.

    `ref` is our message id when the connector knows it (it matched the carrier id
    to a submit it made); otherwise None and the engine matches on `carrier_id`
    (an email's Message-ID, a WhatsApp message id, a call id on other channels).
    A chat app's "read" comes as DELIVERED with "read" in `raw`.
    """

    carrier_id: str
    state: ReportState
    ref: int | None = None
    error_code: str | None = None
    done_at: datetime | None = None
    raw: str = ""
    ack: Ack | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A text someone sent to one of our numbers, reassembled from all its parts."""

    sender: str
    recipient: str
    text: str
    received_at: datetime
    carrier_ids: tuple[str, ...] = ()
    parts: int = 1
    ack: Ack | None = field(default=None, compare=False, repr=False)
    #: The connection (SMPP bind) it came over, "" where there is none. A carrier sends
    #: a text again only over a later connection, which tells a resend from a repeat.
    link: str = field(default="", compare=False)
    #: sms, email, whatsapp, voice: `sender` is the address on that channel (an email
    #: address, a WhatsApp number in E.164) and `recipient` ours on it.
    channel: str = "sms"
    #: The carrier id of our message this one answers (an email's In-Reply-To, a
    #: WhatsApp reply's context id): ties a reply to the campaign it answers.
    in_reply_to: str | None = None
    subject: str = ""


class GoneReason(enum.StrEnum):
    BOUNCE = "bounce"  # the address does not exist (a permanent DSN, 5.x.x)
    COMPLAINT = "complaint"  # the person marked our message as spam (ARF)
    GONE = "gone"  # the push service no longer knows the subscription (404, 410)
    OPT_OUT = "opt_out"  # the person asked, through the channel (a digit pressed in a call)


@dataclass(frozen=True, slots=True)
class AddressGone:
    """An address we must not send to again on `channel`, and why.

    `ref` or `carrier_id` name the message that told us, where known. For OPT_OUT the
    engine records the person's opt-out of the channel in the consent ledger; the
    others suppress the address itself (see `store.channel_models.SuppressedAddress`).
    """

    channel: str
    address: str
    reason: GoneReason
    detail: str = ""
    ref: int | None = None
    carrier_id: str | None = None
    at: datetime | None = None
    ack: Ack | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One exchange with a carrier (request, response, timing), credentials redacted."""

    connector: str
    kind: str
    request: str
    response: str
    duration_ms: float
    at: datetime
    refs: tuple[int, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ConnectorState:
    """Whether a connector can send now, and why not."""

    name: str
    connected: bool
    detail: str = ""
    in_flight: int = 0
    sent_per_s: float = 0.0
    last_errors: tuple[str, ...] = field(default_factory=tuple)


ChannelEvent = SubmitResult | DeliveryReport | InboundMessage | LogEntry | AddressGone


class Connector(Protocol):
    """One carrier connection. Adding a provider is adding a module that fits this."""

    name: str

    async def start(self) -> None:
        """Connects (binds, authenticates); returns once the connector can send."""

    async def send(self, batch: Sequence[OutgoingMessage]) -> list[SubmitResult]:
        """Submits every message of `batch` within the connector's rate and window."""

    def events(self) -> AsyncIterator[ChannelEvent]:
        """Delivery reports, inbound messages and log entries, as they arrive."""

    def state(self) -> ConnectorState:
        """What the connector is doing now, for the dashboard and the dispatcher."""

    async def stop(self) -> None:
        """Stops taking work, waits for outstanding answers, disconnects cleanly."""
