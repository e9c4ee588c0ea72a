"""The dashboard's numbers, read from the hourly campaign counters, never from messages.

Every figure comes from `campaign_stats` (one row per campaign and hour, written in the
same transaction as the change it counts, see `engine.stats` and `engine.tally`), so a
page view over a million texts reads a few hundred rows through the table's primary
key (campaign_id, hour), and sending never pays for the dashboard.

What this covers and what it does not, said plainly so the page can say it too:

- Counted: everything campaigns send and what comes back to them (deliveries,
  failures, clicks, replies, opt-outs, redemptions, cost).
- Per number and per connector: a campaign's texts are credited to the route its
  launch gives them (its sender number, else the workspace's default, and that
  number's connector, `engine.routing`). That is exact while routes stay as they
  were at launch; a number moved to another connector afterwards moves its history
  with it.
- Not counted: texts outside campaigns (single API sends, automatic and agent
  replies, inbound texts that reply to no campaign). They have no counters today;
  counting them here would mean scanning the outbox on every page view.

A time range is read in whole hours, the counters' grain: every hour bucket that starts
before `until` and does not end before `since` counts (so `until` = 10:30 includes the
10:00 bucket, `until` = 10:00 does not).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from smscast.core.dashboard_tiles import Layout, default_layout
from smscast.core.errors import UserError
from smscast.engine.sending.routing import load_routes
from smscast.engine.stats import hour_of, rate
from smscast.store.campaign_models import CampaignStats
from smscast.store.messaging_models import Campaign, Connector, Number
from smscast.store.models import table_of

campaign_stats = table_of(CampaignStats)
campaigns = table_of(Campaign)
connectors = table_of(Connector)
numbers = table_of(Number)

DAILY_AFTER = timedelta(hours=72)
"""Ranges longer than this are charted by day: a month of hourly points is unreadable."""

READ = ("sent", "delivered", "undelivered", "failed", "clicks", "unique_clicks",
        "replies", "opt_outs", "redemptions", "cost")  # fmt: skip
"""The counters the dashboard reads; the rest (queued, exclusions …) belong to reports."""

PURPOSES = ("promotional", "informational")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the page's filter bar narrows every tile to; empty means everything."""

    campaign_ids: tuple[int, ...] = ()
    number_id: int | None = None
    purpose: str | None = None


@dataclass(frozen=True, slots=True)
class _Chosen:
    """The campaigns the filters leave, each with the route its texts took."""

    ids: tuple[int, ...]
    number_of: dict[int, int | None]
    connector_of: dict[int, int | None]


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


def _choose(conn: Connection, workspace_id: int, filters: Filters) -> _Chosen:
    query = select(campaigns.c.id, campaigns.c.number_id).where(
        campaigns.c.workspace_id == workspace_id
    )
    if filters.campaign_ids:
        query = query.where(campaigns.c.id.in_(filters.campaign_ids))
    if filters.purpose is not None:
        query = query.where(campaigns.c.purpose == filters.purpose)
    routes = load_routes(conn, workspace_id)
    number_of: dict[int, int | None] = {}
    connector_of: dict[int, int | None] = {}
    for row in conn.execute(query):
        number_id, connector_id = routes.route(row.number_id, None)
        if filters.number_id is not None and number_id != filters.number_id:
            continue
        number_of[row.id], connector_of[row.id] = number_id, connector_id
    return _Chosen(tuple(number_of), number_of, connector_of)


def _in_range(ids: Sequence[int], since: datetime, until: datetime) -> Any:
    return (
        campaign_stats.c.campaign_id.in_(ids),
        campaign_stats.c.hour >= hour_of(since.astimezone(UTC)),
        campaign_stats.c.hour < until.astimezone(UTC),
    )


_SUMS = [func.coalesce(func.sum(campaign_stats.c[name]), 0).label(name) for name in READ]
"""Built once: SQLAlchemy expressions are reusable, and building them costs per view."""


def _sums() -> list[Any]:
    return _SUMS


def _per_campaign(conn: Connection, chosen: _Chosen, since: datetime,
                  until: datetime) -> dict[int, dict[str, float]]:  # fmt: skip
    if not chosen.ids:
        return {}
    rows = conn.execute(
        select(campaign_stats.c.campaign_id, *_sums())
        .where(*_in_range(chosen.ids, since, until))
        .group_by(campaign_stats.c.campaign_id)
    )
    return {row.campaign_id: {name: float(row._mapping[name]) for name in READ} for row in rows}


