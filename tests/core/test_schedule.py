"""Quiet hours, local-time sends, spreading and cron, with frozen clocks across DST."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smscast.core.campaign_rules import quiet_hours_of
from smscast.core.cron import next_cron_time, parse_cron
from smscast.core.errors import UserError
from smscast.core.schedule import (
    QuietHours,
    next_allowed_time,
    next_allowed_time_in_zones,
    next_local_time,
    parse_duration,
    retime,
    spread_offset,
)

WARSAW = ZoneInfo("Europe/Warsaw")
NEW_YORK = ZoneInfo("America/New_York")
QUIET = QuietHours()


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def test_a_message_due_at_night_waits_for_eight_in_the_morning() -> None:
    due = local(WARSAW, 2026, 11, 25, 22, 30)
    assert next_allowed_time(due, "Europe/Warsaw", QUIET) == local(WARSAW, 2026, 11, 26, 8, 0)
    early = local(WARSAW, 2026, 11, 25, 6, 0)
    assert next_allowed_time(early, "Europe/Warsaw", QUIET) == local(WARSAW, 2026, 11, 25, 8, 0)
    day = local(WARSAW, 2026, 11, 25, 12, 0)
    assert next_allowed_time(day, "Europe/Warsaw", QUIET) == day


def test_quiet_night_across_the_spring_change_in_warsaw() -> None:
    # 29 March 2026: clocks jump 02:00 → 03:00; the night is an hour shorter in UTC.
    due = local(WARSAW, 2026, 3, 28, 23, 0)
    opening = next_allowed_time(due, "Europe/Warsaw", QUIET)
    assert opening == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert opening.astimezone(WARSAW).hour == 8


def test_quiet_night_across_the_autumn_change_in_new_york() -> None:
    # 1 November 2026: 02:00 EDT becomes 01:00 EST.
    due = local(NEW_YORK, 2026, 10, 31, 21, 30)
    opening = next_allowed_time(due, "America/New_York", QUIET)
    assert opening == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST
    assert opening.astimezone(NEW_YORK).hour == 8


def test_the_stricter_of_two_zones_wins() -> None:
    # 09:00 in Warsaw is 03:00 in New York: quiet there, so wait for 08:00 New York.
    due = local(WARSAW, 2026, 11, 25, 9, 0)
    opening = next_allowed_time_in_zones(due, ("Europe/Warsaw", "America/New_York"), QUIET)
    assert opening == local(NEW_YORK, 2026, 11, 25, 8, 0)
    assert not QUIET.is_quiet(opening.astimezone(WARSAW).time())


def test_local_time_sends_at_ten_in_each_zone_even_on_dst_days() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    warsaw = next_local_time(now, time(10, 0), "Europe/Warsaw")
    assert warsaw == datetime(2026, 3, 29, 8, 0, tzinfo=UTC)  # 10:00 CEST, the day of the change
    ny = next_local_time(datetime(2026, 3, 8, 0, 0, tzinfo=UTC), time(10, 0), "America/New_York")
    assert ny == datetime(2026, 3, 8, 14, 0, tzinfo=UTC)  # 10:00 EDT on the day clocks jump


def test_a_skipped_wall_time_moves_forward_never_back() -> None:
    now = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    moment = next_local_time(now, time(2, 30), "Europe/Warsaw")
    assert moment.astimezone(WARSAW).replace(tzinfo=None) == datetime(2026, 3, 29, 3, 30)


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=1, max_value=86400 * 3))
def test_spread_stays_inside_the_window(key: int, seconds: int) -> None:
    offset = spread_offset(key, timedelta(seconds=seconds))
    assert timedelta(0) <= offset < timedelta(seconds=seconds)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                    timezones=st.just(UTC)), st.sampled_from(["Europe/Warsaw", "America/New_York",
                                                              "Asia/Kolkata", "UTC"]))
def test_next_allowed_time_is_never_earlier_and_never_quiet(due: datetime, zone: str) -> None:
    moment = next_allowed_time(due, zone, QUIET)
    assert moment >= due
    assert not QUIET.is_quiet(moment.astimezone(ZoneInfo(zone)).time())
    assert moment - due <= timedelta(hours=12)


def test_durations() -> None:
    assert parse_duration("2h") == timedelta(hours=2)
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("48h") == timedelta(days=2)
    with pytest.raises(UserError, match="not a duration"):
        parse_duration("two hours")


def test_cron_every_monday_at_ten_across_dst() -> None:
    schedule = parse_cron("0 10 * * MON")
    after = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)  # Friday before the change
    first = next_cron_time(schedule, after, "Europe/Warsaw")
    assert first == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)  # Monday 10:00 CEST
    before = next_cron_time(schedule, datetime(2026, 3, 20, tzinfo=UTC), "Europe/Warsaw")
    assert before == datetime(2026, 3, 23, 9, 0, tzinfo=UTC)  # Monday 10:00 CET


def test_cron_in_the_repeated_hour_runs_once() -> None:
    schedule = parse_cron("30 1 * * *")
    after = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT on the change night
    first = next_cron_time(schedule, after, "America/New_York")
    second = next_cron_time(schedule, first, "America/New_York")
    assert first == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, the first one
    assert second == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)  # next day 01:30 EST


@pytest.mark.parametrize(
    ("source", "words"),
    [("0 10 * *", "needs 5 fields"), ("61 * * * *", "minute field"),
     ("0 10 * * FUNDAY", "day of week"), ("0 0 30 2 *", "no such day")],
)
def test_bad_cron_expressions_say_what_is_wrong(source: str, words: str) -> None:
    with pytest.raises(UserError, match=words):
        parse_cron(source)


def test_cron_steps_ranges_and_both_day_fields() -> None:
    schedule = parse_cron("*/15 8-9 1 * MON")
    assert schedule.minutes == {0, 15, 30, 45} and schedule.hours == {8, 9}
    assert schedule.matches_day(datetime(2026, 12, 1).date())  # the 1st (a Tuesday)
    assert schedule.matches_day(datetime(2026, 12, 7).date())  # a Monday
    assert not schedule.matches_day(datetime(2026, 12, 8).date())


ZONES = ["Europe/Warsaw", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu",
         "Australia/Lord_Howe", "Pacific/Chatham", "America/St_Johns", "Pacific/Kiritimati",
         "UTC"]  # fmt: skip
MOMENTS = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1),
                       timezones=st.just(UTC))  # fmt: skip
CLOCKS = st.builds(time, st.integers(0, 23), st.integers(0, 59))


AUTUMN = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 the second time round in Warsaw


@given(MOMENTS, MOMENTS, st.sampled_from(ZONES), st.sampled_from(ZONES), CLOCKS, CLOCKS)
@example(AUTUMN, AUTUMN, "Europe/Warsaw", "Europe/Warsaw", time(1, 0), time(2, 30))
def test_a_promotional_text_is_never_timed_inside_quiet_hours(
    due: datetime, now: datetime, own: str, by_number: str, start: time, end: time
) -> None:
    """Whatever the zone, the hours and the moment: when a text is due, it is timed (at
    launch, at dispatch, or again after a change of hours) outside the quiet hours of
    the recipient's own zone, never before it was due, and only moved if it had to be."""
    quiet = quiet_hours_of({"quiet_hours": {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}})
    send_after, due_at = retime(due, now, (own, by_number), quiet)
    goes = max(send_after, now)
    assert goes >= due
    assert not quiet.is_quiet(goes.astimezone(ZoneInfo(own)).time())
    if due_at is None:
        assert send_after == due
    else:
        assert due_at == due and send_after > max(due, now)
    alone, _ = retime(due, now, (own,), quiet)
    assert not quiet.is_quiet(max(alone, now).astimezone(ZoneInfo(own)).time())


