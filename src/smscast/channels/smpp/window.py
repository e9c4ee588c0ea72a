"""The window of requests awaiting their response, keyed by sequence number.

SMPP pipelines: many submit_sm go out before the first submit_sm_resp comes
back, and responses are matched to requests by sequence number alone. The
window bounds how many are outstanding (the carrier's agreed limit, and the
bound on how many messages can end up *unknown* when a connection dies).

Entries sit in a dict in the order they were sent, so the oldest (the first
to time out) are always at the front and a timeout sweep stops at the first
entry that is still young.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

MAX_SEQUENCE = 0x7FFFFFFF


class Window(Generic[T]):
    """Outstanding requests by sequence number, with their send time."""

    __slots__ = ("_entries", "_last", "size")

    def __init__(self, size: int, first: int = 1) -> None:
        self.size = size
        self._entries: dict[int, tuple[float, T]] = {}
        self._last = (first - 1) if first > 1 else 0

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def free(self) -> int:
        return self.size - len(self._entries)

    def next_sequence(self) -> int:
        """The next sequence number: 1 to 0x7FFFFFFF, wrapping to 1, skipping busy ones."""
        seq = self._last
        while True:
            seq = seq + 1 if seq < MAX_SEQUENCE else 1
            if seq not in self._entries:
                self._last = seq
                return seq

    def add(self, seq: int, sent_at: float, item: T) -> None:
        self._entries[seq] = (sent_at, item)

    def pop(self, seq: int) -> T | None:
        """The request answered by a response with `seq`, or None when none is waiting."""
        entry = self._entries.pop(seq, None)
        return None if entry is None else entry[1]

    def expired_items(self, now: float, timeout: float) -> list[tuple[int, T]]:
        """Takes out every request sent `timeout` seconds or more before `now`, with its seq."""
        out: list[tuple[int, T]] = []
        entries = self._entries
        for seq, (sent_at, item) in entries.items():
            if now - sent_at < timeout:
                break
            out.append((seq, item))
        for seq, _ in out:
            del entries[seq]
        return out

    def drain(self) -> list[T]:
        """Takes out everything (the connection is gone: no response will come)."""
        items = [item for _, item in self._entries.values()]
        self._entries.clear()
        return items

    def __iter__(self) -> Iterator[T]:
        return (item for _, item in self._entries.values())
