"""The token bucket that keeps a connector within its carrier's parts per second."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from smscast.channels.ratelimit import TokenBucket


def test_unlimited_bucket_grants_everything() -> None:
    bucket = TokenBucket(rate=0)
    assert bucket.take(0.0, 10_000) == 10_000
    assert bucket.wait_time(0.0, 10_000) == 0.0


def test_grants_one_burst_then_refills_at_the_rate() -> None:
    bucket = TokenBucket(rate=100, burst=10)
    assert bucket.take(0.0, 50) == 10
    assert bucket.take(0.0, 5) == 0
    assert bucket.wait_time(0.0, 5) == 0.05
    assert bucket.take(0.05, 5) == 5
    assert bucket.take(1.0, 1000) == 10  # an idle second refills only one burst


def test_slow_down_halves_the_rate_and_recovers_over_time() -> None:
    bucket = TokenBucket(rate=100, burst=10, recover_s=10)
    bucket.take(0.0, 10)
    bucket.slow_down(0.0)
    assert bucket.current_rate == 50
    bucket.slow_down(0.0)
    assert bucket.current_rate == 25
    assert bucket.take(0.0, 1) == 0  # push-back empties the bucket
    bucket.take(5.0, 0)
    assert bucket.current_rate == 75
    bucket.take(60.0, 0)
    assert bucket.current_rate == 100


def test_slow_down_never_goes_under_the_minimum_rate() -> None:
    bucket = TokenBucket(rate=8, min_rate=2)
    for _ in range(10):
        bucket.slow_down(0.0)
    assert bucket.current_rate == 2


@given(
    rate=st.floats(min_value=1, max_value=10_000),
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2), st.integers(0, 5000)), max_size=50
    ),
)
def test_never_grants_more_than_burst_plus_rate_times_elapsed(
    rate: float, steps: list[tuple[float, int]]
) -> None:
    bucket = TokenBucket(rate=rate)
    now, granted = 0.0, 0
    for advance, wanted in steps:
        now += advance
        got = bucket.take(now, wanted)
        assert 0 <= got <= wanted
        granted += got
    assert granted <= bucket.burst + rate * now + 1e-6