@given(MOMENTS, MOMENTS, st.sampled_from(ZONES))
def test_quiet_hours_off_never_move_a_text(due: datetime, now: datetime, zone: str) -> None:
    off = quiet_hours_of({"quiet_hours": "off"})
    assert not off.enabled
    assert retime(due, now, (zone,), off) == (due, None)


@pytest.mark.parametrize("empty", [None, "", {}])
def test_empty_quiet_hours_are_refused_not_read_as_the_default(empty: object) -> None:
    with pytest.raises(UserError) as refused:
        quiet_hours_of({"quiet_hours": empty})
    assert refused.value.problem.field == "quiet_hours"
    assert quiet_hours_of({}) == QuietHours()  # not set at all: the default 21:00-08:00


def test_quiet_hours_ending_in_the_repeated_autumn_hour_end_at_its_second_occurrence() -> None:
    # 25 Oct 2026 in Warsaw: 03:00 CEST becomes 02:00 CET, so 02:00-03:00 happens twice.
    quiet = QuietHours(time(1, 0), time(2, 30))
    due = datetime(2026, 10, 25, 1, 15, tzinfo=UTC)  # 02:15 CET, the second time round
    moment = next_allowed_time(due, "Europe/Warsaw", quiet)
    assert moment == datetime(2026, 10, 25, 1, 30, tzinfo=UTC)  # 02:30 CET
    assert not quiet.is_quiet(moment.astimezone(WARSAW).time())
