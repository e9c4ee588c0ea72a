"""Consent per channel: the derived state against a model simple enough to trust.

For any interleaving of opt-ins and opt-outs over channels (the opt-out "from
everything" included) and purposes, the state the ledger derives is, for each channel
and purpose, the action of the last event that speaks for it; an event on one channel
never moves another's; after an opt-out from everything nothing may be sent on any
channel until that channel's own opt-in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.channels import Channel
from smscast.core.consent import (
    ALL_CHANNELS,
    Action,
    LedgerEntry,
    Purpose,
    Status,
    derive_state,
    may_send,
    parse_consent_channel,
)
from smscast.core.errors import UserError

START = datetime(2026, 1, 1, tzinfo=UTC)
CHANNELS = [c.value for c in Channel]
PURPOSES = ["promotional", "informational"]
Event = tuple[str, str, Action]  # channel (or all), purpose (or all), action

events = st.lists(
    st.tuples(
        st.sampled_from([*CHANNELS, ALL_CHANNELS]),
        st.sampled_from([*PURPOSES, "all"]),
        st.sampled_from(list(Action)),
    ),
    max_size=40,
)


def ledger_of(found: list[Event]) -> list[LedgerEntry]:
    return [
        LedgerEntry(i + 1, channel, purpose, action.value, START + timedelta(minutes=i))
        for i, (channel, purpose, action) in enumerate(found)
    ]


def model(found: list[Event]) -> dict[tuple[str, str], Status]:
    """The state as a person would work it out: walk the events, and let each one set
    every (channel, purpose) it names, `all` naming every one."""
    state: dict[tuple[str, str], Status] = {}
    for channel, purpose, action in found:
        for c in CHANNELS if channel == ALL_CHANNELS else [channel]:
            for p in PURPOSES if purpose == "all" else [purpose]:
                state[(c, p)] = Status.OPTED_IN if action == Action.OPT_IN else Status.OPTED_OUT
    return state


@given(events)
def test_derived_state_equals_the_model(found: list[Event]) -> None:
    # Entries may come in any order: the ledger's id order is what counts.
    derived = derive_state(reversed(ledger_of(found)))

    assert {key: row.status for key, row in derived.items()} == model(found)
    assert all(channel in CHANNELS for channel, _purpose in derived)  # no "all" state


@given(events, st.sampled_from(CHANNELS), st.sampled_from([*PURPOSES, "all"]))
def test_an_event_on_one_channel_never_moves_another(
    found: list[Event], channel: str, purpose: str
) -> None:
    before = derive_state(ledger_of(found))
    after = derive_state(ledger_of([*found, (channel, purpose, Action.OPT_OUT)]))

    for (other, p), row in before.items():
        if other != channel:
            assert after[(other, p)] == row
    assert {key for key in after if key[0] != channel} == {
        key for key in before if key[0] != channel
    }


@given(events, events, st.sampled_from(CHANNELS))
def test_after_an_opt_out_from_everything_only_a_channels_own_opt_in_lets_it_send(
    before: list[Event], after: list[Event], channel: str
) -> None:
    # Everything after the opt-out from everything, but opt-ins on this channel.
    later = [e for e in after if not (e[0] in (channel, ALL_CHANNELS) and e[2] == Action.OPT_IN)]
    state = derive_state(ledger_of([*before, (ALL_CHANNELS, "all", Action.OPT_OUT), *later]))

    for purpose in (Purpose.PROMOTIONAL, Purpose.INFORMATIONAL):
        row = state[(channel, purpose.value)]
        assert not may_send(row.status, purpose)


@given(events, st.sampled_from(CHANNELS), st.sampled_from(PURPOSES))
def test_a_later_opt_in_on_the_channel_lifts_the_opt_out_there_alone(
    before: list[Event], channel: str, purpose: str
) -> None:
    found = [*before, (ALL_CHANNELS, "all", Action.OPT_OUT), (channel, purpose, Action.OPT_IN)]
    state = derive_state(ledger_of(found))

    assert may_send(state[(channel, purpose)].status, Purpose(purpose))
    for other in CHANNELS:
        for p in PURPOSES:
            if (other, p) != (channel, purpose):
                assert state[(other, p)].status == Status.OPTED_OUT


def test_channels_are_read_as_people_write_them() -> None:
    assert parse_consent_channel(" Email ") == "email"
    assert parse_consent_channel("ALL") == "all"
    with pytest.raises(UserError) as refused:
        parse_consent_channel("fax")
    assert refused.value.problem.field == "channel"
    assert "fax" in refused.value.problem.message
