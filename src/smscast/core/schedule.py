"""When a text may go: quiet hours, local-time sends, spreading, durations.

Everything here works on timezone-aware datetimes and zone names and never reads
the clock: the caller passes `now`. Wall-clock times that a DST change skips (02:30
on the spring-forward night in Europe/Warsaw) move forward by the gap, so a send is
never earlier than asked; times the autumn change repeats take their first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smscast.core.errors import UserError


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local hours no promotional text is sent in; `start == end` means none at all
    (`QuietHours.off()`, the workspace setting `quiet_hours = "off"`).

    With start after end (21:00–08:00) the quiet time runs over midnight.
    """

    start: time = time(21, 0)
    end: time = time(8, 0)

    @classmethod
    def off(cls) -> QuietHours:
        """No quiet hours: texts go at any hour."""
        return cls(time(0, 0), time(0, 0))

    @property
    def enabled(self) -> bool:
        return self.start != self.end

    def is_quiet(self, local: time) -> bool:
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@lru_cache(maxsize=512)
def zone_of(name: str) -> ZoneInfo:
    """The zone called `name`, or a user error naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserError.of(
            "unknown_timezone", f'"{name}" is not a time zone (Europe/Warsaw)', field="timezone"
        ) from None


def wall_to_utc(day: date, clock: time, zone: tzinfo) -> datetime:
    """The UTC moment the wall clock in `zone` shows `clock` on `day`.

    A skipped wall time maps to the moment the same distance after the gap opened
    (zoneinfo's fold=0), never before it; a repeated one to its first occurrence.
    """
    return datetime.combine(day, clock, tzinfo=zone).astimezone(UTC)


def next_allowed_time(due: datetime, zone: str, quiet: QuietHours) -> datetime:
    """The first moment at or after `due` that is outside quiet hours in `zone`."""
    tz = zone_of(zone)
    local = due.astimezone(tz)
    if not quiet.is_quiet(local.time()):
        return due
    day = local.date()
    if quiet.start > quiet.end and local.time() >= quiet.start:
        day += timedelta(days=1)
    opening = wall_to_utc(day, quiet.end, tz)
    if opening <= due:
        # `due` is in the hour the autumn change repeats, after the first time the
        # clock showed `end`: quiet hours end when it shows `end` the second time.
        opening = datetime.combine(day, quiet.end, tzinfo=tz).replace(fold=1).astimezone(UTC)
    return max(opening, due)


def next_allowed_time_in_zones(
    due: datetime, zones: tuple[str, ...], quiet: QuietHours
) -> datetime:
    """The first moment outside quiet hours in every one of `zones` (the stricter rule).

    Zones too far apart may share no open hour; then the first zone (the contact's
    own) decides, so a message is never held forever.
    """
    moment = due
    for _ in range(8):
        moved = moment
        for zone in zones:
            moved = next_allowed_time(moved, zone, quiet)
        if moved == moment:
            return moment
        moment = moved
    return next_allowed_time(due, zones[0], quiet)


def retime(
    due: datetime, now: datetime, zones: tuple[str, ...], quiet: QuietHours
) -> tuple[datetime, datetime | None]:
    """When a queued text goes under (new) quiet hours: (send_after, due_at).

    `due` is when the text was due before any quiet hours moved it. A text whose
    due time has passed is timed from `now`, so it is never released into quiet
    hours that hold now. `due_at` is `due` when quiet hours move the text, None
    when they do not (then it goes at `due`, or at once if that has passed).
    """
    start = max(due, now)
    allowed = next_allowed_time_in_zones(start, zones, quiet)
    if allowed == start:
        return due, None
    return allowed, due


def next_local_time(now: datetime, clock: time, zone: str) -> datetime:
    """The first moment at or after `now` when the wall clock in `zone` shows `clock`."""
    tz = zone_of(zone)
    day = now.astimezone(tz).date()
    for offset in range(3):
        moment = wall_to_utc(day + timedelta(days=offset), clock, tz)
        if moment >= now:
            return moment
    raise AssertionError("a wall-clock time recurs within three days")  # pragma: no cover


def spread_offset(key: int, spread: timedelta) -> timedelta:
    """Where in a send window of length `spread` recipient `key` falls.

    A fixed mixing of the key (not Python's per-process hash) spreads recipients
    evenly and gives the same answer when an interrupted launch is run again.
    """
    if spread <= timedelta(0):
        return timedelta(0)
    mixed = (key * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    fraction = (mixed >> 11) / float(1 << 53)
    return timedelta(seconds=int(spread.total_seconds() * fraction))


_DURATION = re.compile(r"(\d+)\s*(d|h|m|s)", re.IGNORECASE)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str, *, field: str = "duration") -> timedelta:
    """`2h`, `90m`, `1h30m`, `48h`, `2d` → a timedelta; anything else is a user error."""
    cleaned = text.strip().replace(" ", "")
    matches = list(_DURATION.finditer(cleaned))
    if not cleaned or "".join(m.group(0) for m in matches) != cleaned:
        raise UserError.of(
            "bad_duration", f'"{text}" is not a duration (like 2h, 90m, 1h30m, 2d)', field=field
        )
    seconds = sum(int(m.group(1)) * _UNITS[m.group(2).lower()] for m in matches)
    return timedelta(seconds=seconds)


def parse_clock(text: str, *, field: str = "time") -> time:
    """`10:00` or `9:30` → a time of day."""
    found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*", text)
    if found is None or int(found[1]) > 23 or int(found[2]) > 59:
        raise UserError.of(
            "bad_time", f'"{text}" is not a time of day (HH:MM, like 10:00)', field=field
        )
    return time(int(found[1]), int(found[2]))


def parse_moment(text: str, default_zone: str, *, field: str = "at") -> datetime:
    """An ISO date and time; without an offset it is read in `default_zone`."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError.of(
            "bad_datetime",
            f'"{text}" is not a date and time (ISO 8601, like 2026-12-01T10:00)',
            field=field,
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone_of(default_zone))
    return moment.astimezone(UTC)
