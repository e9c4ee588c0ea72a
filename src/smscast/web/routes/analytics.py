"""Response analysis per number, keyword and campaign: `/analytics/responses`.

How people answered — responses, unique senders, the response rate to the campaigns
sent from a number, opt-outs, tickets and how fast they were answered and solved — day
by day in the workspace's time zone, for one number or all, over the last 7, 30 or 90
days, a chosen range or all time. Every figure is `response_analysis`'s, built on the
response report's definitions: over all time a number's totals are those of
`GET /api/v1/numbers/{id}/report`. A chart draws the days (uPlot) and a table holds the
same figures; the CSV (`/analytics/responses.csv?by=number|keyword|campaign`, same
filters) has one row per day and number, keyword rule or campaign.

The filters travel in the address (`?number=3&period=custom&from=…&to=…`), so a view can
be sent as a link; a value that makes no sense is shown beside its field and that
filter falls back to its default. Anyone in the workspace may read it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from fastapi import APIRouter, Depends
from starlette.responses import Response

from smscast.core.errors import UserError
from smscast.core.roles import Permission
from smscast.engine.inbound.numbers import list_numbers
from smscast.engine.inbound.response_analysis import (
    BREAKDOWNS,
    analysis_rows,
    response_analysis,
)
from smscast.web.auth import Page, reader_page
from smscast.web.forms import FieldError
from smscast.web.i18n import N_
from smscast.web.nav import NavItem
from smscast.web.routes.campaigns import _csv_line as csv_line
from smscast.web.templating import gettext_for, render, request_language

router = APIRouter(include_in_schema=False)
NAV = [NavItem(60, N_("Analytics"), "/analytics/responses", Permission.READ)]

PERIODS = {
    "7d": N_("Last 7 days"),
    "30d": N_("Last 30 days"),
    "90d": N_("Last 90 days"),
    "all": N_("All time"),
    "custom": N_("From – to (below)"),
}
DEFAULT_PERIOD = "30d"
LONGEST_CUSTOM_DAYS = 400
"""A longer range is refused: its chart and table by day would be unreadable."""

SERIES = (
    ("responses", N_("Responses")),
    ("unique_senders", N_("Unique senders")),
    ("opt_outs", N_("Opt-outs")),
    ("tickets_opened", N_("Tickets opened")),
)
"""The counts the chart draws, day by day (the table under it has them all)."""
CSV_NAMES = {
    "number": N_("By day and number"),
    "keyword": N_("By day and keyword"),
    "campaign": N_("By day and campaign"),
}


@dataclass(frozen=True, slots=True)
class Filters:
    """The page's choices, as read (and corrected) from the address."""

    number_id: int | None = None
    period: str = DEFAULT_PERIOD
    start: date | None = None  # custom: first day, inclusive
    end: date | None = None  # custom: last day, inclusive
    errors: tuple[FieldError, ...] = field(default=())

    def params(self, **extra: str) -> str:
        found: dict[str, str] = {}
        if self.number_id is not None:
            found["number"] = str(self.number_id)
        found["period"] = self.period
        if self.period == "custom" and self.start and self.end:
            found["from"], found["to"] = self.start.isoformat(), self.end.isoformat()
        return urlencode({**found, **extra})

    def span(self, now: datetime, zone: ZoneInfo) -> tuple[datetime | None, datetime]:
        """[since, until): whole local days ending today (a custom range: with its last
        day); all time has no start and ends now."""
        if self.period == "all":
            return None, now
        if self.period == "custom" and self.start and self.end:
            return _midnight(self.start, zone), _midnight(self.end + timedelta(days=1), zone)
        days = int(self.period.removesuffix("d"))
        today = now.astimezone(zone).date()
        return _midnight(today - timedelta(days=days - 1), zone), now


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def read_filters(params: Mapping[str, str], gettext: Callable[..., str]) -> Filters:
    """The choices from the address; each mistake a `FieldError` on its field, in the
    reader's language, and that choice its default."""
    _ = gettext
    errors: list[FieldError] = []
    raw_number = params.get("number") or ""
    number_id = None
    if raw_number.isdigit() and len(raw_number) < 10:
        number_id = int(raw_number)
    elif raw_number:
        errors.append(FieldError("number", _("Choose a number from the list.")))
    period = params.get("period") or DEFAULT_PERIOD
    if period not in PERIODS:
        errors.append(FieldError("period", _("Choose a period from the list.")))
        period = DEFAULT_PERIOD
    start = end = None
    if period == "custom":
        start, end = _date_of(params, "from", errors, _), _date_of(params, "to", errors, _)
        if start and end and end < start:
            errors.append(FieldError("to", _("The last day must not come before the first.")))
        elif start and end and (end - start).days >= LONGEST_CUSTOM_DAYS:
            errors.append(FieldError(
                "from", _("A range covers at most %(days)s days.", days=LONGEST_CUSTOM_DAYS)
            ))  # fmt: skip
        if start is None or end is None or errors:
            period, start, end = DEFAULT_PERIOD, None, None
    return Filters(number_id, period, start, end, tuple(errors))


