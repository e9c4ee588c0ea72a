"""Response analysis by day: the figures of `response_report` over a period, day by day
in the workspace's time zone, for one number or all of them, and per keyword rule and
per campaign.

The definitions are the report's own (`RESPONSE_ROUTES`, `OPT_OUT_ROUTES`,
`response_figures`, `first_answer_delays`), so over all time the totals here are the
figures of `number_report` (`GET /api/v1/numbers/{id}/report`), `keyword_rule_report`
and `campaign_response`. A day's figures are those definitions applied to that day:

- responses, unique senders and opt-outs: the texts received that day;
- tickets: those opened that day, with the median seconds to their first answer and,
  for the ones solved now, to their solving;
- response (and a campaign's opt-out) rate: of the people a campaign first texted that
  day, the share who answered (opted out) within the period. Each person falls on one
  day, so the days add up to the period's recipients.

What is read: the numbers' inbound texts through `inbound_routes` (number, received_at)
and the campaigns' through (campaign_id, contact_id); their tickets; and the campaigns'
sends through the campaign index, counted per person and hour by the database, so a
campaign of a million texts returns a few hundred rows, never the texts themselves.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Connection, Engine, Integer, case, cast, func, select, text
from sqlalchemy.sql.elements import ColumnElement

from smscast.core.rule_actions import ActionKind
from smscast.engine.accounts.workspaces import WorkspaceRef
from smscast.engine.inbound.numbers import find_workspace_number
from smscast.engine.inbound.response_report import (
    OPT_OUT_ROUTES,
    RESPONSE_ROUTES,
    campaigns,
    first_answer_delays,
    messages,
    number_rows,
    response_figures,
    routes,
    rules,
    tickets,
)

NUMBER_COLUMNS = (
    "inbound", "responses", "unique_senders", "opt_outs", "opt_out_rate",
    "campaign_recipients", "campaign_responders", "response_rate", "tickets_opened",
    "tickets_answered", "median_first_answer_s", "tickets_solved", "median_solve_s",
)  # fmt: skip
KEYWORD_COLUMNS = (
    "responses", "unique_senders", "opt_outs", "tickets_opened", "tickets_answered",
    "median_first_answer_s",
)  # fmt: skip
CAMPAIGN_COLUMNS = (
    "sent", "replies", "unique_responders", "response_rate", "opt_outs", "opt_out_rate",
    "median_first_reply_s",
)  # fmt: skip
T = TypeVar("T")
K = TypeVar("K")
BREAKDOWNS = ("number", "keyword", "campaign")
"""The CSV's kinds of rows: one per day and number, keyword rule or campaign."""


@dataclass(frozen=True, slots=True)
class _Text:
    """One inbound text on a number, as the analysis needs it."""

    day: date
    number_id: int
    contact_id: int | None
    route: str
    rule_id: int | None
    ticket_id: int | None


@dataclass(frozen=True, slots=True)
class _Ticket:
    id: int
    day: date
    number_id: int
    opened: datetime
    solved: datetime | None


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def response_analysis(
    engine: Engine,
    workspace: WorkspaceRef,
    number_id: int | None,
    since: datetime | None,
    until: datetime,
    zone: ZoneInfo,
) -> dict[str, Any]:
    """The response figures of one number (or, with None, every number of the workspace)
    over [since, until) — `since` None: from the first text — in total and by local day
    of `zone`, with the same per number, per keyword rule and per campaign."""
    with engine.connect() as conn:
        if number_id is not None:
            find_workspace_number(conn, workspace, number_id)  # unknown_number otherwise
        where_number = [number_rows.c.workspace_id == workspace.id]
        if number_id is not None:
            where_number.append(number_rows.c.id == number_id)
        numbers = conn.execute(
            select(number_rows.c.id, number_rows.c.number, number_rows.c.kind)
            .where(*where_number)
            .order_by(number_rows.c.id)
        ).all()
        ids = [n.id for n in numbers]
        day_of = _day_reader(zone)
        texts = _texts(conn, workspace, ids, since, until, day_of)
        opened = _tickets(conn, workspace, ids, since, until, day_of)
        answer_s = first_answer_delays(
            conn, [t.id for t in opened] + [t.ticket_id for t in texts if t.ticket_id]
        )
        sent_from = _campaigns_from(conn, ids)
        answered = sorted(set(sent_from) | set(_answered_campaigns(conn, ids, since, until)))
        replies = _campaign_replies(conn, answered, since, until, day_of)
        cohorts = _Cohorts(conn, since, until, zone)
        per_number = [
            {
                "number_id": n.id, "number": n.number, "kind": n.kind,
                **_number_figures(
                    [t for t in texts if t.number_id == n.id],
                    [t for t in opened if t.number_id == n.id],
                    answer_s,
                    cohorts.recipients([c for c, owner in sent_from.items() if owner == n.id]),
                ),
            }
            for n in numbers
        ]  # fmt: skip
        total = _number_figures(texts, opened, answer_s, cohorts.recipients(list(sent_from)))
        per_keyword = _per_keyword(conn, ids, texts, answer_s)
        per_campaign = _per_campaign(conn, answered, sent_from, replies, cohorts)
    days = _days(since, until, zone, [total, *per_number, *per_keyword, *per_campaign])
    for scope in [total, *per_number, *per_keyword, *per_campaign]:
        scope["by_day"] = _filled(scope.pop("days"), days, scope["columns"])
        del scope["columns"]
    return {
        "number_id": number_id,
        "since": since,
        "until": until,
        "time_zone": zone.key,
        "days": days,
        "total": total,
        "numbers": per_number,
        "keywords": per_keyword,
        "campaigns": per_campaign,
    }


