"""tiers: the ladder's checks, qualification windows, status periods and level decisions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.calendar import BEGINNING, END_OF_TIME
from patron.domain.errors import InvalidInput
from patron.domain.tiers import (
    DowngradeMode,
    RewardPrices,
    TierLadder,
    TierLevel,
    TierMetric,
    TierProgress,
    WindowKind,
    evaluate_period_end,
    grace_ends_at,
    kept_until,
    level_for,
    membership_year,
    progress,
    qualification_window,
    reached,
    status_ends_at,
    status_period,
    upgrade,
)

TAIPEI = ZoneInfo("Asia/Taipei")  # UTC+8 all year
NEW_YORK = ZoneInfo("America/New_York")  # UTC-5, UTC-4 in summer


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


BRONZE = TierLevel("bronze", "Bronze", 0)
SILVER = TierLevel("silver", "Silver", 1_000, 800, Fraction(5, 4))
GOLD = TierLevel("gold", "Gold", 5_000, 4_000, Fraction(3, 2), ("lounge",), 500)
PLATINUM = TierLevel("platinum", "Platinum", 10_000, 8_000, Fraction(2))
LEVELS = (BRONZE, SILVER, GOLD, PLATINUM)


def ladder(
    window: WindowKind = WindowKind.CALENDAR_YEAR,
    downgrade: DowngradeMode = DowngradeMode.ONE_STEP,
    **kwargs: object,
) -> TierLadder:
    return TierLadder(
        LEVELS,
        TierMetric.SPEND,
        window,
        downgrade=downgrade,
        **kwargs,  # type: ignore[arg-type]
    )


ENROLLED = utc(2025, 3, 15, 2)  # 10:00 on 2025-03-15 in Taipei, 22:00 on Mar 14 in New York


# -- the ladder --------------------------------------------------------------------------


def test_a_valid_ladder_keeps_its_levels_in_order() -> None:
    tiers = ladder()
    assert tiers.levels == LEVELS
    assert tiers.lowest is BRONZE
    assert tiers.level("gold") is GOLD
    assert tiers.index("platinum") == 3
    assert (tiers.window_months, tiers.grace_days) == (12, 0)


def test_a_retain_threshold_defaults_to_the_entry_threshold() -> None:
    assert BRONZE.keep_threshold == 0
    assert TierLevel("x", "X", 700).keep_threshold == 700
    assert SILVER.keep_threshold == 800


def test_an_unknown_level_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        ladder().level("diamond")
    assert raised.value.field == "tier"


def test_levels_and_ladders_from_storage_are_normalised_and_hashable() -> None:
    # lists, dicts and decimal strings, as read from the database or JSON
    stored = TierLevel(
        "gold",
        "Gold",
        5_000,
        multiplier="1.5",  # type: ignore[arg-type]
        perks=["lounge"],  # type: ignore[arg-type]
        reward_prices={"coffee": 80, "bag": 900},
    )
    built = TierLevel(
        "gold",
        "Gold",
        5_000,
        multiplier=Fraction(3, 2),
        perks=("lounge",),
        reward_prices=RewardPrices([("bag", 900), ("coffee", 80)]),
    )
    assert stored == built and hash(stored) == hash(built)
    assert stored.reward_prices["coffee"] == 80 and dict(stored.reward_prices) == {
        "coffee": 80,
        "bag": 900,
    }
    tiers = TierLadder(
        [BRONZE, stored],  # type: ignore[arg-type]
        "points",  # type: ignore[arg-type]
        "anniversary",  # type: ignore[arg-type]
        downgrade="recalculate",  # type: ignore[arg-type]
    )
    assert tiers.levels == (BRONZE, built)
    assert tiers.metric is TierMetric.POINTS and tiers.window is WindowKind.ANNIVERSARY
    assert tiers.downgrade is DowngradeMode.RECALCULATE
    assert len({tiers, replace(tiers)}) == 1


def test_stored_values_are_stable() -> None:
    # stored in the database and shown in the API: they must not change
    assert [m.value for m in TierMetric] == ["spend", "points", "orders"]
    assert [w.value for w in WindowKind] == [
        "lifetime",
        "calendar_year",
        "rolling_months",
        "anniversary",
    ]
    assert [d.value for d in DowngradeMode] == ["one_step", "recalculate"]


def levels_with(index: int, **changes: object) -> tuple[TierLevel, ...]:
    """LEVELS with level `index` changed (unchecked: only the ladder checks its levels)."""
    return tuple(
        replace(level, **changes) if i == index else level  # type: ignore[arg-type]
        for i, level in enumerate(LEVELS)
    )


@pytest.mark.parametrize(
    ("levels", "field"),
    [
        ((), "tiers.levels"),
        (levels_with(0, code=" "), "tiers.levels.0.code"),
        (levels_with(2, code="silver"), "tiers.levels.2.code"),
        (levels_with(0, threshold=-1), "tiers.levels.0.threshold"),
        (levels_with(1, threshold=0, retain_threshold=None), "tiers.levels.1.threshold"),
        (levels_with(2, threshold=900, retain_threshold=None), "tiers.levels.2.threshold"),
        (levels_with(3, threshold=5_000, retain_threshold=4_000), "tiers.levels.3.threshold"),
        (levels_with(1, retain_threshold=1_001), "tiers.levels.1.retain_threshold"),
        (levels_with(1, retain_threshold=-1), "tiers.levels.1.retain_threshold"),
        # gold would be easier to keep (700) than silver (800)
        (levels_with(2, retain_threshold=700), "tiers.levels.2.retain_threshold"),
        (levels_with(1, multiplier=Fraction(99, 100)), "tiers.levels.1.multiplier"),
        (levels_with(2, entry_reward_points=-1), "tiers.levels.2.entry_reward_points"),
        (levels_with(3, reward_prices={"bag": -1}), "tiers.levels.3.reward_prices.bag"),
    ],
)
def test_an_invalid_level_names_its_position_and_field(
    levels: tuple[TierLevel, ...], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        TierLadder(levels, TierMetric.SPEND, WindowKind.CALENDAR_YEAR)
    assert raised.value.field == field


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"window": WindowKind.ROLLING_MONTHS, "window_months": 0}, "tiers.window_months"),
        ({"window": WindowKind.ROLLING_MONTHS, "window_months": 61}, "tiers.window_months"),
        ({"grace_days": -1}, "tiers.grace_days"),
        ({"metric": "visits"}, "tiers.metric"),
        ({"window": "fortnight"}, "tiers.window"),
        ({"downgrade": "two_steps"}, "tiers.downgrade"),
    ],
)
def test_an_invalid_ladder_names_its_field(kwargs: dict[str, object], field: str) -> None:
    arguments: dict[str, object] = {
        "levels": LEVELS,
        "metric": TierMetric.SPEND,
        "window": WindowKind.CALENDAR_YEAR,
        **kwargs,
    }
    with pytest.raises(InvalidInput) as raised:
        TierLadder(**arguments)  # type: ignore[arg-type]
    assert raised.value.field == field


def test_ladders_at_the_limits_are_valid() -> None:
    TierLadder((BRONZE,), TierMetric.ORDERS, WindowKind.LIFETIME)
    ladder(WindowKind.ROLLING_MONTHS, window_months=1)
    ladder(WindowKind.ROLLING_MONTHS, window_months=60)
    ladder(WindowKind.CALENDAR_YEAR, window_months=0)  # only rolling windows use it
    # a level may be kept on the same threshold as the one below it, and without one
    TierLadder(
        (BRONZE, replace(SILVER, retain_threshold=0), replace(GOLD, retain_threshold=0)),
        TierMetric.SPEND,
        WindowKind.CALENDAR_YEAR,
    )


# -- qualification windows ---------------------------------------------------------------


def test_a_lifetime_window_spans_all_time() -> None:
    window = qualification_window(ladder(WindowKind.LIFETIME), utc(2026, 5, 1), ENROLLED, TAIPEI)
    assert window == (BEGINNING, END_OF_TIME)


@pytest.mark.parametrize(
    ("at", "tz", "expected"),
    [
        # 23:30 on Dec 31 in New York: still 2026 there, though 2027 in UTC
        (utc(2027, 1, 1, 4, 30), NEW_YORK, (utc(2026, 1, 1, 5), utc(2027, 1, 1, 5))),
        # 00:30 on Jan 1 in Taipei: already 2027 there, though 2026 in UTC
        (utc(2026, 12, 31, 16, 30), TAIPEI, (utc(2026, 12, 31, 16), utc(2027, 12, 31, 16))),
        # the year begins exactly at local midnight
        (utc(2026, 12, 31, 16), TAIPEI, (utc(2026, 12, 31, 16), utc(2027, 12, 31, 16))),
        (utc(2026, 12, 31, 15, 59), TAIPEI, (utc(2025, 12, 31, 16), utc(2026, 12, 31, 16))),
    ],
)
def test_a_calendar_year_window_is_the_local_year(
    at: datetime, tz: ZoneInfo, expected: tuple[datetime, datetime]
) -> None:
    assert qualification_window(ladder(), at, ENROLLED, tz) == expected


@pytest.mark.parametrize(
    ("months", "at", "tz", "expected"),
    [
        # 12 months up to and including 2026-03-15: 2025-03-16 to 2026-03-16, Taipei
        (12, utc(2026, 3, 15, 2), TAIPEI, (utc(2025, 3, 15, 16), utc(2026, 3, 15, 16))),
        # in New York, across daylight saving: 2025-12-16 00:00 EST to 2026-03-16 00:00 EDT
        (3, utc(2026, 3, 15, 16), NEW_YORK, (utc(2025, 12, 16, 5), utc(2026, 3, 16, 4))),
        # one month on March 31 is March (Mar 31 - 1 month is clamped to Feb 28)
        (1, utc(2026, 3, 31, 2), TAIPEI, (utc(2026, 2, 28, 16), utc(2026, 3, 31, 16))),
        # 16:30 UTC on March 31 is April 1 in Taipei: March 2 to April 2 there ...
        (1, utc(2026, 3, 31, 16, 30), TAIPEI, (utc(2026, 3, 1, 16), utc(2026, 4, 1, 16))),
        # ... and March 31 in New York: March 1 (EST) to April 1 (EDT)
        (1, utc(2026, 3, 31, 16, 30), NEW_YORK, (utc(2026, 3, 1, 5), utc(2026, 4, 1, 4))),
        # a leap day: 12 months back from 2028-02-29 is 2027-02-28, so from Mar 1 2027
        (12, utc(2028, 2, 29, 4), TAIPEI, (utc(2027, 2, 28, 16), utc(2028, 2, 29, 16))),
    ],
)
def test_a_rolling_window_is_the_last_months_including_today(
    months: int, at: datetime, tz: ZoneInfo, expected: tuple[datetime, datetime]
) -> None:
    tiers = ladder(WindowKind.ROLLING_MONTHS, window_months=months)
    assert qualification_window(tiers, at, ENROLLED, tz) == expected


ZONES = [TAIPEI, NEW_YORK, ZoneInfo("Europe/London"), ZoneInfo("Australia/Lord_Howe"), UTC]
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    INSTANTS,
    st.integers(min_value=0, max_value=400 * 86_400),
    st.sampled_from(ZONES),
    st.integers(min_value=1, max_value=60),
)
def test_rolling_windows_hold_their_instant_and_move_forward(
    at: datetime, later_by: int, tz: ZoneInfo, months: int
) -> None:
    tiers = ladder(WindowKind.ROLLING_MONTHS, window_months=months)
    start, end = qualification_window(tiers, at, ENROLLED, tz)
    assert start <= at < end
    assert start.astimezone(tz).time() == end.astimezone(tz).time() == time(0)
    later = at + timedelta(seconds=later_by)
    later_start, later_end = qualification_window(tiers, later, ENROLLED, tz)
    assert later_start >= start and later_end >= end


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # the last minute of the first membership year, in Taipei
        (utc(2026, 3, 14, 15, 59), (utc(2025, 3, 14, 16), utc(2026, 3, 14, 16))),
        # the first anniversary, at local midnight
        (utc(2026, 3, 14, 16), (utc(2026, 3, 14, 16), utc(2027, 3, 14, 16))),
        (utc(2030, 1, 1), (utc(2029, 3, 14, 16), utc(2030, 3, 14, 16))),
    ],
)
def test_an_anniversary_window_is_the_membership_year(
    at: datetime, expected: tuple[datetime, datetime]
) -> None:
    tiers = ladder(WindowKind.ANNIVERSARY)
    assert qualification_window(tiers, at, ENROLLED, TAIPEI) == expected


def test_the_membership_year_starts_on_the_local_day_of_enrolment() -> None:
    # enrolled at 16:30 UTC on March 31: April 1 in Taipei, March 31 in New York
    enrolled = utc(2026, 3, 31, 16, 30)
    at = utc(2027, 3, 31, 18)  # 02:00 on April 1 in Taipei, 14:00 on March 31 in New York
    assert membership_year(at, enrolled, TAIPEI) == (utc(2027, 3, 31, 16), utc(2028, 3, 31, 16))
    assert membership_year(at, enrolled, NEW_YORK) == (utc(2027, 3, 31, 4), utc(2028, 3, 31, 4))


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        # enrolled on Feb 29 2028 (Taipei): the year starts on Feb 28 without a leap day
        (utc(2029, 2, 27, 4), (utc(2028, 2, 28, 16), utc(2029, 2, 27, 16))),
        (utc(2029, 2, 28, 4), (utc(2029, 2, 27, 16), utc(2030, 2, 27, 16))),
        # ... and on Feb 29 again in the next leap year
        (utc(2032, 2, 28, 4), (utc(2031, 2, 27, 16), utc(2032, 2, 28, 16))),
        (utc(2032, 2, 29, 4), (utc(2032, 2, 28, 16), utc(2033, 2, 27, 16))),
    ],
)
def test_a_membership_year_from_a_leap_day(
    at: datetime, expected: tuple[datetime, datetime]
) -> None:
    enrolled = utc(2028, 2, 29, 4)  # noon on Feb 29 2028 in Taipei
    assert membership_year(at, enrolled, TAIPEI) == expected


@given(INSTANTS, INSTANTS, st.sampled_from(ZONES))
def test_a_membership_year_holds_its_instant_and_starts_on_an_anniversary(
    at: datetime, enrolled: datetime, tz: ZoneInfo
) -> None:
    start, end = membership_year(at, enrolled, tz)
    assert start <= at < end
    first = start.astimezone(tz).date()
    joined = enrolled.astimezone(tz).date()
    assert (first.month, first.day) == (joined.month, joined.day) or (
        (joined.month, joined.day) == (2, 29) and (first.month, first.day) == (2, 28)
    )
    assert end.astimezone(tz).year == first.year + 1


# -- status periods ----------------------------------------------------------------------


def test_a_calendar_year_status_is_kept_through_the_next_year() -> None:
    tiers = ladder()
    # reached in June 2026 (New York): Gold through 2027, ending 2028-01-01 00:00 EST
    assert status_ends_at(tiers, utc(2026, 6, 1), ENROLLED, NEW_YORK) == utc(2028, 1, 1, 5)
    # 23:30 on Dec 31 2026 locally still counts for 2026
    assert status_ends_at(tiers, utc(2027, 1, 1, 4, 30), ENROLLED, NEW_YORK) == utc(2028, 1, 1, 5)
    # a minute after local midnight it is 2027's: kept through 2028
    assert status_ends_at(tiers, utc(2027, 1, 1, 5, 1), ENROLLED, NEW_YORK) == utc(2029, 1, 1, 5)
    # the status period is the year it was reached in
    assert status_period(tiers, utc(2026, 6, 1), ENROLLED, NEW_YORK) == (
        utc(2026, 1, 1, 5),
        utc(2027, 1, 1, 5),
    )


def test_an_anniversary_status_is_kept_through_the_next_membership_year() -> None:
    tiers = ladder(WindowKind.ANNIVERSARY)
    enrolled = utc(2028, 2, 29, 4)  # Feb 29 2028 in Taipei
    # reached in the first membership year [2028-02-29, 2029-02-28): kept to 2030-02-28
    assert status_ends_at(tiers, utc(2028, 6, 1), enrolled, TAIPEI) == utc(2030, 2, 27, 16)
    assert status_period(tiers, utc(2028, 6, 1), enrolled, TAIPEI) == (
        utc(2028, 2, 28, 16),
        utc(2029, 2, 27, 16),
    )


def test_a_level_decided_at_period_end_runs_through_the_next_period() -> None:
    tiers = ladder()
    # evaluated on 2027's metric at its end (2028-01-01 EST): held through 2028
    assert kept_until(tiers, utc(2028, 1, 1, 5), ENROLLED, NEW_YORK) == utc(2029, 1, 1, 5)
    # the same as a level reached during 2027
    assert kept_until(tiers, utc(2028, 1, 1, 5), ENROLLED, NEW_YORK) == status_ends_at(
        tiers, utc(2027, 7, 1), ENROLLED, NEW_YORK
    )
    anniversary = ladder(WindowKind.ANNIVERSARY)
    enrolled = utc(2028, 2, 29, 4)
    assert kept_until(anniversary, utc(2029, 2, 27, 16), enrolled, TAIPEI) == utc(2030, 2, 27, 16)


@pytest.mark.parametrize("window", [WindowKind.LIFETIME, WindowKind.ROLLING_MONTHS])
def test_lifetime_and_rolling_statuses_have_no_end(window: WindowKind) -> None:
    tiers = ladder(window)
    assert status_ends_at(tiers, utc(2026, 6, 1), ENROLLED, TAIPEI) is None
    assert kept_until(tiers, utc(2027, 1, 1), ENROLLED, TAIPEI) is None


def test_a_rolling_status_period_is_the_local_day() -> None:
    tiers = ladder(WindowKind.ROLLING_MONTHS)
    # re-evaluated daily: 16:30 UTC on March 31 is April 1 in Taipei
    assert status_period(tiers, utc(2026, 3, 31, 16, 30), ENROLLED, TAIPEI) == (
        utc(2026, 3, 31, 16),
        utc(2026, 4, 1, 16),
    )
    assert status_period(ladder(WindowKind.LIFETIME), utc(2026, 1, 1), ENROLLED, TAIPEI) == (
        BEGINNING,
        END_OF_TIME,
    )


def test_grace_days_are_whole_local_days() -> None:
    lapsed = utc(2026, 10, 15, 4)  # 00:00 EDT on Oct 15
    # 30 days later it is winter time: 00:00 EST on Nov 14
    assert grace_ends_at(ladder(grace_days=30), lapsed, NEW_YORK) == utc(2026, 11, 14, 5)
    assert grace_ends_at(ladder(), lapsed, NEW_YORK) == lapsed


# -- decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (0, "bronze"),
        (999, "bronze"),
        (1_000, "silver"),
        (4_999, "silver"),
        (5_000, "gold"),
        (9_999, "gold"),
        (10_000, "platinum"),
        (10**12, "platinum"),
    ],
)
def test_level_for_is_the_highest_threshold_met(value: int, code: str) -> None:
    assert level_for(ladder(), value).code == code


def test_below_the_lowest_threshold_a_value_reaches_nothing() -> None:
    tiers = TierLadder(
        (TierLevel("member", "Member", 100), TierLevel("vip", "VIP", 500)),
        TierMetric.ORDERS,
        WindowKind.LIFETIME,
    )
    assert reached(tiers, 99) is None
    assert level_for(tiers, 99).code == "member"
    assert upgrade(tiers, None, 99) is None
    assert upgrade(tiers, None, 100) == tiers.levels[0]


@pytest.mark.parametrize(
    ("current", "value", "expected"),
    [
        (None, 0, "bronze"),  # a member without a level gets the lowest one
        (None, 5_000, "gold"),
        ("bronze", 999, None),
        ("bronze", 1_000, "silver"),
        ("bronze", 6_000, "gold"),  # levels may be skipped
        ("silver", 10_000, "platinum"),
        ("gold", 6_000, None),  # already there
        ("gold", 1_000, None),  # never a downgrade
        ("platinum", 10**12, None),  # nothing above the top
    ],
)
def test_upgrade_moves_only_up(current: str | None, value: int, expected: str | None) -> None:
    result = upgrade(ladder(), current, value)
    assert (result.code if result else None) == expected


@pytest.mark.parametrize(
    ("current", "value", "one_step", "recalculate"),
    [
        ("gold", 4_000, "gold", "gold"),  # the retain threshold is met
        ("gold", 20_000, "gold", "gold"),  # never an upgrade
        ("gold", 3_999, "silver", "silver"),
        ("gold", 800, "silver", "silver"),  # silver kept on its retain threshold
        ("gold", 799, "silver", "bronze"),
        ("gold", 0, "silver", "bronze"),
        ("platinum", 8_000, "platinum", "platinum"),
        ("platinum", 7_999, "gold", "gold"),
        ("platinum", 3_999, "gold", "silver"),
        ("platinum", 0, "gold", "bronze"),
        ("silver", 800, "silver", "silver"),
        ("silver", 799, "bronze", "bronze"),
        ("bronze", 0, "bronze", "bronze"),  # nothing below the lowest
    ],
)
def test_evaluate_period_end_keeps_or_lowers_the_level(
    current: str, value: int, one_step: str, recalculate: str
) -> None:
    assert evaluate_period_end(ladder(), current, value).code == one_step
    recalculating = ladder(downgrade=DowngradeMode.RECALCULATE)
    assert evaluate_period_end(recalculating, current, value).code == recalculate


@given(
    st.sampled_from([level.code for level in LEVELS]),
    st.integers(min_value=0, max_value=20_000),
    st.sampled_from(list(DowngradeMode)),
)
def test_period_end_never_raises_and_one_step_drops_at_most_one(
    current: str, value: int, mode: DowngradeMode
) -> None:
    tiers = ladder(downgrade=mode)
    result = tiers.index(evaluate_period_end(tiers, current, value).code)
    before = tiers.index(current)
    assert result <= before
    # never below what the value would qualify for from scratch
    assert result >= min(before, tiers.index(level_for(tiers, value).code))
    if mode is DowngradeMode.ONE_STEP:
        assert result >= before - 1


def test_period_end_of_an_unknown_level_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        evaluate_period_end(ladder(), "diamond", 0)
    assert raised.value.field == "tier"


def test_progress_says_what_is_missing_for_the_next_level_and_to_keep_this_one() -> None:
    assert progress(ladder(), "silver", 3_200, 500) == TierProgress(
        current="silver", next="gold", missing_for_next=1_800, needed_to_keep=300, metric="spend"
    )


def test_progress_when_the_next_level_is_met_and_this_one_kept() -> None:
    assert progress(ladder(), "gold", 12_000, 4_500) == TierProgress(
        current="gold", next="platinum", missing_for_next=0, needed_to_keep=0, metric="spend"
    )


def test_progress_at_the_top_and_the_bottom() -> None:
    assert progress(ladder(), "platinum", 12_000, 7_000) == TierProgress(
        current="platinum", next=None, missing_for_next=None, needed_to_keep=1_000, metric="spend"
    )
    assert progress(ladder(), "bronze", 0, 0) == TierProgress(
        current="bronze", next="silver", missing_for_next=1_000, needed_to_keep=0, metric="spend"
    )


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        qualification_window(ladder(), datetime(2026, 1, 1), ENROLLED, TAIPEI)
    with pytest.raises(ValueError, match="aware"):
        membership_year(utc(2026, 1, 1), datetime(2025, 1, 1), TAIPEI)