def _date_of(
    params: Mapping[str, str], name: str, errors: list[FieldError], _: Callable[..., str]
) -> date | None:
    raw = params.get(name) or ""
    try:
        return date.fromisoformat(raw)
    except ValueError:
        message = _("Enter the first day as a date.") if name == "from" else (
            _("Enter the last day as a date."))  # fmt: skip
        errors.append(FieldError(name, message))
        return None


def _analysis(page: Page) -> tuple[Filters, dict[str, Any], list[dict[str, Any]]]:
    """The filters of the address and the figures they choose; an unknown number is
    a mistake on its field, and every number is shown instead."""
    _ = gettext_for(page.request)
    filters = read_filters(page.request.query_params, _)
    zone = ZoneInfo(page.workspace.timezone)
    since, until = filters.span(page.now, zone)
    numbers = list_numbers(page.engine, page.workspace)
    try:
        found = response_analysis(
            page.engine, page.workspace, filters.number_id, since, until, zone
        )
    except UserError as error:
        if error.problem.code != "unknown_number":
            raise
        wrong = FieldError("number", _("Choose a number from the list."))
        filters = replace(filters, number_id=None, errors=(*filters.errors, wrong))
        found = response_analysis(page.engine, page.workspace, None, since, until, zone)
    return filters, found, numbers


@router.get("/analytics/responses")
def responses_page(page: Page = Depends(reader_page)) -> Response:
    _ = gettext_for(page.request)
    filters, found, numbers = _analysis(page)
    language = request_language(page.request)
    days = found["days"]
    chart = {
        "day": _("Day"),
        "labels": [babel_dates.format_date(d, "d MMM", locale=language) for d in days],
        "series": [
            {"label": _(label), "values": [day[key] for day in found["total"]["by_day"]]}
            for key, label in SERIES
        ],
    }
    return render(
        page.request,
        "analytics/responses.html",
        {
            "filters": filters,
            "errors": list(filters.errors),
            "found": found,
            "numbers": numbers,
            "periods": [(key, _(label)) for key, label in PERIODS.items()],
            "chart": chart,
            "duration": lambda seconds: _duration(seconds, language),
            "day_names": {d: babel_dates.format_date(d, "medium", locale=language) for d in days},
            "typed": {name: page.request.query_params.get(name, "") for name in ("from", "to")},
            "csv_names": CSV_NAMES,
            "csv_links": [
                (by, f"/analytics/responses.csv?{filters.params(by=by)}") for by in BREAKDOWNS
            ],
        },
        status_code=422 if filters.errors else 200,
    )


@router.get("/analytics/responses.csv")
def responses_csv(page: Page = Depends(reader_page)) -> Response:
    """One row per day and number (keyword rule, campaign: `?by=`), with the page's
    filters; the figures as numbers, the API's names as the header."""
    by = page.request.query_params.get("by") or "number"
    if by not in BREAKDOWNS:
        by = "number"
    filters, found, _numbers = _analysis(page)
    columns, rows = analysis_rows(found, by)
    # Campaign names and keywords are typed by people: written as the campaign CSVs
    # write cells, so a spreadsheet never runs one as a formula.
    body = csv_line(columns) + "".join(csv_line(row) for row in rows)
    scope = f"number-{filters.number_id}" if filters.number_id is not None else "all-numbers"
    name = f"responses-{scope}-by-{by}-{found['days'][0]}-{found['days'][-1]}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _duration(seconds: float | None, language: str) -> str:
    """A median time as a person says it ("7 min"); a dash when there is none."""
    if seconds is None:
        return "–"
    return str(babel_dates.format_timedelta(
        timedelta(seconds=seconds), granularity="second", format="short", locale=language
    ))  # fmt: skip