def analysis_rows(analysis: dict[str, Any], by: str) -> tuple[tuple[str, ...], list[list[Any]]]:
    """The analysis as a table: one row per day and number, keyword rule or campaign
    (`by`, one of `BREAKDOWNS`), the figures as numbers (rates as fractions, times in
    seconds), an empty cell where there is none. Column names are the API's."""
    head: tuple[str, ...]
    columns: tuple[str, ...]
    if by == "keyword":
        head = ("rule_id", "number_id", "number", "keyword", "campaign_id")
        scopes, columns = analysis["keywords"], KEYWORD_COLUMNS
    elif by == "campaign":
        head = ("campaign_id", "name", "number_id")
        scopes, columns = analysis["campaigns"], CAMPAIGN_COLUMNS
    else:
        head = ("number_id", "number", "kind")
        scopes, columns = analysis["numbers"], NUMBER_COLUMNS
    rows = []
    for scope in scopes:
        labels = [scope[name] for name in head]
        if by == "keyword" and scope["keyword"] is None:
            labels[3] = "(default)"  # as the API names a number's default rule
        for day in scope["by_day"]:
            figures = ["" if day[c] is None else day[c] for c in columns]
            rows.append([day["day"].isoformat(), *labels, *figures])
    names = tuple("campaign" if name == "name" else name for name in head)
    return ("day", *names, *columns), rows


# --- reading ------------------------------------------------------------------------------


def _day_reader(zone: ZoneInfo) -> Callable[[datetime], date]:
    return lambda moment: moment.astimezone(zone).date()


def _in_span(column: Any, since: datetime | None, until: datetime) -> list[Any]:
    bounds = [column < until]
    if since is not None:
        bounds.append(column >= since)
    return bounds


def _texts(
    conn: Connection,
    workspace: WorkspaceRef,
    number_ids: list[int],
    since: datetime | None,
    until: datetime,
    day_of: Callable[[datetime], date],
) -> list[_Text]:
    """The numbers' inbound texts in the period: a range of (number_id, received_at)."""
    if not number_ids:
        return []
    rows = conn.execute(
        select(
            routes.c.received_at, routes.c.number_id, routes.c.contact_id, routes.c.route,
            routes.c.rule_id, messages.c.ticket_id,
        )
        .outerjoin(messages, messages.c.id == routes.c.message_id)
        .where(routes.c.number_id.in_(number_ids), routes.c.workspace_id == workspace.id,
               *_in_span(routes.c.received_at, since, until))
    )  # fmt: skip
    return [
        _Text(day_of(at), number_id, contact_id, route, rule_id, ticket_id)
        for at, number_id, contact_id, route, rule_id, ticket_id in rows
    ]


def _tickets(
    conn: Connection,
    workspace: WorkspaceRef,
    number_ids: list[int],
    since: datetime | None,
    until: datetime,
    day_of: Callable[[datetime], date],
) -> list[_Ticket]:
    """Tickets opened on the numbers in the period. A ticket is updated no earlier than
    it was opened, so `updated_at >= since` lets the (workspace, updated_at) index bound
    the read."""
    if not number_ids:
        return []
    where = [tickets.c.workspace_id == workspace.id, tickets.c.number_id.in_(number_ids),
             *_in_span(tickets.c.created_at, since, until)]  # fmt: skip
    if since is not None:
        where.append(tickets.c.updated_at >= since)
    rows = conn.execute(
        select(tickets.c.id, tickets.c.number_id, tickets.c.created_at, tickets.c.solved_at)
        .where(*where)
    )  # fmt: skip
    return [_Ticket(t, day_of(opened), n, opened, solved) for t, n, opened, solved in rows]


