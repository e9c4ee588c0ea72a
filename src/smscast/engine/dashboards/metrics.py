"""The dashboard's numbers, read from the hourly traffic counters, never from messages.

Every figure comes from `traffic_stats` (one row per workspace, hour and route - the
connector and number a text really left through or arrived on, its purpose, its
campaign - written in the same transaction as the change it counts, see
`engine.traffic` and `engine.tally`), so a page view over a million texts reads a few
hundred rows through the table's primary key (workspace, hour, …), and sending never
pays for the dashboard.

- Counted: every text, campaign or not - campaign texts, single API sends, automatic
  and agent replies, HELP answers, double opt-in prompts - and what comes back
  (deliveries, failures, inbound texts, replies, opt-outs by text, clicks,
  redemptions, cost).
- Per number and per connector: exact, the route each text took when it went; a
  number moved to another connector later leaves its history where it was.
- Filters: a campaign filter keeps only those campaigns' texts (texts outside
  campaigns have none); a number filter the texts sent from or received on it; a
  purpose filter the texts of that purpose (an answer to a campaign counts under the
  campaign's purpose, other inbound texts as informational).
  A channel filter keeps the texts that went through (or arrived on) a connector of
  that channel's kinds: the counters are per connector, and a connector's kind names
  its channel.

A time range is read in whole hours, the counters' grain: every hour bucket that starts
before `until` and does not end before `since` counts (so `until` = 10:30 includes the
10:00 bucket, `until` = 10:00 does not).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from smscast.core.channels import KINDS_OF_CHANNEL, Channel
from smscast.core.dashboard_tiles import Layout, default_layout
from smscast.core.errors import UserError
from smscast.engine.stats import hour_of, rate
from smscast.store.messaging_models import Connector, Number
from smscast.store.models import table_of
from smscast.store.traffic_models import TrafficStats

traffic_stats = table_of(TrafficStats)
connectors = table_of(Connector)
numbers = table_of(Number)

DAILY_AFTER = timedelta(hours=72)
"""Ranges longer than this are charted by day: a month of hourly points is unreadable."""

READ = ("sent", "delivered", "undelivered", "failed", "inbound", "clicks", "unique_clicks",
        "replies", "opt_outs", "redemptions", "cost")  # fmt: skip
"""The counters the dashboard reads (expired and parts belong to reports)."""

PURPOSES = ("promotional", "informational")
CHANNELS = tuple(channel.value for channel in Channel)


@dataclass(frozen=True, slots=True)
class Filters:
    """What the page's filter bar narrows every tile to; empty means everything."""

    campaign_ids: tuple[int, ...] = ()
    number_id: int | None = None
    purpose: str | None = None
    channel: str | None = None
    """Texts through the connectors of that channel's kinds (`core.channels`): the
    counters are kept per connector, and a connector's kind says its channel."""


def _check(since: datetime, until: datetime, filters: Filters) -> None:
    if since.tzinfo is None or until.tzinfo is None:
        raise UserError.of("invalid_range", "since and until need a time zone", field="since")
    if until <= since:
        raise UserError.of("invalid_range", "until must come after since", field="until")
    if filters.purpose is not None and filters.purpose not in PURPOSES:
        raise UserError.of(
            "invalid_purpose",
            f"{filters.purpose!r} is not a purpose (one of {', '.join(PURPOSES)})",
            field="purpose",
        )
    if filters.channel is not None and filters.channel not in CHANNELS:
        raise UserError.of(
            "invalid_channel",
            f"{filters.channel!r} is not a channel (one of {', '.join(CHANNELS)})",
            field="channel",
        )


def _where(workspace_id: int, since: datetime, until: datetime, filters: Filters) -> list[Any]:
    """The buckets of the range that the filters keep: a range of the primary key."""
    t = traffic_stats.c
    where = [
        t.workspace_id == workspace_id,
        t.hour >= hour_of(since.astimezone(UTC)),
        t.hour < until.astimezone(UTC),
    ]
    if filters.campaign_ids:
        where.append(t.campaign_id.in_(filters.campaign_ids))
    if filters.number_id is not None:
        where.append(t.number_id == filters.number_id)
    if filters.purpose is not None:
        where.append(t.purpose == filters.purpose)
    if filters.channel is not None:
        kinds = KINDS_OF_CHANNEL[Channel(filters.channel)]
        where.append(t.connector_id.in_(
            select(connectors.c.id).where(connectors.c.workspace_id == workspace_id,
                                          connectors.c.kind.in_(kinds))
        ))  # fmt: skip
    return where


