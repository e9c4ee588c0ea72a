"""Every text's counters in hourly buckets per route, for the dashboard.

`stats` counts what each campaign achieved; this counts the whole workspace's traffic
by the route each text really took: the connector and number it left through (or
arrived on), its purpose and its campaign (0 when it has none). Whoever changes a
message's outcome adds to both in the same transaction - the dispatcher and the
delivery-report processor through `tally.Tally` (gathered over a batch, written once
per route and hour), inbound processing, link clicks and coupon redemptions - so a
route changed later moves no history, and texts outside campaigns (single API sends,
automatic and agent replies, HELP answers, inbound texts answering nothing) count too.

It sits beside `stats` at the engine's top because sending, delivery, inbound and
campaigns all write it and dashboards reads it; inside any one of those packages the
others would import sideways.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy import Connection

from smscast.store.bulk import DriverValues
from smscast.store.driver_sql import execute_many
from smscast.store.traffic_models import TRAFFIC_COUNTERS

TrafficKey = tuple[int, int, int, str, int]
"""(workspace, connector, number, purpose, campaign) of a text; 0 stands for none."""

FIELDS = (*TRAFFIC_COUNTERS, "cost")
_KEY = ("workspace_id", "hour", "connector_id", "number_id", "purpose", "campaign_id")
_UPSERT = (
    f"INSERT INTO traffic_stats ({', '.join((*_KEY, *FIELDS))}) "
    f"VALUES ({', '.join('?' * (len(_KEY) + len(FIELDS)))}) "
    f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
    + ", ".join(f"{name} = traffic_stats.{name} + excluded.{name}" for name in FIELDS)
)


def traffic_key(workspace_id: int, connector_id: int | None, number_id: int | None,
                purpose: str | None, campaign_id: int | None) -> TrafficKey:  # fmt: skip
    """The route a text is counted under, from its message row's columns."""
    return (workspace_id, connector_id or 0, number_id or 0, purpose or "informational",
            campaign_id or 0)  # fmt: skip


def write_traffic(
    conn: Connection, changes: Iterable[tuple[TrafficKey, datetime, Mapping[str, float]]]
) -> None:
    """Adds each (route, hour, counter → change) to its bucket: one upsert statement run
    over every bucket (an executemany), whatever the number of texts behind them.

    Names that are not traffic counters (`queued`, `unknown`, exclusions …: campaign
    bookkeeping a caller's deltas may carry) are left out, and so are buckets with
    nothing left to add."""
    driver = DriverValues(conn)
    hours: dict[datetime, object] = {}
    rows = []
    for (workspace_id, connector_id, number_id, purpose, campaign_id), hour, deltas in changes:
        values = [deltas.get(name, 0) for name in FIELDS]
        if not any(values):
            continue
        counts: list[int | float] = [int(v) for v in values[:-1]]
        counts.append(float(values[-1]))
        if hour not in hours:
            hours[hour] = driver.moment(hour)
        rows.append((workspace_id, hours[hour], connector_id, number_id, purpose, campaign_id,
                     *counts))  # fmt: skip
    execute_many(conn, _UPSERT, rows)


def bump_traffic(conn: Connection, key: TrafficKey, at: datetime, **deltas: float) -> None:
    """Adds one event's `deltas` to the bucket of `key` for the hour of `at` (a click, a
    redemption: one at a time, off the sending path)."""
    write_traffic(conn, [(key, at.replace(minute=0, second=0, microsecond=0), deltas)])
