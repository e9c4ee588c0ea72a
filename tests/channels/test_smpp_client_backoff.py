"""Reconnect delays: growing, bounded, jittered."""

from __future__ import annotations

import random

import pytest

from smscast.channels.backoff import Backoff


def test_delays_double_up_to_the_maximum_with_jitter() -> None:
    backoff = Backoff(min_s=1, max_s=30, rng=random.Random(7))
    delays = [backoff.next_delay() for _ in range(12)]
    caps = [min(30, 2**i) for i in range(12)]
    for delay, cap in zip(delays, caps, strict=True):
        assert cap / 2 <= delay <= cap
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule


def test_reset_starts_small_again() -> None:
    backoff = Backoff(min_s=1, max_s=60, rng=random.Random(1))
    for _ in range(10):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_a_long_outage_does_not_overflow() -> None:
    backoff = Backoff(min_s=0.5, max_s=60)
    backoff.attempt = 10_000
    assert backoff.next_delay() <= 60


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="min"):
        Backoff(min_s=5, max_s=1)
