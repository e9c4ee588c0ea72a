"""Cron expressions for recurring campaigns: five fields, read in the campaign's zone.

`minute hour day-of-month month day-of-week`, with `*`, lists, ranges, steps and
names (`0 10 * * MON`, `30 9 1-7 * 1`, `*/15 8-18 * * MON-FRI`). As in Vixie cron,
when both day fields are restricted a day matches either. Times are wall-clock
times in the zone; a time the spring DST change skips runs right after the gap,
and one the autumn change repeats runs once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from smscast.core.errors import UserError
from smscast.core.schedule import wall_to_utc, zone_of

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_FIELDS = (
    ("minute", 0, 59, ()),
    ("hour", 0, 23, ()),
    ("day of month", 1, 31, ()),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_SEARCH_DAYS = 366 * 8


@dataclass(frozen=True, slots=True)
class CronSchedule:
    source: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    """0 = Sunday … 6 = Saturday (7 is read as Sunday too)."""
    any_day: bool
    any_weekday: bool

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        in_month = day.day in self.days
        in_week = (day.isoweekday() % 7) in self.weekdays
        if self.any_day:
            return in_week
        if self.any_weekday:
            return in_month
        return in_month or in_week


def _bad(source: str, name: str, part: str, why: str) -> UserError:
    return UserError.of("bad_cron", f'cron "{source}": {name} field "{part}": {why}', field="cron")


def _value(text: str, names: tuple[str, ...], low: int) -> int:
    upper = text.upper()
    if names and upper in names:
        return names.index(upper) + low
    if not text.isdigit():
        raise ValueError(f'"{text}" is not a number' + (" or a name" if names else ""))
    return int(text)


def _field(source: str, text: str, index: int) -> frozenset[int]:
    name, low, high, names = _FIELDS[index]
    values: set[int] = set()
    for part in text.split(","):
        try:
            body, _, step_text = part.partition("/")
            step = int(step_text) if step_text else 1
            if step < 1:
                raise ValueError("the step must be at least 1")
            if body == "*":
                first, last = low, high
            elif "-" in body:
                start, _, end = body.partition("-")
                first, last = _value(start, names, low), _value(end, names, low)
            else:
                first = _value(body, names, low)
                last = high if step_text else first
        except ValueError as exc:
            raise _bad(source, name, part, str(exc)) from None
        if not (low <= first <= high and low <= last <= high) or first > last:
            raise _bad(source, name, part, f"values must lie in {low}–{high}, low to high")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def parse_cron(source: str) -> CronSchedule:
    """Reads a five-field expression; a wrong field is named with what is wrong in it."""
    fields = source.split()
    if len(fields) != 5:
        raise UserError.of(
            "bad_cron",
            f'cron "{source}": needs 5 fields (minute hour day month weekday), found {len(fields)}',
            field="cron",
        )
    parsed = [_field(source, text, index) for index, text in enumerate(fields)]
    weekdays = frozenset(day % 7 for day in parsed[4])
    schedule = CronSchedule(
        source, parsed[0], parsed[1], parsed[2], parsed[3], weekdays,
        any_day=fields[2] == "*", any_weekday=fields[4] == "*",
    )  # fmt: skip
    if not any(_possible(schedule, month) for month in schedule.months):
        raise UserError.of("bad_cron", f'cron "{source}": no such day ever comes', field="cron")
    return schedule


def _possible(schedule: CronSchedule, month: int) -> bool:
    longest = 29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31
    return not schedule.any_weekday or any(day <= longest for day in schedule.days)


def next_cron_time(schedule: CronSchedule, after: datetime, zone: str) -> datetime:
    """The first run strictly after `after`, with the expression read in `zone`."""
    tz = zone_of(zone)
    start = after.astimezone(tz).date()
    clocks = [time(hour, minute) for hour in sorted(schedule.hours)
              for minute in sorted(schedule.minutes)]  # fmt: skip
    for offset in range(_SEARCH_DAYS):
        day = start + timedelta(days=offset)
        if not schedule.matches_day(day):
            continue
        for clock in clocks:
            moment = wall_to_utc(day, clock, tz)
            if moment > after:
                return moment
    raise UserError.of(
        "bad_cron", f'cron "{schedule.source}": no run in the next years', field="cron"
    )


def runs_between(schedule: CronSchedule, after: datetime, until: datetime, zone: str) -> int:
    """How many runs fall in (after, until]; for previews and tests."""
    count, moment = 0, after.astimezone(UTC)
    while True:
        moment = next_cron_time(schedule, moment, zone)
        if moment > until:
            return count
        count += 1
