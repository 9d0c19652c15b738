"""expiry: when a lot, or a whole inactive balance, expires; reminders; the policy's checks."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.calendar import Period, add_months, local_date
from patron.domain.errors import InvalidInput
from patron.domain.expiry import (
    ExpiryKind,
    ExpiryPolicy,
    activity_expires_at,
    lot_expires_at,
    reminder_due,
    reminders_due,
)

TAIPEI = ZoneInfo("Asia/Taipei")  # UTC+8 all year
NEW_YORK = ZoneInfo("America/New_York")  # UTC-5, UTC-4 in summer

#: 16:30 UTC on March 31: already April 1 in Taipei, still March 31 in New York.
BOUNDARY = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fixed(months: int, round_to: Period | None = None) -> ExpiryPolicy:
    return ExpiryPolicy(ExpiryKind.FIXED, months, round_to)


# -- fixed expiry per lot ----------------------------------------------------------------


def test_a_lot_is_valid_through_the_whole_anniversary_day() -> None:
    # given points earned at 10:00 on 2026-03-15 in Taipei, living 12 months
    earned = utc(2026, 3, 15, 2)
    # then they expire when 2027-03-16 begins in Taipei
    assert lot_expires_at(fixed(12), earned, TAIPEI) == utc(2027, 3, 15, 16)


@pytest.mark.parametrize(
    ("tz", "months", "round_to", "expected"),
    [
        # Taipei: earned on April 1 (local)
        (TAIPEI, 12, None, utc(2027, 4, 1, 16)),  # 2027-04-02 00:00 +08
        (TAIPEI, 12, Period.DAY, utc(2027, 4, 1, 16)),  # the end of the day: the same
        (TAIPEI, 12, Period.MONTH, utc(2027, 4, 30, 16)),  # 2027-05-01 00:00 +08
        (TAIPEI, 12, Period.QUARTER, utc(2027, 6, 30, 16)),  # 2027-07-01 00:00 +08
        (TAIPEI, 12, Period.YEAR, utc(2027, 12, 31, 16)),  # 2028-01-01 00:00 +08
        (TAIPEI, 1, None, utc(2026, 5, 1, 16)),  # May 1 is the last day: 2026-05-02 +08
        # New York: earned on March 31 (local)
        (NEW_YORK, 12, None, utc(2027, 4, 1, 4)),  # 2027-04-01 00:00 EDT
        (NEW_YORK, 12, Period.MONTH, utc(2027, 4, 1, 4)),  # already the end of March
        (NEW_YORK, 12, Period.QUARTER, utc(2027, 4, 1, 4)),  # and of the first quarter
        (NEW_YORK, 12, Period.YEAR, utc(2028, 1, 1, 5)),  # 2028-01-01 00:00 EST
        (NEW_YORK, 1, None, utc(2026, 5, 1, 4)),  # Mar 31 + 1 month = Apr 30: May 1 EDT
    ],
)
def test_the_local_day_of_earning_decides_the_expiry(
    tz: ZoneInfo, months: int, round_to: Period | None, expected: datetime
) -> None:
    assert lot_expires_at(fixed(months, round_to), BOUNDARY, tz) == expected


@pytest.mark.parametrize(
    ("tz", "earned", "expected"),
    [
        # Jan 31 + 1 month is Feb 28: valid through Feb 28, gone on March 1
        (TAIPEI, utc(2026, 1, 31, 2), utc(2026, 2, 28, 16)),  # 2026-03-01 00:00 +08
        (NEW_YORK, utc(2026, 1, 31, 15), utc(2026, 3, 1, 5)),  # 2026-03-01 00:00 EST
        # ... and Feb 29 in a leap year
        (TAIPEI, utc(2028, 1, 31, 2), utc(2028, 2, 29, 16)),  # 2028-03-01 00:00 +08
        (NEW_YORK, utc(2028, 1, 31, 15), utc(2028, 3, 1, 5)),  # 2028-03-01 00:00 EST
    ],
)
def test_one_month_after_january_31_is_the_last_day_of_february(
    tz: ZoneInfo, earned: datetime, expected: datetime
) -> None:
    assert lot_expires_at(fixed(1), earned, tz) == expected


@pytest.mark.parametrize(
    ("tz", "earned", "months", "expected"),
    [
        # Feb 29 2028 + 12 months is Feb 28 2029: gone on March 1 2029
        (TAIPEI, utc(2028, 2, 29, 4), 12, utc(2029, 2, 28, 16)),  # 2029-03-01 00:00 +08
        (NEW_YORK, utc(2028, 2, 29, 17), 12, utc(2029, 3, 1, 5)),  # 2029-03-01 00:00 EST
        # + 48 months lands on a leap day again: valid through Feb 29 2032
        (TAIPEI, utc(2028, 2, 29, 4), 48, utc(2032, 2, 29, 16)),  # 2032-03-01 00:00 +08
    ],
)
def test_a_lot_earned_on_a_leap_day(
    tz: ZoneInfo, earned: datetime, months: int, expected: datetime
) -> None:
    assert lot_expires_at(fixed(months), earned, tz) == expected


def test_expiry_is_local_midnight_on_both_sides_of_daylight_saving() -> None:
    # earned at noon EST (winter), expiring in summer: midnight EDT is 04:00 UTC
    assert lot_expires_at(fixed(6), utc(2026, 1, 10, 17), NEW_YORK) == utc(2026, 7, 11, 4)
    # earned at noon EDT (summer), expiring in winter: midnight EST is 05:00 UTC
    assert lot_expires_at(fixed(6), utc(2026, 7, 10, 16), NEW_YORK) == utc(2027, 1, 11, 5)


def test_a_late_evening_earning_counts_on_its_local_day() -> None:
    # 03:30 UTC on Nov 1 is 23:30 on Oct 31 in New York: Oct 31 + 1 month = Nov 30
    assert lot_expires_at(fixed(1), utc(2026, 11, 1, 3, 30), NEW_YORK) == utc(2026, 12, 1, 5)


@pytest.mark.parametrize(
    ("round_to", "expected"),
    [
        (None, utc(2027, 5, 10, 16)),  # 2027-05-11 00:00 +08
        (Period.MONTH, utc(2027, 5, 31, 16)),  # 2027-06-01
        (Period.QUARTER, utc(2027, 6, 30, 16)),  # 2027-07-01
        (Period.YEAR, utc(2027, 12, 31, 16)),  # 2028-01-01
    ],
)
def test_rounding_moves_the_expiry_to_the_end_of_the_period(
    round_to: Period | None, expected: datetime
) -> None:
    # earned 2026-05-10 in Taipei, 12 months: last day 2027-05-10
    assert lot_expires_at(fixed(12, round_to), utc(2026, 5, 10, 4), TAIPEI) == expected


@pytest.mark.parametrize("round_to", [None, Period.MONTH, Period.QUARTER])
def test_a_last_day_at_the_end_of_a_period_is_not_rounded_into_the_next(
    round_to: Period | None,
) -> None:
    # earned 2026-06-30 in Taipei: the last day, 2027-06-30, ends the month and the quarter
    assert lot_expires_at(fixed(12, round_to), utc(2026, 6, 30, 4), TAIPEI) == utc(2027, 6, 30, 16)


@pytest.mark.parametrize("kind", [ExpiryKind.NEVER, ExpiryKind.ACTIVITY])
def test_only_fixed_expiry_dates_a_lot(kind: ExpiryKind) -> None:
    policy = ExpiryPolicy(kind, 0 if kind is ExpiryKind.NEVER else 12)
    assert lot_expires_at(policy, BOUNDARY, TAIPEI) is None


ZONES = [TAIPEI, NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), UTC]


@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
    st.sampled_from(ZONES),
    st.integers(min_value=1, max_value=120),
    st.sampled_from([None, Period.DAY, Period.MONTH, Period.QUARTER, Period.YEAR]),
)
def test_a_lot_expires_at_a_local_midnight_after_its_last_day(
    earned: datetime, tz: ZoneInfo, months: int, round_to: Period | None
) -> None:
    expires = lot_expires_at(fixed(months, round_to), earned, tz)
    unrounded = lot_expires_at(fixed(months), earned, tz)
    assert expires is not None and unrounded is not None
    assert expires.tzinfo is UTC
    assert expires.astimezone(tz).time() == time(0)
    # valid through the whole day `months` after the day of earning, and not a day longer
    last_day = add_months(local_date(earned, tz), months)
    assert local_date(unrounded, tz) == last_day + timedelta(days=1)
    assert expires >= unrounded > earned
    if round_to is Period.MONTH:
        assert local_date(expires, tz).day == 1
    if round_to is Period.YEAR:
        assert local_date(expires, tz) == last_day.replace(year=last_day.year + 1, month=1, day=1)


# -- activity expiry ---------------------------------------------------------------------


def test_an_inactive_balance_expires_months_after_the_last_earning() -> None:
    policy = ExpiryPolicy(ExpiryKind.ACTIVITY, 18)
    enrolled = utc(2025, 1, 1)
    # last earned on April 1 in Taipei: valid through 2027-10-01, gone on 2027-10-02
    assert activity_expires_at(policy, BOUNDARY, enrolled, TAIPEI) == utc(2027, 10, 1, 16)
    # ... and on March 31 in New York: gone on 2027-10-01 00:00 EDT
    assert activity_expires_at(policy, BOUNDARY, enrolled, NEW_YORK) == utc(2027, 10, 1, 4)


def test_a_member_who_never_earned_is_inactive_since_enrolment() -> None:
    policy = ExpiryPolicy(ExpiryKind.ACTIVITY, 2)
    # enrolled 15:00 on Dec 31 in New York; Dec 31 + 2 months = Feb 28: gone March 1 EST
    enrolled = utc(2025, 12, 31, 20)
    assert activity_expires_at(policy, None, enrolled, NEW_YORK) == utc(2026, 3, 1, 5)
    # in Taipei the same instant is already Jan 1: gone on March 2
    assert activity_expires_at(policy, None, enrolled, TAIPEI) == utc(2026, 3, 1, 16)


@pytest.mark.parametrize("policy", [ExpiryPolicy(), fixed(12)])
def test_only_activity_expiry_dates_a_balance(policy: ExpiryPolicy) -> None:
    assert activity_expires_at(policy, BOUNDARY, utc(2025, 1, 1), TAIPEI) is None


# -- reminders ---------------------------------------------------------------------------


def test_a_reminder_is_due_whole_days_of_24_hours_before_expiry() -> None:
    # expiry at 2026-11-03 00:00 EST; DST ended on Nov 1
    expires = utc(2026, 11, 3, 5)
    due = reminder_due(expires, 7)
    assert due == utc(2026, 10, 27, 5)
    # absolute days: a week earlier it is 01:00 EDT, not midnight
    assert due.astimezone(NEW_YORK).time() == time(1)


def test_reminders_of_a_policy_come_earliest_first() -> None:
    policy = ExpiryPolicy(ExpiryKind.FIXED, 12, remind_days=(7, 30, 1))
    expires = utc(2027, 4, 1, 16)
    assert reminders_due(policy, expires) == (
        utc(2027, 3, 2, 16),
        utc(2027, 3, 25, 16),
        utc(2027, 3, 31, 16),
    )
    assert reminders_due(ExpiryPolicy(), expires) == ()


# -- the policy --------------------------------------------------------------------------


def test_the_default_policy_never_expires() -> None:
    policy = ExpiryPolicy()
    assert (policy.kind, policy.months, policy.round_to, policy.remind_days) == (
        ExpiryKind.NEVER,
        0,
        None,
        (),
    )


def test_a_policy_from_storage_is_normalised() -> None:
    # plain strings and a list, as read from the database or JSON
    policy = ExpiryPolicy("fixed", 12, "month", [30, 7])  # type: ignore[arg-type]
    assert policy == ExpiryPolicy(ExpiryKind.FIXED, 12, Period.MONTH, (30, 7))
    assert policy.kind is ExpiryKind.FIXED and policy.round_to is Period.MONTH
    assert hash(policy) == hash(ExpiryPolicy(ExpiryKind.FIXED, 12, Period.MONTH, (30, 7)))


def test_expiry_kinds_are_stable() -> None:
    # stored in the database and shown in the API: they must not change
    assert [kind.value for kind in ExpiryKind] == ["never", "fixed", "activity"]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "sometimes"}, "expiry.kind"),
        ({"months": 12}, "expiry.months"),  # never expires: no months
        ({"kind": ExpiryKind.FIXED, "months": 0}, "expiry.months"),
        ({"kind": ExpiryKind.FIXED, "months": 121}, "expiry.months"),
        ({"kind": ExpiryKind.ACTIVITY, "months": 0}, "expiry.months"),
        ({"kind": ExpiryKind.ACTIVITY, "months": -1}, "expiry.months"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "round_to": Period.WEEK}, "expiry.round_to"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "round_to": Period.LIFETIME}, "expiry.round_to"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "round_to": "fortnight"}, "expiry.round_to"),
        ({"kind": ExpiryKind.ACTIVITY, "months": 12, "round_to": Period.MONTH}, "expiry.round_to"),
        ({"round_to": Period.YEAR}, "expiry.round_to"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "remind_days": (0,)}, "expiry.remind_days"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "remind_days": (366,)}, "expiry.remind_days"),
        ({"kind": ExpiryKind.FIXED, "months": 12, "remind_days": (7, 7)}, "expiry.remind_days"),
        ({"remind_days": (7,)}, "expiry.remind_days"),  # nothing expires: nothing to remind of
    ],
)
def test_an_invalid_policy_names_its_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        ExpiryPolicy(**kwargs)  # type: ignore[arg-type]
    assert raised.value.field == field


@pytest.mark.parametrize(
    "policy",
    [
        ExpiryPolicy(ExpiryKind.FIXED, 1),
        ExpiryPolicy(ExpiryKind.FIXED, 120, Period.DAY, (1, 365)),
        ExpiryPolicy(ExpiryKind.ACTIVITY, 120, None, (30,)),
    ],
)
def test_policies_at_the_limits_are_valid(policy: ExpiryPolicy) -> None:
    policy.validate()


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        lot_expires_at(fixed(12), datetime(2026, 3, 15), TAIPEI)
    with pytest.raises(ValueError, match="aware"):
        reminder_due(datetime(2026, 3, 15), 7)
