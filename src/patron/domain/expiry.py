"""When points expire: per lot a fixed time after earning, or all at once after inactivity.

Expiry instants are local midnights in the program's time zone, returned in UTC: points
are valid through the whole last local day, whatever the hour they were earned at, so a
member is never told "your points expire at 16:30". Durations in months are calendar
months (`calendar.add_months`: Jan 31 + 1 month is Feb 28, or 29 in a leap year).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from patron.domain.calendar import (
    Period,
    add_months,
    local_date,
    next_period_date,
    period_start_date,
    require_aware,
    start_of_day,
)
from patron.domain.errors import InvalidInput, parse_enum

#: The longest lot lifetime or inactivity span a program may set (ten years).
MAX_MONTHS = 120
#: The earliest a reminder may be sent before expiry.
MAX_REMIND_DAYS = 365
#: Periods an expiry may be rounded up to the end of. A week would make expiry depend on
#: the weekday of earning, and "lifetime" would mean never: both are refused.
ROUNDABLE = frozenset({Period.DAY, Period.MONTH, Period.QUARTER, Period.YEAR})


class ExpiryKind(StrEnum):
    """How a program's points expire."""

    #: Points never expire.
    NEVER = "never"
    #: Each lot expires `months` after the local day it was earned.
    FIXED = "fixed"
    #: The whole balance expires after `months` without earning.
    ACTIVITY = "activity"


@dataclass(frozen=True, slots=True)
class ExpiryPolicy:
    """A program's expiry rule; checked when built (InvalidInput names the `expiry.*` field).

    `months` is the lot lifetime (FIXED) or the inactivity span (ACTIVITY), 1..120, and 0
    for NEVER. `round_to` (FIXED only) moves each expiry to the end of the local day,
    month, quarter or year containing it, so a program expires points on a few dates
    rather than every day. `remind_days` are the days before expiry reminders are sent
    (each 1..365, distinct; none for NEVER).

    Plain strings and lists (as read from storage or JSON) are accepted and normalised to
    the enums and a tuple, so a policy compares and hashes the same however it was built.
    """

    kind: ExpiryKind = ExpiryKind.NEVER
    months: int = 0
    round_to: Period | None = None
    remind_days: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", parse_enum(ExpiryKind, self.kind, "expiry.kind"))
        if self.round_to is not None:
            object.__setattr__(
                self, "round_to", parse_enum(Period, self.round_to, "expiry.round_to")
            )
        object.__setattr__(self, "remind_days", tuple(self.remind_days))
        self.validate()

    def validate(self) -> None:
        """Raise InvalidInput naming the first field that breaks the rules above."""
        self._validate_months()
        self._validate_round_to()
        self._validate_remind_days()

    def _validate_months(self) -> None:
        if self.kind is ExpiryKind.NEVER:
            if self.months != 0:
                raise InvalidInput("points that never expire take no months", field="expiry.months")
        elif not 1 <= self.months <= MAX_MONTHS:
            raise InvalidInput(
                f"expiry months must be between 1 and {MAX_MONTHS}", field="expiry.months"
            )

    def _validate_round_to(self) -> None:
        if self.round_to is None:
            return
        if self.kind is not ExpiryKind.FIXED:
            raise InvalidInput(
                "only a fixed expiry can be rounded to a period", field="expiry.round_to"
            )
        if self.round_to not in ROUNDABLE:
            raise InvalidInput(
                "an expiry can be rounded to a day, month, quarter or year", field="expiry.round_to"
            )

    def _validate_remind_days(self) -> None:
        if self.remind_days and self.kind is ExpiryKind.NEVER:
            raise InvalidInput(
                "points that never expire need no reminders", field="expiry.remind_days"
            )
        for days in self.remind_days:
            if not 1 <= days <= MAX_REMIND_DAYS:
                raise InvalidInput(
                    f"a reminder is sent 1 to {MAX_REMIND_DAYS} days before expiry",
                    field="expiry.remind_days",
                )
        if len(set(self.remind_days)) != len(self.remind_days):
            raise InvalidInput("reminder days must be distinct", field="expiry.remind_days")


def lot_expires_at(policy: ExpiryPolicy, earned_at: datetime, tz: ZoneInfo) -> datetime | None:
    """When a lot earned at `earned_at` expires (UTC), or None if lots do not expire alone.

    FIXED: the lot is valid through the whole local day `months` after the local day of
    earning, so it expires at the start of the following local day. Earned 2026-03-15 with
    12 months: expires 2027-03-16 00:00 local. With `round_to` it expires instead at the end
    of the period containing that last day (MONTH: 2027-04-01 00:00 local). NEVER and
    ACTIVITY lots carry no expiry: activity expiry is decided per member
    (`activity_expires_at`).
    """
    if policy.kind is not ExpiryKind.FIXED:
        return None
    last_day = add_months(local_date(_aware(earned_at), tz), policy.months)
    period = policy.round_to or Period.DAY
    return start_of_day(_day_after_period(last_day, period), tz)


def activity_expires_at(
    policy: ExpiryPolicy,
    last_earned_at: datetime | None,
    enrolled_at: datetime,
    tz: ZoneInfo,
) -> datetime | None:
    """When a member's whole balance expires for inactivity (UTC), or None if it cannot.

    ACTIVITY: at the start of the local day after the day `months` after the last earning
    (or, for a member who never earned, after enrolment). Any new earning moves it, so the
    caller recomputes it on each earning; None for NEVER and FIXED.
    """
    if policy.kind is not ExpiryKind.ACTIVITY:
        return None
    since = _aware(last_earned_at if last_earned_at is not None else enrolled_at)
    last_day = add_months(local_date(since, tz), policy.months)
    return start_of_day(last_day + timedelta(days=1), tz)


def activity_cutoff(policy: ExpiryPolicy, at: datetime, tz: ZoneInfo) -> datetime:
    """The instant C such that a member whose last earning (or enrolment) was before C
    has had its balance expire by `at` under an ACTIVITY policy: exactly those for whom
    `activity_expires_at(...) <= at`. Lets a job select them with one comparison in SQL.
    """
    if policy.kind is not ExpiryKind.ACTIVITY:
        raise ValueError("only an activity policy has a cutoff")
    today = local_date(_aware(at), tz)
    # The last local day L whose expiry day add_months(L, months) + 1 is on or before
    # today. add_months clamps month ends, so search down from just above the inverse.
    last = add_months(today, -policy.months) + timedelta(days=2)
    while add_months(last, policy.months) >= today:
        last -= timedelta(days=1)
    return start_of_day(last + timedelta(days=1), tz)


def reminder_due(expires_at: datetime, remind_days: int) -> datetime:
    """When the reminder `remind_days` before `expires_at` is due.

    Absolute days of 24 hours: across a daylight-saving change the reminder's local hour
    differs from the expiry's by one (a midnight expiry is reminded of at 23:00 or 01:00
    local). A reminder is a message, not a deadline, so no local-day arithmetic is spent on it.
    """
    return _aware(expires_at) - timedelta(days=remind_days)


def reminders_due(policy: ExpiryPolicy, expires_at: datetime) -> tuple[datetime, ...]:
    """Every reminder of `policy` for an expiry at `expires_at`, earliest first."""
    return tuple(sorted(reminder_due(expires_at, days) for days in policy.remind_days))


def _day_after_period(day: date, period: Period) -> date:
    """The first local date after the `period` (DAY, MONTH, QUARTER, YEAR) containing `day`."""
    return next_period_date(period_start_date(day, period), period)


def _aware(instant: datetime) -> datetime:
    return require_aware(instant, "expiry")