def _campaigns_from(conn: Connection, number_ids: list[int]) -> dict[int, int]:
    """The campaigns sent from the numbers: campaign id → its number."""
    if not number_ids:
        return {}
    return dict(
        conn.execute(
            select(campaigns.c.id, campaigns.c.number_id).where(
                campaigns.c.number_id.in_(number_ids)
            )
        ).all()
    )


def _answered_campaigns(
    conn: Connection, number_ids: list[int], since: datetime | None, until: datetime
) -> list[int]:
    """Campaigns that texts received on the numbers in the period answered."""
    if not number_ids:
        return []
    return list(
        conn.execute(
            select(routes.c.campaign_id)
            .distinct()
            .where(routes.c.number_id.in_(number_ids), routes.c.campaign_id.is_not(None),
                   *_in_span(routes.c.received_at, since, until))
        ).scalars()
    )  # fmt: skip


def _campaign_replies(
    conn: Connection,
    campaign_ids: list[int],
    since: datetime | None,
    until: datetime,
    day_of: Callable[[datetime], date],
) -> dict[int, list[tuple[int | None, str, datetime, date]]]:
    """Each campaign's attributed texts in the period, oldest first, wherever received."""
    found: dict[int, list[tuple[int | None, str, datetime, date]]] = defaultdict(list)
    for start in range(0, len(campaign_ids), 900):
        rows = conn.execute(
            select(routes.c.campaign_id, routes.c.contact_id, routes.c.route,
                   routes.c.received_at)
            .where(routes.c.campaign_id.in_(campaign_ids[start : start + 900]),
                   *_in_span(routes.c.received_at, since, until))
            .order_by(routes.c.received_at, routes.c.message_id)
        )  # fmt: skip
        for campaign_id, contact_id, route, at in rows:
            found[campaign_id].append((contact_id, route, at, day_of(at)))
    return found


class _Cohorts:
    """The people campaigns texted, each on the local day of their first send in the
    period, and how many of them answered: counted by the database per hour bucket
    (every bucket inside one local day), never read person by person."""

    def __init__(
        self, conn: Connection, since: datetime | None, until: datetime, zone: ZoneInfo
    ) -> None:
        self.conn, self.since, self.until, self.zone = conn, since, until, zone
        offset = (until.astimezone(zone).utcoffset() or timedelta()).total_seconds()
        # Buckets start at local whole hours: local midnight is always one's start.
        self.shift = int(offset) % 3600

    def _bucket(self, column: Any) -> ColumnElement[int]:
        if self.conn.dialect.name == "postgresql":
            seconds: ColumnElement[int] = cast(
                func.floor(func.extract("epoch", column)), BigInteger
            )
        else:
            seconds = cast(func.strftime(text("'%s'"), column), Integer)
        return (seconds + self.shift) // 3600

    def _day(self, bucket: int) -> date:
        start = datetime.fromtimestamp(bucket * 3600 - self.shift, UTC)
        return start.astimezone(self.zone).date()

    def _answered(self, campaign_ids: list[int], route_names: Iterable[str] | None) -> Any:
        query = select(routes.c.contact_id).where(
            routes.c.campaign_id.in_(campaign_ids),
            *_in_span(routes.c.received_at, self.since, self.until),
        )
        if route_names is not None:
            query = query.where(routes.c.route.in_(tuple(route_names)))
        return query

    def count(
        self, campaign_ids: list[int], answers: dict[str, Iterable[str] | None], *,
        known_contacts: bool,
    ) -> dict[date, dict[str, int]]:  # fmt: skip
        """Per local day: "sent" people first texted that day, and per name in `answers`
        how many of them sent a text of those routes (None: any) to these campaigns."""
        if not campaign_ids:
            return {}
        m = messages.c
        where = [m.campaign_id.in_(campaign_ids), m.direction == "out", m.sent_at.is_not(None),
                 *_in_span(m.sent_at, self.since, self.until)]  # fmt: skip
        if known_contacts:  # as COUNT(DISTINCT contact_id) counts: an erased person not
            where.append(m.contact_id.is_not(None))
        first = (
            select(m.contact_id, func.min(m.sent_at).label("first_sent"))
            .where(*where)
            .group_by(m.contact_id)
            .subquery()
        )
        bucket = self._bucket(first.c.first_sent).label("bucket")
        sums = [
            func.sum(case((first.c.contact_id.in_(self._answered(campaign_ids, names)), 1),
                          else_=0))
            for names in answers.values()
        ]  # fmt: skip
        days: dict[date, dict[str, int]] = {}
        for row in self.conn.execute(select(bucket, func.count(), *sums).group_by(bucket)):
            day = days.setdefault(self._day(int(row[0])), dict.fromkeys(("sent", *answers), 0))
            for name, value in zip(("sent", *answers), row[1:], strict=True):
                day[name] += int(value or 0)
        return days

    def recipients(self, campaign_ids: list[int]) -> dict[date, dict[str, int]]:
        """The number's response rate: people its campaigns texted, and of them those
        who answered one of those campaigns (a STOP or HELP is no answer)."""
        return self.count(campaign_ids, {"answered": RESPONSE_ROUTES}, known_contacts=True)


