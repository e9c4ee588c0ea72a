"""A token bucket that limits a connector to so many parts per second.

The clock is passed in (`now`, in seconds from any monotonic origin) so the
bucket can be tested without sleeping and shared by code that already read the
clock once for a whole batch.

Carriers push back with "throttled" or "queue full" answers. `slow_down` halves
the sending rate when that happens and the rate climbs back to the configured
one over `recover_s` seconds without further push-back, so a connector settles
just under what the carrier accepts instead of hammering it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    """Allows `rate` parts per second on average with bursts of up to `burst` parts.

    `rate <= 0` means no limit. The current rate may be below `rate` after
    `slow_down`; it never goes under `min_rate`.
    """

    rate: float
    burst: float = 0.0
    min_rate: float = 1.0
    recover_s: float = 10.0
    _tokens: float = field(default=0.0, init=False)
    _stamp: float | None = field(default=None, init=False)
    _current: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        if self.burst <= 0:
            # A burst of a tenth of a second's worth keeps writes batched without
            # letting a long idle period turn into a flood.
            self.burst = max(1.0, self.rate / 10)
        self._current = self.rate
        self._tokens = self.burst

    @property
    def limited(self) -> bool:
        return self.rate > 0

    @property
    def current_rate(self) -> float:
        """The rate in force now (lower than `rate` after push-back)."""
        return self._current if self.limited else 0.0

    def _refill(self, now: float) -> None:
        if self._stamp is None:
            self._stamp = now
            return
        elapsed = max(0.0, now - self._stamp)
        self._stamp = now
        if self._current < self.rate and self.recover_s > 0:
            self._current = min(self.rate, self._current + self.rate * elapsed / self.recover_s)
        self._tokens = min(self.burst, self._tokens + elapsed * self._current)

    def take(self, now: float, wanted: int) -> int:
        """Takes up to `wanted` tokens and returns how many were granted (maybe 0)."""
        if not self.limited:
            return wanted
        self._refill(now)
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted

    def wait_time(self, now: float, wanted: int = 1) -> float:
        """Seconds until `wanted` tokens (at most one burst) will be available."""
        if not self.limited:
            return 0.0
        self._refill(now)
        missing = min(float(wanted), self.burst) - self._tokens
        return 0.0 if missing <= 0 else missing / self._current

    def slow_down(self, now: float) -> None:
        """Halves the rate in force (carrier pushed back) and empties the bucket."""
        if not self.limited:
            return
        self._refill(now)
        self._current = max(self.min_rate, self._current / 2)
        self._tokens = 0.0
