"""Webhook signatures verify only with the right secret, body and time; retries stop at 24 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from smscast.core.webhook_signing import (
    FIRST_RETRY,
    GIVE_UP_AFTER,
    LONGEST_WAIT,
    next_attempt,
    signature_header,
    verify_signature_header,
)

START = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


@given(st.text(min_size=1), st.binary(), st.integers(0, 2**40), st.binary(min_size=1))
def test_a_signature_verifies_only_for_its_secret_and_body(
    secret: str, body: bytes, stamp: int, extra: bytes
) -> None:
    header = signature_header(secret, stamp, body)
    assert verify_signature_header(secret, header, body, stamp)
    assert not verify_signature_header(secret + "x", header, body, stamp)
    assert not verify_signature_header(secret, header, body + extra, stamp)
    assert not verify_signature_header(secret, header, body, stamp + 301)


@given(st.text(max_size=200))
def test_garbage_headers_never_verify(header: str) -> None:
    assert not verify_signature_header("secret", header, b"{}", 1_700_000_000)


@given(st.lists(st.integers(0, 3 * 3600), min_size=1, max_size=60))
def test_retries_back_off_and_never_pass_a_day(delays: list[int]) -> None:
    now, previous_wait = START, timedelta(0)
    for attempts, extra in enumerate(delays, start=1):
        due = next_attempt(START, attempts, now)
        if due is None:
            assert now - START >= GIVE_UP_AFTER
            return
        wait = due - now
        assert due <= START + GIVE_UP_AFTER
        assert wait <= LONGEST_WAIT
        if due < START + GIVE_UP_AFTER:
            assert wait >= min(previous_wait, LONGEST_WAIT)
            assert wait >= FIRST_RETRY
        previous_wait = wait
        now = due + timedelta(seconds=extra)