# --- figures ------------------------------------------------------------------------------


def _number_figures(
    texts: list[_Text],
    opened: list[_Ticket],
    answer_s: dict[int, float],
    recipients: dict[date, dict[str, int]],
) -> dict[str, Any]:
    """`number_report`'s figures over the texts and tickets given, plus the opt-out rate
    (of the people who texted, the share who opted out) and the time to solve."""

    def figures(part: list[_Text], part_tickets: list[_Ticket], texted: int,
                responders: int) -> dict[str, Any]:  # fmt: skip
        senders = {t.contact_id for t in part if t.contact_id is not None}
        opted = {t.contact_id for t in part if t.route in OPT_OUT_ROUTES and t.contact_id}
        answers = [answer_s[t.id] for t in part_tickets if t.id in answer_s]
        solves = [(t.solved - t.opened).total_seconds() for t in part_tickets if t.solved]
        return {
            "inbound": len(part),
            "responses": sum(1 for t in part if t.route in RESPONSE_ROUTES),
            "unique_senders": len(senders),
            "opt_outs": len(opted),
            "opt_out_rate": _rate(len(opted), len(senders)),
            "campaign_recipients": texted,
            "campaign_responders": responders,
            "response_rate": _rate(responders, texted),
            "tickets_opened": len(part_tickets),
            "tickets_answered": len(answers),
            "median_first_answer_s": _median(answers),
            "tickets_solved": len(solves),
            "median_solve_s": _median(solves),
        }

    texts_by_day = _group(texts, lambda t: t.day)
    tickets_by_day = _group(opened, lambda t: t.day)
    by_day = {
        day: figures(texts_by_day.get(day, []), tickets_by_day.get(day, []),
                     recipients.get(day, {}).get("sent", 0),
                     recipients.get(day, {}).get("answered", 0))
        for day in {*texts_by_day, *tickets_by_day, *recipients}
    }  # fmt: skip
    total = figures(
        texts, opened,
        sum(d["sent"] for d in recipients.values()),
        sum(d["answered"] for d in recipients.values()),
    )  # fmt: skip
    return {**total, "days": by_day, "columns": NUMBER_COLUMNS}


def _per_keyword(
    conn: Connection, number_ids: list[int], texts: list[_Text], answer_s: dict[int, float]
) -> list[dict[str, Any]]:
    """`keyword_rule_report`'s figures for every rule of the numbers (the default one
    too): its texts, their senders, the opt-outs it records (every sender, when one of
    its actions opts out), the tickets its texts went to and how fast they were answered."""
    if not number_ids:
        return []
    found = conn.execute(
        select(rules.c.id, rules.c.number_id, number_rows.c.number, rules.c.keyword,
               rules.c.campaign_id, rules.c.actions)
        .join(number_rows, number_rows.c.id == rules.c.number_id)
        .where(rules.c.number_id.in_(number_ids))
        .order_by(rules.c.number_id, rules.c.id)
    ).all()  # fmt: skip
    by_rule = _group([t for t in texts if t.rule_id is not None], lambda t: t.rule_id)

    def figures(part: list[_Text], opts_out: bool) -> dict[str, Any]:
        senders = {t.contact_id for t in part if t.contact_id is not None}
        ticket_ids = {t.ticket_id for t in part if t.ticket_id is not None}
        answers = [answer_s[t] for t in ticket_ids if t in answer_s]
        return {
            "responses": len(part),
            "unique_senders": len(senders),
            "opt_outs": len(senders) if opts_out else 0,
            "tickets_opened": len(ticket_ids),
            "tickets_answered": len(answers),
            "median_first_answer_s": _median(answers),
        }

    result = []
    for rule in found:
        opts_out = any(a.get("type") == ActionKind.OPT_OUT for a in rule.actions or [])
        part = by_rule.get(rule.id, [])
        result.append({
            "rule_id": rule.id, "number_id": rule.number_id, "number": rule.number,
            "keyword": rule.keyword, "campaign_id": rule.campaign_id,
            **figures(part, opts_out),
            "days": {day: figures(texts_of_day, opts_out)
                     for day, texts_of_day in _group(part, lambda t: t.day).items()},
            "columns": KEYWORD_COLUMNS,
        })  # fmt: skip
    return result


