"""Holding the parts of long inbound messages until all of them have arrived.

A long text sent to one of our numbers comes as several deliver_sm, each with
a concatenation header (UDH, 8- or 16-bit reference) or SAR TLVs, in any order,
possibly interleaved with other senders' parts and possibly never complete.
Parts wait here under (sender, recipient, reference, total); when the last one
arrives the message comes out in order. Parts that wait longer than the
timeout come out as an incomplete message so what did arrive is not lost.

The clock is passed in (`now`, seconds) so expiry is tested without sleeping.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

PartKey = tuple[str, str, int, int]  # sender, recipient, reference, total


@dataclass(slots=True)
class _Pending(Generic[T]):
    first_seen: float
    parts: dict[int, T] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Incomplete(Generic[T]):
    """A long message whose missing parts never came: what arrived, in order."""

    key: PartKey
    parts: list[T]
    missing: tuple[int, ...]


class ReassemblyBuffer(Generic[T]):
    """Parts of long messages keyed by sender, recipient, reference and total.

    At most `max_pending` messages wait at once: a flood of parts that never
    complete pushes the oldest out (as incomplete) instead of growing memory.
    """

    def __init__(self, timeout_s: float, max_pending: int = 10_000) -> None:
        self.timeout_s = timeout_s
        self.max_pending = max_pending
        self._pending: dict[PartKey, _Pending[T]] = {}
        self._evicted: list[Incomplete[T]] = []

    def __len__(self) -> int:
        return len(self._pending)

    def holds(self, key: PartKey, seq: int) -> bool:
        """Whether part `seq` of `key` is already here (a repeat would be ignored)."""
        pending = self._pending.get(key)
        return pending is not None and seq in pending.parts

    def add(self, key: PartKey, seq: int, part: T, now: float) -> list[T] | None:
        """Stores part `seq` (1-based) of `key`; returns all parts in order once complete.

        A repeated part (the carrier resent it) is ignored. Raises ValueError when
        `seq` or the total in `key` cannot be right, naming both.
        """
        total = key[3]
        if total < 1 or not 1 <= seq <= total:
            raise ValueError(f"concatenated part {seq} of {total} is out of range")
        pending = self._pending.get(key)
        if pending is None:
            if len(self._pending) >= self.max_pending:
                self._evict_oldest()
            pending = self._pending[key] = _Pending(first_seen=now)
        pending.parts.setdefault(seq, part)
        if len(pending.parts) < total:
            return None
        del self._pending[key]
        return [pending.parts[i] for i in range(1, total + 1)]

    def expire(self, now: float) -> list[Incomplete[T]]:
        """Takes out every message whose first part arrived `timeout_s` or more ago."""
        done, self._evicted = self._evicted, []
        for key in [k for k, p in self._pending.items() if now - p.first_seen >= self.timeout_s]:
            done.append(_incomplete(key, self._pending.pop(key)))
        return done

    def next_expiry(self) -> float | None:
        """When the oldest waiting message times out (for scheduling the next sweep)."""
        if not self._pending:
            return None
        return min(p.first_seen for p in self._pending.values()) + self.timeout_s

    def _evict_oldest(self) -> None:
        key = min(self._pending, key=lambda k: self._pending[k].first_seen)
        self._evicted.append(_incomplete(key, self._pending.pop(key)))


def _incomplete(key: PartKey, pending: _Pending[T]) -> Incomplete[T]:
    total = key[3]
    present = sorted(pending.parts)
    missing = tuple(i for i in range(1, total + 1) if i not in pending.parts)
    return Incomplete(key=key, parts=[pending.parts[i] for i in present], missing=missing)
