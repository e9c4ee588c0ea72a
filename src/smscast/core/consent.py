"""Consent rules: the ledger's vocabulary and how the current state follows from it.

The ledger is append-only; the current state per (channel, purpose) is the last
event's action, in ledger order. An opt-out or opt-in for purpose `all` applies
to every purpose. Whether a text may be sent follows from that state alone.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from smscast.core.channels import Channel as Channel  # the ledger speaks of channels


class Purpose(enum.StrEnum):
    PROMOTIONAL = "promotional"
    INFORMATIONAL = "informational"
    ALL = "all"


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


def derive_state(entries: Iterable[LedgerEntry]) -> dict[tuple[str, str], StateRow]:
    """Replays ledger entries (in id order) into the current state per channel and purpose."""
    state: dict[tuple[str, str], StateRow] = {}
    for entry in sorted(entries, key=lambda e: e.id):
        status = STATUS_OF_ACTION[Action(entry.action)]
        for purpose in purposes_of(entry.purpose):
            state[(entry.channel, purpose.value)] = StateRow(
                entry.channel, purpose.value, status, entry.id, entry.occurred_at
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
