"""Campaign counters gathered over one batch, written once per campaign and hour.

The dispatcher and the delivery-report processor change thousands of messages per
transaction; adding to `campaign_stats` once per message would cost more than the
change itself, so changes are summed here and written at the end of the batch,
inside the same transaction (counters and statuses can never disagree).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from smscast.engine.stats import bump_campaign_stats


def read_moment(value: Any) -> datetime | None:
    """A datetime read by plain SQL: SQLite gives text, PostgreSQL an aware datetime."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    assert isinstance(moment, datetime)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class Tally:
    """Counter changes per (campaign, hour); `write` adds them to campaign_stats."""

    def __init__(self) -> None:
        self._changes: defaultdict[tuple[int, datetime], defaultdict[str, float]] = defaultdict(
            lambda: defaultdict(float)
        )

    def add(self, campaign_id: int | None, at: datetime, **deltas: float) -> None:
        if campaign_id is None:
            return
        bucket = self._changes[(campaign_id, at.replace(minute=0, second=0, microsecond=0))]
        for name, value in deltas.items():
            bucket[name] += value

    def changes(self) -> dict[tuple[int, datetime], dict[str, float]]:
        return {key: dict(values) for key, values in self._changes.items()}

    def write(self, conn: Connection) -> None:
        if not self._changes:
            return
        for (campaign_id, hour), deltas in self._changes.items():
            clean: dict[str, int | float] = {
                name: (value if name == "cost" else int(value)) for name, value in deltas.items()
            }
            bump_campaign_stats(conn, campaign_id, hour, **clean)
        self._changes.clear()
