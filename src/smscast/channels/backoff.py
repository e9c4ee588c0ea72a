"""Exponential backoff with jitter for reconnecting to a carrier.

Jitter matters when many connectors (or many workers) lose a carrier at the
same moment: without it they all come back in the same instant and get
refused together. The random source is passed in so tests are deterministic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Delays that double from `min_s` up to `max_s`, each drawn with "full jitter".

    A delay is drawn uniformly from [cap/2, cap] where cap is the current
    exponential step: never zero (no reconnect storm) and never above `max_s`.
    """

    min_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.min_s <= 0 or self.max_s < self.min_s:
            raise ValueError(f"backoff: need 0 < min ({self.min_s}) <= max ({self.max_s})")
        if self.factor < 1:
            raise ValueError(f"backoff: factor must be at least 1, not {self.factor}")

    def next_delay(self) -> float:
        """The delay before the next attempt; each call counts one more failure."""
        # The exponent is bounded so a connector down for days cannot overflow a float.
        cap = min(self.max_s, self.min_s * self.factor ** min(self.attempt, 64))
        self.attempt += 1
        return self.rng.uniform(cap / 2, cap)

    def reset(self) -> None:
        """Called after a successful bind, so the next outage starts small again."""
        self.attempt = 0