def _per_campaign(
    conn: Connection,
    campaign_ids: list[int],
    sent_from: dict[int, int],
    replies: dict[int, list[tuple[int | None, str, datetime, date]]],
    cohorts: _Cohorts,
) -> list[dict[str, Any]]:
    """`campaign_response`'s figures for each campaign sent from (or answered on) the
    numbers, over the period; by day, the rates are those of the day's recipients."""
    if not campaign_ids:
        return []
    rows = conn.execute(
        select(campaigns.c.id, campaigns.c.name, campaigns.c.number_id)
        .where(campaigns.c.id.in_(campaign_ids))
        .order_by(campaigns.c.id)
    ).all()
    result = []
    for campaign in rows:
        texts = replies.get(campaign.id, [])
        days = cohorts.count(
            [campaign.id], {"answered": None, "opted_out": OPT_OUT_ROUTES}, known_contacts=False
        )
        responders = {contact for contact, *_ in texts}
        sent_at = _first_sends(conn, campaign.id, responders, cohorts)
        figures = response_figures(
            sum(d["sent"] for d in days.values()), sent_at, [t[:3] for t in texts]
        )
        by_day: dict[date, dict[str, Any]] = {}
        for day in {*days, *(t[3] for t in texts)}:
            cohort = days.get(day, {"sent": 0, "answered": 0, "opted_out": 0})
            day_figures = response_figures(
                cohort["sent"], sent_at, [t[:3] for t in texts if t[3] == day]
            )
            day_figures["response_rate"] = _rate(cohort["answered"], cohort["sent"])
            day_figures["opt_out_rate"] = _rate(cohort["opted_out"], cohort["sent"])
            by_day[day] = day_figures
        result.append({
            "campaign_id": campaign.id, "name": campaign.name,
            "number_id": campaign.number_id,
            **figures, "days": by_day, "columns": CAMPAIGN_COLUMNS,
        })  # fmt: skip
    return result


def _first_sends(
    conn: Connection, campaign_id: int, contact_ids: set[int | None], cohorts: _Cohorts
) -> dict[int | None, datetime]:
    """When the campaign first texted each of these people in the period (for the time
    to first reply): only the people who answered are read."""
    known = sorted(c for c in contact_ids if c is not None)
    found: dict[int | None, datetime] = {}
    m = messages.c
    for start in range(0, len(known), 900):
        found.update(
            conn.execute(
                select(m.contact_id, func.min(m.sent_at))
                .where(m.campaign_id == campaign_id, m.contact_id.in_(known[start : start + 900]),
                       m.direction == "out", m.sent_at.is_not(None),
                       *_in_span(m.sent_at, cohorts.since, cohorts.until))
                .group_by(m.contact_id)
            ).all()
        )  # fmt: skip
    return found


# --- days ---------------------------------------------------------------------------------


def _group(items: Iterable[T], key: Callable[[T], K]) -> dict[K, list[T]]:
    grouped: dict[K, list[T]] = defaultdict(list)
    for item in items:
        grouped[key(item)].append(item)
    return grouped


def _days(
    since: datetime | None, until: datetime, zone: ZoneInfo, scopes: list[dict[str, Any]]
) -> list[date]:
    """Every local day of the period, none left out (a chart's axis has no holes); from
    the first day anything happened when the period has no start."""
    last = (until - timedelta(microseconds=1)).astimezone(zone).date()
    if since is not None:
        first = since.astimezone(zone).date()
    else:
        seen = [day for scope in scopes for day in scope["days"]]
        first = min(seen, default=last)
    first = min(first, last)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _filled(
    found: dict[date, dict[str, Any]], days: list[date], columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    """One entry per day of the period; a day with nothing is zeros (rates and times:
    None, as there is nothing to measure)."""
    empty = {c: None if c.endswith(("_rate", "_s")) else 0 for c in columns}
    return [{"day": day, **{c: found.get(day, empty)[c] for c in columns}} for day in days]
