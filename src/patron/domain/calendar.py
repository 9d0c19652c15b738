"""Calendar periods in a program's time zone.

Instants are stored in UTC; "day", "month", "calendar year" are the program's. Every
function takes aware datetimes and returns aware UTC datetimes, and a period is the
half-open interval [start, end).
"""

from __future__ import annotations

import calendar as _calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from patron.domain.errors import InvalidInput


class Period(StrEnum):
    """A calendar period a limit, an expiry rounding or a tier window is counted in."""

    DAY = "day"
    WEEK = "week"  # Monday to Sunday
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"
    LIFETIME = "lifetime"


#: The earliest and latest instants a lifetime period spans.
BEGINNING = datetime(1970, 1, 1, tzinfo=UTC)
END_OF_TIME = datetime(9999, 1, 1, tzinfo=UTC)


def zone(name: str, *, field: str = "time_zone") -> ZoneInfo:
    """The IANA time zone `name`; InvalidInput naming `field` if there is none."""
    if name not in _zones():
        raise InvalidInput(f"{name!r} is not an IANA time zone", field=field)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:  # pragma: no cover - list and db agree
        raise InvalidInput(f"{name!r} is not an IANA time zone", field=field) from error


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The date in `tz` at `instant`."""
    return instant.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The UTC instant at which `day` begins in `tz`."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def add_months(day: date, months: int) -> date:
    """`day` moved by `months`, clamped to the month's last day (Jan 31 + 1 = Feb 28/29)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def period_start_date(day: date, period: Period) -> date:
    """The first date of the period containing `day`."""
    if period is Period.DAY:
        return day
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    if period is Period.QUARTER:
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if period is Period.YEAR:
        return date(day.year, 1, 1)
    raise ValueError(f"{period} has no start date")


def next_period_date(start: date, period: Period) -> date:
    """The first date of the period after the one starting on `start`."""
    if period is Period.DAY:
        return start + timedelta(days=1)
    if period is Period.WEEK:
        return start + timedelta(days=7)
    if period is Period.MONTH:
        return add_months(start, 1)
    if period is Period.QUARTER:
        return add_months(start, 3)
    if period is Period.YEAR:
        return add_months(start, 12)
    raise ValueError(f"{period} has no next period")


def period_window(instant: datetime, period: Period, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The period of kind `period` containing `instant` in `tz`, as [start, end) in UTC."""
    if period is Period.LIFETIME:
        return BEGINNING, END_OF_TIME
    first = period_start_date(local_date(instant, tz), period)
    return start_of_day(first, tz), start_of_day(next_period_date(first, period), tz)


def period_key(instant: datetime, period: Period, tz: ZoneInfo) -> str:
    """A stable name of the period containing `instant`: `2026-03`, `2026-Q1`, `2026`, ...

    Jobs use it as their idempotency key, so a period is processed once."""
    if period is Period.LIFETIME:
        return "lifetime"
    first = period_start_date(local_date(instant, tz), period)
    if period is Period.YEAR:
        return f"{first.year}"
    if period is Period.QUARTER:
        return f"{first.year}-Q{(first.month - 1) // 3 + 1}"
    if period is Period.MONTH:
        return f"{first.year}-{first.month:02d}"
    return first.isoformat()


def end_of_period(instant: datetime, period: Period, tz: ZoneInfo) -> datetime:
    """The UTC instant at which the period containing `instant` ends in `tz`."""
    return period_window(instant, period, tz)[1]


def require_aware(instant: datetime, what: str) -> datetime:
    """`instant`, refused if naive: astimezone() would read it in the server's own zone, and
    `what` (expiry, a tier window...) would depend on the host it runs on."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{what} needs an aware datetime")
    return instant


# -- named periods of reports --------------------------------------------------------------

#: A year, a quarter or a month: `2026`, `2026-Q4`, `2026-11` (the keys of
#: `period_key`); years from 1970 (`BEGINNING`).
_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-Q(?P<quarter>[1-4])|-(?P<month>[0-9]{2}))?")


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """Local days [first, after) of a report (payouts, settlements), and its name
    (`2026-11`, `2026-Q4`, `2026`, or `2026-11-01..2026-11-15`)."""

    label: str
    first: date
    after: date

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The window as UTC instants [start, end): local midnights in `tz`."""
        return start_of_day(self.first, tz), start_of_day(self.after, tz)


def parse_period(text: str, *, field: str = "period") -> ReportWindow:
    """A month `YYYY-MM`, a quarter `YYYY-Qn` or a year `YYYY` (from 1970) as its window;
    InvalidInput naming `field` otherwise. Payout reports and coalition settlements (and
    their exchange rates) name their periods so."""
    match = _PERIOD.fullmatch(text)
    try:
        if match is not None and int(match["year"]) >= BEGINNING.year:
            year = int(match["year"])
            if match["quarter"]:
                return _window(text, date(year, int(match["quarter"]) * 3 - 2, 1), Period.QUARTER)
            if match["month"]:
                return _window(text, date(year, int(match["month"]), 1), Period.MONTH)
            return _window(text, date(year, 1, 1), Period.YEAR)
    except ValueError:  # month 00 or 13, or a window past year 9999
        pass
    raise InvalidInput(
        f"{text!r} is not a period: use a month (2026-11), a quarter (2026-Q4) or a year (2026)",
        field=field,
    )


def _window(label: str, first: date, period: Period) -> ReportWindow:
    return ReportWindow(label, first, next_period_date(first, period))
