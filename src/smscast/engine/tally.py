"""Counters gathered over one batch, written once per campaign and hour, and once per
route and hour.

The dispatcher and the delivery-report processor change thousands of messages per
transaction; adding to `campaign_stats` and `traffic_stats` once per message would
cost more than the change itself, so changes are summed here and written at the end
of the batch, inside the same transaction (counters and statuses can never disagree).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from smscast.engine.stats import bump_campaign_stats
from smscast.engine.traffic import TrafficKey, write_traffic


def read_moment(value: Any) -> datetime | None:
    """A datetime read by plain SQL: SQLite gives text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Tally:
    """Counter changes per (campaign, hour) and per (route, hour); `write` adds them to
    campaign_stats and traffic_stats."""

    def __init__(self) -> None:
        self._changes: defaultdict[tuple[int, datetime], defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )
        self._traffic: defaultdict[tuple[TrafficKey, datetime], defaultdict[str, float]] = (
            defaultdict(lambda: defaultdict(float))
        )
        self._at: datetime | None = None  # a batch shares one moment: its hour is cut once
        self._hour: datetime | None = None

    def _hour_of(self, at: datetime) -> datetime:
        if at is not self._at or self._hour is None:
            self._at, self._hour = at, at.replace(minute=0, second=0, microsecond=0)
        return self._hour

    def add(self, campaign_id: int | None, at: datetime, route: TrafficKey | None = None,
            **deltas: float) -> None:  # fmt: skip
        """Adds `deltas` to the campaign's bucket (when it has one) and, given the route
        the text took, to that route's (which keeps only its own counters, see
        `traffic.write_traffic`)."""
        hour = self._hour_of(at)
        if campaign_id is not None:
            bucket = self._changes[(campaign_id, hour)]
            for name, value in deltas.items():
                bucket[name] += value
        if route is not None:
            bucket = self._traffic[(route, hour)]
            for name, value in deltas.items():
                bucket[name] += value

    def add_traffic(self, route: TrafficKey, at: datetime, **deltas: float) -> None:
        """Adds `deltas` to the route's bucket alone (an inbound text: what it adds to a
        campaign is counted apart)."""
        bucket = self._traffic[(route, self._hour_of(at))]
        for name, value in deltas.items():
            bucket[name] += value

    def changes(self) -> dict[tuple[int, datetime], dict[str, float]]:
        return {key: dict(values) for key, values in self._changes.items()}

    def traffic(self) -> dict[tuple[TrafficKey, datetime], dict[str, float]]:
        return {key: dict(values) for key, values in self._traffic.items()}

    def write(self, conn: Connection) -> None:
        for (campaign_id, hour), deltas in self._changes.items():
            clean: dict[str, int | float] = {
                name: (value if name == "cost" else int(value)) for name, value in deltas.items()
            }
            bump_campaign_stats(conn, campaign_id, hour, **clean)
        self._changes.clear()
        if self._traffic:
            write_traffic(conn, ((route, hour, deltas)
                                 for (route, hour), deltas in self._traffic.items()))  # fmt: skip
            self._traffic.clear()