def _add_up(parts: Iterable[dict[str, float]]) -> dict[str, float]:
    total = dict.fromkeys(READ, 0.0)
    for part in parts:
        for name in READ:
            total[name] += part[name]
    return total


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


def _traffic(conn: Connection, chosen: _Chosen, since: datetime, until: datetime,
             zone: ZoneInfo) -> dict[str, Any]:  # fmt: skip
    """Sends, deliveries and failures per hour (or per local day), every bucket of the
    range present so a chart's axis has no holes."""
    step = traffic_step(since, until)
    found: dict[datetime, tuple[int, int, int]] = {}
    if chosen.ids:
        s = campaign_stats.c
        rows = conn.execute(
            select(s.hour, func.sum(s.sent), func.sum(s.delivered),
                   func.sum(s.failed + s.undelivered))
            .where(*_in_range(chosen.ids, since, until))
            .group_by(s.hour)
        )  # fmt: skip
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
    }  # fmt: skip


def _grouped(per_campaign: dict[int, dict[str, float]],
             group_of: dict[int, int | None]) -> dict[int | None, dict[str, float]]:  # fmt: skip
    members: defaultdict[int | None, list[dict[str, float]]] = defaultdict(list)
    for campaign_id, totals in per_campaign.items():
        members[group_of.get(campaign_id)].append(totals)
    return {key: _add_up(parts) for key, parts in members.items()}


def _by_route(
    conn: Connection, chosen: _Chosen, per_campaign: dict[int, dict[str, float]]
) -> dict[str, list[dict[str, Any]]]:
    by_number = _grouped(per_campaign, chosen.number_of)
    by_connector = _grouped(per_campaign, chosen.connector_of)
    number_names = dict(conn.execute(
        select(numbers.c.id, numbers.c.number)
        .where(numbers.c.id.in_([k for k in by_number if k is not None]))
    ).all())  # fmt: skip
    connector_names = dict(conn.execute(
        select(connectors.c.id, connectors.c.name)
        .where(connectors.c.id.in_([k for k in by_connector if k is not None]))
    ).all())  # fmt: skip

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda row: (-row["sent"], row["label"] or ""))

    return {
        "numbers": ordered([
            _row("number_id", key, number_names.get(key) if key else None, totals)
            for key, totals in by_number.items()
        ]),
        "connectors": ordered([
            _row("connector_id", key, connector_names.get(key) if key else None, totals)
            for key, totals in by_connector.items()
        ]),
    }  # fmt: skip


def dashboard_metrics(
    engine: Engine, workspace_id: int, since: datetime, until: datetime,
    filters: Filters = Filters(), *, layout: Layout | None = None, timezone: str = "UTC",
) -> dict[str, Any]:  # fmt: skip
    """Every figure the tiles of `layout` show (all of them when no layout is given),
    keyed by each tile kind's `metric` name, plus the range and what it covers.

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
    with engine.connect() as conn:
        chosen = _choose(conn, workspace_id, filters)
        per_campaign = _per_campaign(conn, chosen, since, until)
        total = _add_up(per_campaign.values())
        result: dict[str, Any] = {
            "range": {"since": since.isoformat(), "until": until.isoformat()},
            "scope": "campaigns",
            "campaigns": len(chosen.ids),
            **_kpis(total),
        }
        if "chart-funnel" in wanted:
            result["funnel"] = _funnel(total)
        if "chart-traffic" in wanted:
            result["traffic"] = _traffic(conn, chosen, since, until, zone)
        if wanted & {"table-connectors", "table-numbers"}:
            result.update(_by_route(conn, chosen, per_campaign))
    return result


def live_snapshot(
    engine: Engine, workspace_id: int, since: datetime, until: datetime,
    filters: Filters = Filters(),
) -> dict[str, Any]:  # fmt: skip
    """The KPI numbers alone, and `marker`, a short digest of them: the page's SSE stream
    polls this and sends an event only when the marker differs from the last one sent.

    One grouped read of the counters' primary key, no charts, no per-route tables.
    """
    _check(since, until, filters)
    with engine.connect() as conn:
        chosen = _choose(conn, workspace_id, filters)
        total = dict.fromkeys(READ, 0.0)
        if chosen.ids:
            row = conn.execute(select(*_sums()).where(*_in_range(chosen.ids, since, until))).one()
            total = {name: float(row._mapping[name]) for name in READ}
    kpis = _kpis(total)
    digest = hashlib.blake2s(repr(sorted(total.items())).encode(), digest_size=8).hexdigest()
    return {"marker": digest, **kpis}