_SUMS = [func.coalesce(func.sum(traffic_stats.c[name]), 0).label(name) for name in READ]
"""Built once: SQLAlchemy expressions are reusable, and building them costs per view."""


def _numbers_of(row: Any) -> dict[str, float]:
    return {name: float(row._mapping[name]) for name in READ}


def _add_up(parts: list[dict[str, float]]) -> dict[str, float]:
    total = dict.fromkeys(READ, 0.0)
    for part in parts:
        for name in READ:
            total[name] += part[name]
    return total


@dataclass(frozen=True, slots=True)
class _Routes:
    """The range's counters per (connector, number, campaign) - a few hundred rows at
    most - from which the totals and both per-route tables are added up."""

    rows: list[tuple[int, int, int, dict[str, float]]]

    def total(self) -> dict[str, float]:
        return _add_up([counts for *_, counts in self.rows])

    def by(self, index: int) -> dict[int, dict[str, float]]:
        members: defaultdict[int, list[dict[str, float]]] = defaultdict(list)
        for connector, number, _, counts in self.rows:
            members[(connector, number)[index]].append(counts)
        return {key: _add_up(parts) for key, parts in members.items()}

    def campaigns(self) -> int:
        return len({campaign for _, _, campaign, _ in self.rows if campaign})


def _routes(conn: Connection, where: list[Any]) -> _Routes:
    t = traffic_stats.c
    rows = conn.execute(
        select(t.connector_id, t.number_id, t.campaign_id, *_SUMS)
        .where(*where)
        .group_by(t.connector_id, t.number_id, t.campaign_id)
    )
    return _Routes([(r.connector_id, r.number_id, r.campaign_id, _numbers_of(r)) for r in rows])


def _kpis(total: dict[str, float]) -> dict[str, Any]:
    """Every KPI of the catalogue; rates carry numerator and denominator (`stats.rate`)
    and are measured as campaign reports measure them (`stats.RATES`)."""
    sent, delivered = int(total["sent"]), int(total["delivered"])
    return {
        "sent": sent,
        "delivered": delivered,
        "delivery_rate": rate(delivered, sent),
        # Texts known not to have arrived: refused on submit, or reported undelivered.
        "failed": int(total["failed"] + total["undelivered"]),
        "inbound": int(total["inbound"]),
        "clicks": int(total["clicks"]),
        "click_rate": rate(int(total["unique_clicks"]), delivered),
        "replies": int(total["replies"]),
        "reply_rate": rate(int(total["replies"]), delivered),
        "opt_outs": int(total["opt_outs"]),
        "redemptions": int(total["redemptions"]),
        "cost": round(total["cost"], 5),
    }


def _funnel(total: dict[str, float]) -> list[dict[str, Any]]:
    stages = (("sent", "sent"), ("delivered", "delivered"), ("clicked", "unique_clicks"),
              ("replied", "replies"), ("redeemed", "redemptions"))  # fmt: skip
    top = int(total["sent"])
    return [
        {"stage": stage, "count": int(total[name]), "of_sent": rate(int(total[name]), top)}
        for stage, name in stages
    ]


def traffic_step(since: datetime, until: datetime) -> str:
    """Hourly points for ranges up to three days, daily ones beyond."""
    return "hour" if until - since <= DAILY_AFTER else "day"


def _traffic(conn: Connection, where: list[Any], since: datetime, until: datetime,
             zone: ZoneInfo) -> dict[str, Any]:  # fmt: skip
    """Sends, deliveries and failures per hour (or per local day), every bucket of the
    range present so a chart's axis has no holes."""
    step = traffic_step(since, until)
    t = traffic_stats.c
    rows = conn.execute(
        select(t.hour, func.sum(t.sent), func.sum(t.delivered), func.sum(t.failed + t.undelivered))
        .where(*where)
        .group_by(t.hour)
    )
    found = {row[0]: (int(row[1]), int(row[2]), int(row[3])) for row in rows}

    ordered: list[tuple[str, list[int]]]
    if step == "hour":
        first = hour_of(since.astimezone(UTC))
        hourly = {
            first + timedelta(hours=i): [0, 0, 0] for i in range(_hours_between(first, until))
        }
        for at, counts in found.items():
            _add_to(hourly.setdefault(at.astimezone(UTC), [0, 0, 0]), counts)
        ordered = [(slot.isoformat(), p) for slot, p in sorted(hourly.items())]
    else:  # local days: a Warsaw day in winter runs 23:00-23:00 UTC
        start, last = since.astimezone(zone).date(), (until - _INSTANT).astimezone(zone).date()
        daily = {start + timedelta(days=i): [0, 0, 0] for i in range((last - start).days + 1)}
        for at, counts in found.items():
            _add_to(daily.setdefault(at.astimezone(zone).date(), [0, 0, 0]), counts)
        ordered = [(datetime.combine(day, time(0), zone).isoformat(), p)
                   for day, p in sorted(daily.items())]  # fmt: skip
    return {
        "step": step,
        "points": [
            {"at": at, "sent": p[0], "delivered": p[1], "failed": p[2]} for at, p in ordered
        ],
    }


