"""The dashboard's filter bar as it travels in the address: time range and filters.

Everything the bar chooses is in the query string (`?range=7d&campaign=3&purpose=…`,
`&channel=email`),
so a dashboard as someone sees it can be sent as a link, the back button works, and
the live stream (`/dashboard/stream?<same query>`) counts exactly what the page shows.
A value that makes no sense (a campaign id that is not a number, `to` before `from`)
is not a server error: the bar says what is wrong and the page falls back to that
part's default.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from smscast.engine.dashboards.metrics import CHANNELS, PURPOSES, Filters
from smscast.web.forms import FieldError

RANGES = ("today", "7d", "30d", "custom")
DEFAULT_RANGE = "7d"
LONGEST_CUSTOM_DAYS = 400
"""A custom range longer than a year and a bit is refused: its daily chart is unreadable."""


@dataclass(frozen=True, slots=True)
class Query:
    """The bar's choices, as read (and corrected) from the address."""

    range: str = DEFAULT_RANGE
    start: date | None = None  # custom range, first day (inclusive)
    end: date | None = None  # custom range, last day (inclusive)
    campaign_id: int | None = None
    number_id: int | None = None
    purpose: str | None = None
    dashboard_id: int | None = None
    channel: str | None = None
    errors: tuple[FieldError, ...] = field(default=())

    @property
    def filters(self) -> Filters:
        return Filters(
            campaign_ids=(self.campaign_id,) if self.campaign_id is not None else (),
            number_id=self.number_id,
            purpose=self.purpose,
            channel=self.channel,
        )

    def params(self, *, with_dashboard: bool = True) -> dict[str, str]:
        """The query string's fields, defaults left out (shorter links)."""
        found: dict[str, str] = {}
        if with_dashboard and self.dashboard_id is not None:
            found["dashboard"] = str(self.dashboard_id)
        if self.range != DEFAULT_RANGE:
            found["range"] = self.range
        if self.range == "custom" and self.start and self.end:
            found["from"], found["to"] = self.start.isoformat(), self.end.isoformat()
        if self.campaign_id is not None:
            found["campaign"] = str(self.campaign_id)
        if self.number_id is not None:
            found["number"] = str(self.number_id)
        if self.purpose is not None:
            found["purpose"] = self.purpose
        if self.channel is not None:
            found["channel"] = self.channel
        return found

    def encoded(self, *, with_dashboard: bool = True) -> str:
        return urlencode(self.params(with_dashboard=with_dashboard))

    def span(self, now: datetime, timezone: str) -> tuple[datetime, datetime]:
        """[since, until) of the range, in whole local days of `timezone`: today is
        today's midnight to tomorrow's, 7 days ends with today, a custom range ends with
        its last day."""
        zone = ZoneInfo(timezone)
        today = now.astimezone(zone).date()
        if self.range == "custom" and self.start and self.end:
            first, last = self.start, self.end
        else:
            days = {"today": 1, "7d": 7, "30d": 30}.get(self.range, 7)
            first, last = today - timedelta(days=days - 1), today
        return _midnight(first, zone), _midnight(last + timedelta(days=1), zone)


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _whole(raw: str | None, name: str, message: str, errors: list[FieldError]) -> int | None:
    if raw is None or raw == "":
        return None
    if raw.isdigit() and len(raw) < 19:
        return int(raw)
    errors.append(FieldError(name, message))
    return None


def _day(raw: str | None, name: str, message: str, errors: list[FieldError]) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(FieldError(name, message))
        return None


def read_query(params: Mapping[str, str], gettext: Callable[..., str]) -> Query:
    """The bar's choices from the address; every mistake becomes a `FieldError` in the
    reader's language, on the field that holds it, and that choice its default."""
    _ = gettext
    errors: list[FieldError] = []
    chosen = params.get("range") or DEFAULT_RANGE
    if chosen not in RANGES:
        errors.append(FieldError("range", _("Choose a time range from the list.")))
        chosen = DEFAULT_RANGE
    start = end = None
    if chosen == "custom":
        start = _day(params.get("from"), "from", _("Enter the first day as a date."), errors)
        end = _day(params.get("to"), "to", _("Enter the last day as a date."), errors)
        if start is None or end is None:
            if not errors:
                missing = "from" if start is None else "to"
                errors.append(FieldError(missing, _("Enter both days of a custom range.")))
            chosen, start, end = DEFAULT_RANGE, None, None
        elif end < start:
            errors.append(FieldError("to", _("The last day must not come before the first.")))
            chosen, start, end = DEFAULT_RANGE, None, None
        elif (end - start).days >= LONGEST_CUSTOM_DAYS:
            errors.append(FieldError(
                "from", _("A custom range covers at most %(days)s days.", days=LONGEST_CUSTOM_DAYS)
            ))  # fmt: skip
            chosen, start, end = DEFAULT_RANGE, None, None
    purpose = params.get("purpose") or None
    if purpose is not None and purpose not in PURPOSES:
        errors.append(FieldError("purpose", _("Choose a purpose from the list.")))
        purpose = None
    channel = params.get("channel") or None
    if channel is not None and channel not in CHANNELS:
        errors.append(FieldError("channel", _("Choose a channel from the list.")))
        channel = None
    return Query(
        range=chosen,
        start=start,
        end=end,
        campaign_id=_whole(
            params.get("campaign"), "campaign", _("Choose a campaign from the list."), errors
        ),
        number_id=_whole(
            params.get("number"), "number", _("Choose a number from the list."), errors
        ),
        purpose=purpose,
        dashboard_id=_whole(
            params.get("dashboard"), "dashboard", _("Choose a dashboard from the list."), errors
        ),
        errors=tuple(errors),
        channel=channel,
    )
