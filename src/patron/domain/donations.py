"""Charity donations: the terms a donation must meet, what it is worth, and the payout
report's periods, sums and CSV.

Exact arithmetic (all integers, minor units of the program's currency):

* value    = floor(points * point_value_amount / point_value_points), fixed when donated;
* matching = floor(value * matching_percent / 100), the brand's share, also fixed then;
* total    = value + matching.

Each donation is rounded once, on its own; a payout sums the stored per-donation values,
so a report never re-rounds and always equals the sum of its donors' receipts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from patron.domain.calendar import BEGINNING, Period, next_period_date, start_of_day
from patron.domain.errors import InvalidInput
from patron.domain.program import points_value

#: Longest from/to range a payout report covers (a little more than a leap year).
MAX_REPORT_DAYS = 366


@dataclass(frozen=True, slots=True)
class DonationTerms:
    """What a charity accepts: multiples of `points_step`, at least `min_points`; the brand
    adds `matching_percent` % (0-100) of each donation's value."""

    points_step: int = 1
    min_points: int = 0
    matching_percent: int = 0

    def check(self, points: int, *, field: str = "points") -> None:
        """InvalidInput naming `field` unless `points` is a positive multiple of the step
        and at least the minimum."""
        if points <= 0:
            raise InvalidInput("a donation must be a positive number of points", field=field)
        if points % self.points_step:
            raise InvalidInput(
                f"donations are in steps of {self.points_step} points, not {points}", field=field
            )
        if points < self.min_points:
            raise InvalidInput(
                f"the smallest donation is {self.min_points} points, not {points}", field=field
            )


@dataclass(frozen=True, slots=True)
class DonationAmounts:
    """A donation's money, fixed when it is made (minor units)."""

    value: int
    matching: int

    @property
    def total(self) -> int:
        return self.value + self.matching


def matching(value: int, percent: int) -> int:
    """floor(value * percent / 100): the brand's matching of a donation worth `value`."""
    return value * percent // 100


def price(
    points: int, terms: DonationTerms, point_value_points: int, point_value_amount: int
) -> DonationAmounts:
    """What `points` donated under `terms` are worth, with the brand's matching."""
    value = points_value(points, point_value_points, point_value_amount)
    return DonationAmounts(value, matching(value, terms.matching_percent))


# -- payout periods ------------------------------------------------------------------------

#: A year, a quarter or a month: `2026`, `2026-Q4`, `2026-11` (the keys of
#: `calendar.period_key`); years from 1970 (`calendar.BEGINNING`).
_PERIOD = re.compile(r"(?P<year>[0-9]{4})(?:-Q(?P<quarter>[1-4])|-(?P<month>[0-9]{2}))?")


@dataclass(frozen=True, slots=True)
class ReportWindow:
    """Local days [first, after) of a payout report, and its name (`2026-11`, `2026-Q4`,
    `2026`, or `2026-11-01..2026-11-15`)."""

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


def date_range(first: date, last: date) -> ReportWindow:
    """The local days `first` to `last`, both included (at most MAX_REPORT_DAYS)."""
    if last < first:
        raise InvalidInput(f"`to` ({last}) is before `from` ({first})", field="to")
    if (last - first).days >= MAX_REPORT_DAYS:
        raise InvalidInput(f"a report covers at most {MAX_REPORT_DAYS} days", field="to")
    return ReportWindow(f"{first}..{last}", first, last + timedelta(days=1))


def report_window(
    period: str | None, first: date | None, last: date | None, today: date
) -> ReportWindow:
    """`period`, or both `first` and `last`, or (none given) the month of `today`;
    InvalidInput naming what is wrong."""
    if period is not None:
        if first is not None or last is not None:
            raise InvalidInput("give either `period` or `from` and `to`, not both", field="period")
        return parse_period(period.strip())
    if first is None and last is None:
        return _window(f"{today:%Y-%m}", today.replace(day=1), Period.MONTH)
    if first is None or last is None:
        missing = "from" if first is None else "to"
        raise InvalidInput("give `period`, or both `from` and `to`", field=missing)
    return date_range(first, last)


# -- payout lines and CSV ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PayoutLine:
    """What one charity is owed for a period: the sum of its donations' stored amounts."""

    charity_id: str
    code: str
    name: str
    donations: int
    donors: int
    points: int
    value: int
    matching: int

    @property
    def total(self) -> int:
        return self.value + self.matching


CSV_HEADER = (
    "period",
    "charity_id",
    "charity_code",
    "charity_name",
    "donations",
    "donors",
    "points",
    "value_amount",
    "matching_amount",
    "total_amount",
    "currency",
)


def render_csv(label: str, currency: str, lines: Iterable[PayoutLine]) -> str:
    """The payout lines as CSV (RFC 4180: CRLF line ends, every field quoted), with a
    header; amounts are integers in minor units of `currency`."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow(
            (
                label,
                line.charity_id,
                line.code,
                line.name,
                line.donations,
                line.donors,
                line.points,
                line.value,
                line.matching,
                line.total,
                currency,
            )
        )
    return out.getvalue()
