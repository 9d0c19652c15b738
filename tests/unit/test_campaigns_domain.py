"""Campaign dates and settings: who is due when, leap days, catch-up windows, lapses."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.campaigns import (
    BirthdayTiming,
    CampaignKind,
    CampaignSpec,
    annual_due,
    birthday_due,
    bonus_rule_code,
    celebrated_on,
    lapse_key,
    lapsed,
    month_days,
    places_left,
    set_long_enough,
    window_days,
)
from patron.domain.errors import InvalidInput

DAY, MONTH = BirthdayTiming.DAY, BirthdayTiming.MONTH


def test_feb_29_is_celebrated_on_feb_28_in_other_years() -> None:
    leap = date(2000, 2, 29)
    assert [celebrated_on(leap, year) for year in (2027, 2028)] == [
        date(2027, 2, 28),
        date(2028, 2, 29),
    ]
    assert celebrated_on(date(1990, 3, 15), 2027) == date(2027, 3, 15)


def test_birthday_on_the_day_is_due_within_the_catch_up_window() -> None:
    born = date(1990, 3, 15)
    assert birthday_due(born, date(2026, 3, 14), DAY, 7) is None
    assert birthday_due(born, date(2026, 3, 15), DAY, 7) == date(2026, 3, 15)
    assert birthday_due(born, date(2026, 3, 21), DAY, 7) == date(2026, 3, 15)
    assert birthday_due(born, date(2026, 3, 22), DAY, 7) is None


def test_a_late_run_in_january_catches_up_a_december_birthday_of_last_year() -> None:
    assert birthday_due(date(1990, 12, 31), date(2027, 1, 2), DAY, 7) == date(2026, 12, 31)


def test_birthday_in_the_month_is_due_all_month_from_its_first_day() -> None:
    born = date(2000, 2, 29)
    assert birthday_due(born, date(2027, 1, 31), MONTH, 7) is None
    assert birthday_due(born, date(2027, 2, 1), MONTH, 7) == date(2027, 2, 1)
    assert birthday_due(born, date(2027, 2, 28), MONTH, 7) == date(2027, 2, 1)
    assert birthday_due(born, date(2027, 3, 1), MONTH, 7) is None


def test_feb_29_birthdays_are_due_on_feb_28_of_2027() -> None:
    born = date(2000, 2, 29)
    assert birthday_due(born, date(2027, 2, 27), DAY, 1) is None
    assert birthday_due(born, date(2027, 2, 28), DAY, 1) == date(2027, 2, 28)
    assert birthday_due(born, date(2028, 2, 28), DAY, 1) is None
    assert birthday_due(born, date(2028, 2, 29), DAY, 1) == date(2028, 2, 29)


def test_month_days_add_feb_29_to_feb_28_of_a_common_year() -> None:
    assert month_days([date(2027, 2, 28), date(2027, 3, 1)]) == ["02-28", "02-29", "03-01"]
    assert month_days([date(2028, 2, 28)]) == ["02-28"]
    assert len(window_days(date(2027, 2, 10), MONTH, 7)) == 28
    assert window_days(date(2027, 3, 2), DAY, 3) == [
        date(2027, 3, 2),
        date(2027, 3, 1),
        date(2027, 2, 28),
    ]


@given(
    st.dates(min_value=date(1950, 1, 1), max_value=date(2010, 12, 31)),
    st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31)),
    st.integers(min_value=1, max_value=31),
)
def test_every_birthday_due_on_the_day_is_in_the_sql_window(
    born: date, today: date, catch_up: int
) -> None:
    """The SQL filter (month-days of the window) never leaves out a member who is due."""
    due = birthday_due(born, today, DAY, catch_up)
    if due is not None:
        assert f"{born.month:02d}-{born.day:02d}" in month_days(window_days(today, DAY, catch_up))
        assert today - timedelta(days=catch_up) < due <= today


def test_anniversary_never_on_the_enrolment_date_itself() -> None:
    enrolled = date(2026, 3, 1)
    assert annual_due(enrolled, date(2026, 3, 1), 7) is None
    assert annual_due(enrolled, date(2027, 2, 28), 7) is None
    assert annual_due(enrolled, date(2027, 3, 1), 7) == date(2027, 3, 1)
    assert annual_due(enrolled, date(2027, 3, 8), 7) is None


def test_the_birthday_must_have_been_set_long_enough_before_it_is_due() -> None:
    due = datetime(2026, 4, 1, 4, 0, tzinfo=UTC)
    assert set_long_enough(due - timedelta(days=30), due, 30)
    assert not set_long_enough(due - timedelta(days=30) + timedelta(seconds=1), due, 30)
    assert set_long_enough(due, due, 0)


def test_a_lapse_is_named_by_its_last_order() -> None:
    last = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert not lapsed(last, last + timedelta(days=30, seconds=-1), 30)
    assert lapsed(last, last + timedelta(days=30), 30)
    assert lapse_key(41) == "order:41" != lapse_key(42)


def test_capacity_and_reserved_rule_codes() -> None:
    assert (places_left(50, 48), places_left(50, 50), places_left(50, 60)) == (2, 0, 0)
    assert bonus_rule_code("weekend") == "campaign-weekend"


START = datetime(2026, 3, 7, tzinfo=UTC)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (CampaignSpec(CampaignKind.WELCOME), "offer"),
        (CampaignSpec(CampaignKind.WELCOME, points=1, reward="r"), "offer"),
        (CampaignSpec(CampaignKind.WELCOME, points=1, multiplier="2"), "multiplier"),
        (CampaignSpec(CampaignKind.WIN_BACK, points=1), "lapse_days"),
        (CampaignSpec(CampaignKind.BIRTHDAY, points=1, lapse_days=3), "lapse_days"),
        (CampaignSpec(CampaignKind.APPRECIATION, points=1), "capacity"),
        (CampaignSpec(CampaignKind.BONUS, multiplier="2"), "starts_at"),
        (CampaignSpec(CampaignKind.BONUS, multiplier="2", starts_at=START), "ends_at"),
        (CampaignSpec(CampaignKind.BONUS, starts_at=START, ends_at=START), "ends_at"),
        (
            CampaignSpec(
                CampaignKind.BONUS, points=5, starts_at=START, ends_at=START + timedelta(1)
            ),
            "offer",
        ),
    ],
)
def test_settings_that_do_not_fit_the_kind_are_refused(spec: CampaignSpec, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        spec.check()
    assert refused.value.field == field


def test_settings_that_fit_are_accepted() -> None:
    for spec in (
        CampaignSpec(CampaignKind.BIRTHDAY, points=100),
        CampaignSpec(CampaignKind.WIN_BACK, reward="back", lapse_days=60),
        CampaignSpec(CampaignKind.APPRECIATION, reward="gala", capacity=50),
        CampaignSpec(
            CampaignKind.BONUS, multiplier="2", starts_at=START, ends_at=START + timedelta(2)
        ),
    ):
        spec.check()
