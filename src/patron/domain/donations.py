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
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from patron.domain.calendar import ReportWindow, parse_period
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
        return parse_period(f"{today:%Y-%m}")
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
