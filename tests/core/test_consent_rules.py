"""The consent ledger's rules: state is the last word; imports never undo an opt-out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smscast.core.consent import (
    Action,
    LedgerEntry,
    Purpose,
    Status,
    derive_state,
    import_may_opt_in,
    may_send,
    parse_consent_cell,
)

START = datetime(2026, 1, 1, tzinfo=UTC)
entries = st.lists(
    st.tuples(
        st.sampled_from(["promotional", "informational", "all"]), st.sampled_from(list(Action))
    ),
    max_size=30,
)


@given(entries)
def test_state_is_the_last_event_for_each_purpose(events: list[tuple[str, Action]]) -> None:
    ledger = [
        LedgerEntry(i + 1, "sms", purpose, action.value, START + timedelta(minutes=i))
        for i, (purpose, action) in enumerate(events)
    ]
    state = derive_state(reversed(ledger))
    for purpose in ("promotional", "informational"):
        last = [e for e in ledger if e.purpose in (purpose, "all")]
        if not last:
            assert ("sms", purpose) not in state
        else:
            expected = Status.OPTED_IN if last[-1].action == "opt_in" else Status.OPTED_OUT
            assert state[("sms", purpose)].status == expected
            assert state[("sms", purpose)].event_id == last[-1].id


@given(st.sampled_from([None, *Status]))
def test_promotional_needs_opt_in_informational_needs_no_opt_out(status: Status | None) -> None:
    assert may_send(status, Purpose.PROMOTIONAL) == (status == Status.OPTED_IN)
    assert may_send(status, Purpose.INFORMATIONAL) == (status != Status.OPTED_OUT)
    assert import_may_opt_in(status) == (status != Status.OPTED_OUT)


@pytest.mark.parametrize(
    ("cell", "action"),
    [("yes", Action.OPT_IN), ("TAK", Action.OPT_IN), (" no ", Action.OPT_OUT), ("", None)],
)
def test_consent_cells(cell: str, action: Action | None) -> None:
    assert parse_consent_cell(cell) == action


def test_unknown_consent_word_is_an_error_not_a_decision() -> None:
    with pytest.raises(ValueError, match='"maybe" is not a consent value'):
        parse_consent_cell("maybe")
