"""Donation arithmetic, terms, payout periods and CSV (pure domain, no database)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.calendar import ReportWindow, parse_period
from patron.domain.donations import (
    CSV_HEADER,
    DonationTerms,
    PayoutLine,
    date_range,
    matching,
    price,
    render_csv,
    report_window,
)
from patron.domain.errors import InvalidInput
from patron.domain.program import points_value


def test_value_and_matching_are_floored_once_per_donation() -> None:
    # 3 points = 2 cents: 100 points are 66.67 cents -> 66; 25% of 66 is 16.5 -> 16
    assert price(100, DonationTerms(matching_percent=25), 3, 2).value == 66
    assert price(100, DonationTerms(matching_percent=25), 3, 2).matching == 16
    assert price(100, DonationTerms(matching_percent=25), 3, 2).total == 82
    # 100 points = 1.00: exact
    assert price(500, DonationTerms(matching_percent=50), 100, 100).total == 750
    assert price(1, DonationTerms(), 3, 2).value == 0


@given(
    points=st.integers(1, 10**12),
    per=st.integers(1, 10**9),
    amount=st.integers(1, 10**9),
    percent=st.integers(0, 100),
)
def test_value_is_the_exact_floor_and_matching_never_exceeds_the_percent(
    points: int, per: int, amount: int, percent: int
) -> None:
    value = points_value(points, per, amount)
    assert value * per <= points * amount < (value + 1) * per
    match = matching(value, percent)
    assert match * 100 <= value * percent < (match + 1) * 100
    assert 0 <= match <= value


@pytest.mark.parametrize(
    ("terms", "points", "message"),
    [
        (DonationTerms(points_step=10), 15, "steps of 10"),
        (DonationTerms(min_points=50), 40, "smallest donation is 50"),
        (DonationTerms(), 0, "positive"),
        (DonationTerms(), -5, "positive"),
    ],
)
def test_terms_refuse_points_off_step_or_below_minimum(
    terms: DonationTerms, points: int, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        terms.check(points)
    assert raised.value.field == "points"


def test_terms_accept_multiples_from_the_minimum() -> None:
    terms = DonationTerms(points_step=10, min_points=50)
    for points in (50, 60, 1000):
        terms.check(points)


@pytest.mark.parametrize(
    ("text", "first", "after"),
    [
        ("2026-11", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1)),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1)),
        ("2024-Q1", date(2024, 1, 1), date(2024, 4, 1)),
        ("2026", date(2026, 1, 1), date(2027, 1, 1)),
    ],
)
def test_periods(text: str, first: date, after: date) -> None:
    assert parse_period(text) == ReportWindow(text, first, after)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-Q0", "2026-Q5", "26", "Nov", ""])
def test_bad_periods(text: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        parse_period(text)
    assert raised.value.field == "period"


def test_window_is_local_midnights_in_utc() -> None:
    # New York: November starts in EDT (UTC-4) and ends in EST (UTC-5)
    start, end = parse_period("2026-11").bounds(ZoneInfo("America/New_York"))
    assert (start, end) == (
        datetime(2026, 11, 1, 4, tzinfo=UTC),
        datetime(2026, 12, 1, 5, tzinfo=UTC),
    )


def test_date_ranges_include_both_days() -> None:
    window = date_range(date(2026, 11, 30), date(2026, 11, 30))
    assert window == ReportWindow("2026-11-30..2026-11-30", date(2026, 11, 30), date(2026, 12, 1))
    today = date(2026, 11, 23)
    assert report_window(None, date(2026, 1, 1), date(2026, 12, 31), today).after == date(
        2027, 1, 1
    )
    assert report_window(None, None, None, today) == parse_period("2026-11")
    with pytest.raises(InvalidInput):
        date_range(date(2026, 1, 2), date(2026, 1, 1))
    with pytest.raises(InvalidInput):
        date_range(date(2026, 1, 1), date(2027, 1, 2))
    with pytest.raises(InvalidInput):
        report_window("2026", date(2026, 1, 1), None, today)
    with pytest.raises(InvalidInput):
        report_window(None, None, date(2026, 1, 1), today)


def test_csv_has_a_header_and_quotes_every_field() -> None:
    lines = [PayoutLine("chr_1", "kids", 'Kids, "First"', 2, 1, 30, 20, 5)]
    text = render_csv("2026-11", "USD", lines)
    assert text == (
        '"period","charity_id","charity_code","charity_name","donations","donors","points",'
        '"value_amount","matching_amount","total_amount","currency"\r\n'
        '"2026-11","chr_1","kids","Kids, ""First""","2","1","30","20","5","25","USD"\r\n'
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_HEADER
    assert rows[1][3] == 'Kids, "First"'
    assert render_csv("2026", "USD", []) == text.split("\r\n")[0] + "\r\n"
