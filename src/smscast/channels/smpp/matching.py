"""Matching delivery reports to the messages we submitted, by carrier message id.

Two races make this more than a dict lookup:

- a fast carrier can send the delivery report before the submit_sm_resp that
  tells us its id (they travel on different paths inside the SMSC). Such a
  report is held for `hold_s` seconds and released, matched, the moment the
  submit_sm_resp arrives; only if it never does does it go out unmatched.
- reports can come hours later. Ids are remembered for `remember_s` seconds
  (bounded in number too); after that the report goes out with `ref=None` and
  the engine matches it on the carrier id in the database.

The clock is passed in (`now`, seconds) so both windows are tested without sleeping.
"""

from __future__ import annotations

from typing import Generic, TypeVar

R = TypeVar("R")


class ReportMatcher(Generic[R]):
    """Carrier id -> our message ref, plus reports waiting for their submit_sm_resp."""

    __slots__ = ("_held", "_refs", "hold_s", "max_ids", "remember_s")

    def __init__(self, hold_s: float, remember_s: float, max_ids: int = 1_000_000) -> None:
        self.hold_s = hold_s
        self.remember_s = remember_s
        self.max_ids = max_ids
        self._refs: dict[str, tuple[float, int]] = {}
        self._held: dict[str, list[tuple[float, R]]] = {}

    def remember(self, carrier_id: str, ref: int, now: float) -> list[R]:
        """Records that `carrier_id` is our message `ref`; returns reports held for it."""
        refs = self._refs
        refs.pop(carrier_id, None)  # re-inserted at the end: the dict stays in time order
        refs[carrier_id] = (now, ref)
        if len(refs) > self.max_ids:
            del refs[next(iter(refs))]
        if not self._held:
            return []
        held = self._held.pop(carrier_id, None)
        return [] if held is None else [report for _, report in held]

    def ref_for(self, carrier_id: str) -> int | None:
        entry = self._refs.get(carrier_id)
        return None if entry is None else entry[1]

    def hold(self, carrier_id: str, report: R, now: float) -> None:
        """Keeps a report whose id we do not know yet, in case its submit_sm_resp is late."""
        self._held.setdefault(carrier_id, []).append((now, report))

    @property
    def held(self) -> int:
        return sum(len(v) for v in self._held.values())

    def expire(self, now: float) -> list[R]:
        """Forgets old ids; returns held reports whose submit_sm_resp never came."""
        refs = self._refs
        stale: list[str] = []
        for carrier_id, (stamp, _) in refs.items():
            if now - stamp < self.remember_s:
                break
            stale.append(carrier_id)
        for carrier_id in stale:
            del refs[carrier_id]
        unmatched: list[R] = []
        for carrier_id in [c for c, v in self._held.items() if now - v[0][0] >= self.hold_s]:
            unmatched.extend(report for _, report in self._held.pop(carrier_id))
        return unmatched