_INSTANT = timedelta(microseconds=1)


def _hours_between(start: datetime, until: datetime) -> int:
    return max(0, -int(-(until - start).total_seconds() // 3600))


def _add_to(point: list[int], counts: tuple[int, int, int]) -> None:
    for i in range(3):
        point[i] += counts[i]


def _row(key: str, value: int | None, label: str | None, total: dict[str, float]) -> dict[str, Any]:
    sent, delivered = int(total["sent"]), int(total["delivered"])
    return {
        key: value, "label": label, "sent": sent, "delivered": delivered,
        "failed": int(total["failed"] + total["undelivered"]),
        "delivery_rate": rate(delivered, sent), "replies": int(total["replies"]),
        "inbound": int(total["inbound"]),
    }  # fmt: skip


def _by_route(conn: Connection, routes: _Routes) -> dict[str, list[dict[str, Any]]]:
    """Rows per number and per connector (None: a text with no number, or no connector)."""
    by_connector, by_number = routes.by(0), routes.by(1)
    number_names = dict(conn.execute(
        select(numbers.c.id, numbers.c.number).where(numbers.c.id.in_([k for k in by_number if k]))
    ).all())  # fmt: skip
    connector_names = dict(conn.execute(
        select(connectors.c.id, connectors.c.name)
        .where(connectors.c.id.in_([k for k in by_connector if k]))
    ).all())  # fmt: skip

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda row: (-row["sent"], row["label"] or ""))

    return {
        "numbers": ordered([
            _row("number_id", key or None, number_names.get(key), totals)
            for key, totals in by_number.items()
        ]),
        "connectors": ordered([
            _row("connector_id", key or None, connector_names.get(key), totals)
            for key, totals in by_connector.items()
        ]),
    }  # fmt: skip


def dashboard_metrics(
    engine: Engine, workspace_id: int, since: datetime, until: datetime,
    filters: Filters = Filters(), *, layout: Layout | None = None, timezone: str = "UTC",
) -> dict[str, Any]:  # fmt: skip
    """Every figure the tiles of `layout` show (all of them when no layout is given),
    keyed by each tile kind's `metric` name, plus the range and what it covers
    (`campaigns`: how many campaigns had texts counted in it).

    `timezone` (the workspace's or the user's) decides where a day starts when the
    traffic chart is drawn by day.
    """
    _check(since, until, filters)
    wanted = {tile.kind for tile in (layout if layout is not None else default_layout())}
    try:
        zone = ZoneInfo(timezone)
    except (KeyError, ValueError):
        raise UserError.of("invalid_timezone", f"unknown time zone {timezone!r}",
                           field="timezone") from None  # fmt: skip
    where = _where(workspace_id, since, until, filters)
    with engine.connect() as conn:
        routes = _routes(conn, where)
        total = routes.total()
        result: dict[str, Any] = {
            "range": {"since": since.isoformat(), "until": until.isoformat()},
            "scope": "all",
            "campaigns": routes.campaigns(),
            **_kpis(total),
        }
        if "chart-funnel" in wanted:
            result["funnel"] = _funnel(total)
        if "chart-traffic" in wanted:
            result["traffic"] = _traffic(conn, where, since, until, zone)
        if wanted & {"table-connectors", "table-numbers"}:
            result.update(_by_route(conn, routes))
    return result


def live_snapshot(
    engine: Engine, workspace_id: int, since: datetime, until: datetime,
    filters: Filters = Filters(),
) -> dict[str, Any]:  # fmt: skip
    """The KPI numbers alone, and `marker`, a short digest of them: the page's SSE stream
    polls this and sends an event only when the marker differs from the last one sent.

    One read of the counters' primary key range, no charts, no per-route tables.
    """
    _check(since, until, filters)
    with engine.connect() as conn:
        row = conn.execute(select(*_SUMS).where(*_where(workspace_id, since, until, filters)))
        total = _numbers_of(row.one())
    kpis = _kpis(total)
    digest = hashlib.blake2s(repr(sorted(total.items())).encode(), digest_size=8).hexdigest()
    return {"marker": digest, **kpis}
