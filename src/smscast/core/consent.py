"""Consent rules: the ledger's vocabulary and how the current state follows from it.

The ledger is append-only; the current state per (channel, purpose) is the last
event's action, in ledger order. An opt-out or opt-in for purpose `all` applies
to every purpose, and one for channel `all` (the opt-out "from everything") to every
channel: the state is kept per real channel only, so whoever reads one channel's state
sees an `all` event without knowing it exists. Whether a message may be sent follows
from that state alone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from smscast.core.channels import Channel as Channel  # the ledger speaks of channels
from smscast.core.errors import UserError


class Purpose(enum.StrEnum):
    PROMOTIONAL = "promotional"
    INFORMATIONAL = "informational"
    ALL = "all"


class ConsentChannel(enum.StrEnum):
    """What a consent event may name: one channel, or `all` of them at once."""

    SMS = "sms"
    EMAIL = "email"
    WHATSAPP = "whatsapp"
    PUSH = "push"
    VOICE = "voice"
    ALL = "all"


ALL_CHANNELS = ConsentChannel.ALL.value
#: The channels a state is kept for (an `all` event writes one state row per channel).
STATE_CHANNELS = tuple(channel.value for channel in Channel)


class Action(enum.StrEnum):
    OPT_IN = "opt_in"
    OPT_OUT = "opt_out"


class Source(enum.StrEnum):
    IMPORT = "import"
    KEYWORD = "keyword"
    API = "api"
    UI = "ui"
    DOUBLE_OPT_IN = "double_opt_in"
    CLI = "cli"
    WEB_FORM = "web_form"  # the public sign-up page, confirmed by a YES (double opt-in)
    UNSUBSCRIBE = "unsubscribe"  # an email's unsubscribe link (RFC 8058 one-click or page)
    COMPLAINT = "complaint"  # the person marked an email as spam (a feedback report)
    VOICE_KEY = "voice_key"  # the opt-out digit pressed during a call
    PUSH_SUBSCRIBE = "push_subscribe"  # the browser's permission on the sign-up page


class Status(enum.StrEnum):
    OPTED_IN = "opted_in"
    OPTED_OUT = "opted_out"


STATUS_OF_ACTION = {Action.OPT_IN: Status.OPTED_IN, Action.OPT_OUT: Status.OPTED_OUT}
SPECIFIC_PURPOSES = (Purpose.PROMOTIONAL, Purpose.INFORMATIONAL)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """What the state derivation needs of one consent event."""

    id: int
    channel: str
    purpose: str
    action: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class StateRow:
    channel: str
    purpose: str
    status: Status
    event_id: int
    changed_at: datetime


def purposes_of(purpose: str) -> tuple[Purpose, ...]:
    """The specific purposes an event for `purpose` speaks for."""
    return SPECIFIC_PURPOSES if purpose == Purpose.ALL else (Purpose(purpose),)


def channels_of(channel: str) -> tuple[str, ...]:
    """The channels an event for `channel` speaks for: every one for `all`."""
    return STATE_CHANNELS if channel == ALL_CHANNELS else (channel,)


def parse_consent_channel(text: str, *, field: str = "channel") -> str:
    """`Email ` → `email`; `all` for every channel. UserError names the field otherwise."""
    word = text.strip().lower()
    try:
        return ConsentChannel(word).value
    except ValueError:
        names = ", ".join(c.value for c in ConsentChannel)
        raise UserError.of(
            "unknown_channel", f'"{text}" is not a channel: use one of {names}', field=field
        ) from None


def derive_state(entries: Iterable[LedgerEntry]) -> dict[tuple[str, str], StateRow]:
    """Replays ledger entries (in id order) into the current state per channel and purpose.

    Only real channels have a state: an event for channel `all` sets each of them.
    """
    state: dict[tuple[str, str], StateRow] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        status = STATUS_OF_ACTION[Action(entry.action)]
        for channel in channels_of(entry.channel):
            for purpose in purposes_of(entry.purpose):
                state[(channel, purpose.value)] = StateRow(
                    channel, purpose.value, status, entry.id, entry.occurred_at
                )
    return state


def may_send(status: Status | None, purpose: Purpose) -> bool:
    """Promotional texts need an opt-in; informational ones only the absence of an opt-out."""
    if purpose == Purpose.PROMOTIONAL:
        return status == Status.OPTED_IN
    return status != Status.OPTED_OUT


def import_may_opt_in(current: Status | None) -> bool:
    """An import can add an opt-in, never undo an opt-out: that needs the person's own word."""
    return current != Status.OPTED_OUT


CONSENT_WORDS_IN = frozenset({"yes", "y", "true", "1", "opt_in", "opt-in", "optin", "tak", "t"})
CONSENT_WORDS_OUT = frozenset(
    {"no", "n", "false", "0", "opt_out", "opt-out", "optout", "nie", "stop"}
)


def parse_consent_cell(value: str) -> Action | None:
    """Reads a CSV `consent` cell: yes/no words (English and Polish) or empty for no change.

    Raises ValueError for anything else, so a typo never becomes a consent decision.
    """
    word = value.strip().lower()
    if not word:
        return None
    if word in CONSENT_WORDS_IN:
        return Action.OPT_IN
    if word in CONSENT_WORDS_OUT:
        return Action.OPT_OUT
    raise ValueError(f'"{value}" is not a consent value (use yes or no)')
