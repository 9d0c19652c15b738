"""Earning rules: schedules. Instants are UTC; days and hours are the program's.

Asia/Taipei is UTC+8 all year. America/New_York is UTC-5 until daylight saving time starts
on 2026-03-08 at 02:00 local, UTC-4 after.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from patron.domain.rules import Schedule
from tests.unit.test_rules_helpers import NEW_YORK, TAIPEI, UTC_ZONE, entry, order, rule, run

WEEKEND = Schedule(days_of_week=(5, 6))
OFFICE_HOURS = Schedule(hours=(9, 17))
MARCH = Schedule(
    active_from=datetime.fromisoformat("2026-03-01T00:00:00+00:00"),
    active_to=datetime.fromisoformat("2026-04-01T00:00:00+00:00"),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text + "+00:00")


def reason(schedule: Schedule, at: datetime, tz: ZoneInfo = UTC_ZONE) -> str | None:
    """Why rule r1 with `schedule` does not apply to an order at `at` (None: it does)."""
    found = entry(run([rule(1, schedule=schedule)], order(at=at), tz=tz), "r1")
    return found.get("reason")


# -- active from / to --------------------------------------------------------------------


def test_active_from_is_included_and_active_to_excluded() -> None:
    assert reason(MARCH, utc("2026-03-01T00:00:00")) is None
    assert reason(MARCH, utc("2026-03-31T23:59:59.999999")) is None
    assert reason(MARCH, utc("2026-02-28T23:59:59.999999")) == (
        "schedule: not active before 2026-03-01T00:00:00+00:00"
    )
    assert reason(MARCH, utc("2026-04-01T00:00:00")) == (
        "schedule: ended at 2026-04-01T00:00:00+00:00"
    )


def test_active_from_is_an_instant_whatever_its_offset() -> None:
    # midnight in Taipei is 16:00 UTC the day before
    start = Schedule(active_from=datetime(2026, 3, 1, tzinfo=TAIPEI))
    assert reason(start, utc("2026-02-28T16:00:00")) is None
    assert reason(start, utc("2026-02-28T15:59:00")) == (
        "schedule: not active before 2026-03-01T00:00:00+08:00"
    )


# -- days of the week ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "taipei", "new_york"),
    [
        # Friday 23:59 in Taipei, Friday 10:59 in New York
        (
            "2026-03-06T15:59:00",
            "schedule: not active on Friday (local 2026-03-06 23:59)",
            "schedule: not active on Friday (local 2026-03-06 10:59)",
        ),
        # Saturday 00:00 in Taipei, still Friday 11:00 in New York
        (
            "2026-03-06T16:00:00",
            None,
            "schedule: not active on Friday (local 2026-03-06 11:00)",
        ),
        # Saturday 12:59 in Taipei, Friday 23:59 in New York
        (
            "2026-03-07T04:59:00",
            None,
            "schedule: not active on Friday (local 2026-03-06 23:59)",
        ),
        # Saturday 13:00 in Taipei, Saturday 00:00 in New York
        ("2026-03-07T05:00:00", None, None),
    ],
)
def test_days_of_the_week_start_at_local_midnight(
    at: str, taipei: str | None, new_york: str | None
) -> None:
    assert reason(WEEKEND, utc(at), TAIPEI) == taipei
    assert reason(WEEKEND, utc(at), NEW_YORK) == new_york


def test_the_weekend_ends_at_local_midnight_after_daylight_saving_time_starts() -> None:
    # Monday 2026-03-09 starts at 04:00 UTC in New York (UTC-4 since Sunday)
    assert reason(WEEKEND, utc("2026-03-09T03:59:00"), NEW_YORK) is None
    assert reason(WEEKEND, utc("2026-03-09T04:00:00"), NEW_YORK) == (
        "schedule: not active on Monday (local 2026-03-09 00:00)"
    )
    # in Taipei the weekend was over at 2026-03-08 16:00 UTC
    assert reason(WEEKEND, utc("2026-03-08T16:00:00"), TAIPEI) == (
        "schedule: not active on Monday (local 2026-03-09 00:00)"
    )


# -- hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-03-04T00:59:00", "schedule: outside active hours 9-17 (local 08:59)"),
        ("2026-03-04T01:00:00", None),  # 09:00
        ("2026-03-04T08:59:59", None),  # 16:59:59
        ("2026-03-04T09:00:00", "schedule: outside active hours 9-17 (local 17:00)"),
    ],
)
def test_hours_in_taipei(at: str, expected: str | None) -> None:
    assert reason(OFFICE_HOURS, utc(at), TAIPEI) == expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # before daylight saving time: UTC-5
        ("2026-03-04T13:59:00", "schedule: outside active hours 9-17 (local 08:59)"),
        ("2026-03-04T14:00:00", None),
        ("2026-03-04T21:59:00", None),
        ("2026-03-04T22:00:00", "schedule: outside active hours 9-17 (local 17:00)"),
        # after: UTC-4, so 13:00 UTC is 09:00, not 08:00
        ("2026-03-09T12:59:00", "schedule: outside active hours 9-17 (local 08:59)"),
        ("2026-03-09T13:00:00", None),
        ("2026-03-09T21:00:00", "schedule: outside active hours 9-17 (local 17:00)"),
    ],
)
def test_hours_in_new_york_across_daylight_saving_time(at: str, expected: str | None) -> None:
    assert reason(OFFICE_HOURS, utc(at), NEW_YORK) == expected


def test_hours_up_to_24_include_the_last_hour_of_the_day() -> None:
    evening = Schedule(hours=(20, 24))
    assert reason(evening, utc("2026-03-04T15:59:59"), TAIPEI) is None  # 23:59:59
    assert reason(evening, utc("2026-03-04T16:00:00"), TAIPEI) == (
        "schedule: outside active hours 20-24 (local 00:00)"
    )


def test_days_and_hours_together() -> None:
    # Friday 17:00-20:00 in New York
    happy_hour = Schedule(days_of_week=(4,), hours=(17, 20))
    friday_six_pm = utc("2026-03-06T23:00:00")
    assert reason(happy_hour, friday_six_pm, NEW_YORK) is None
    assert reason(happy_hour, friday_six_pm - timedelta(days=1), NEW_YORK) == (
        "schedule: not active on Thursday (local 2026-03-05 18:00)"
    )
    assert reason(happy_hour, friday_six_pm + timedelta(hours=2), NEW_YORK) == (
        "schedule: outside active hours 17-20 (local 20:00)"
    )


def test_the_instant_range_is_checked_before_days_and_hours() -> None:
    schedule = Schedule(active_to=utc("2026-03-01T00:00:00"), hours=(9, 17))
    assert reason(schedule, utc("2026-03-04T03:00:00"), TAIPEI) == (
        "schedule: ended at 2026-03-01T00:00:00+00:00"
    )
