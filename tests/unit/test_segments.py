"""The segment filter's checks and the RFM score arithmetic (pure domain)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.errors import InvalidInput
from patron.domain.segments import (
    Interval,
    LastOrder,
    Range,
    Rfm,
    SegmentFilter,
    days_before,
    rfm_score,
)

TIERS = frozenset({"bronze", "silver"})


def field_of(spec: SegmentFilter) -> str | None:
    try:
        spec.check(TIERS)
    except InvalidInput as error:
        return error.field
    return None


def test_a_valid_filter_passes() -> None:
    spec = SegmentFilter(
        tiers=("silver",),
        spend=Range(0, 10),
        orders=Range(1, 1),
        last_order=LastOrder(within_days=30),
        rfm=Rfm(recency=Range(4, 5), total=Range(3, 15)),
        birthday_months=(1, 12),
        enrolled=Interval(datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
    )
    assert field_of(spec) is None


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (SegmentFilter(tiers=("bronze", "gold")), "tiers.1"),
        (SegmentFilter(spend=Range(-1, None)), "spend.min"),
        (SegmentFilter(orders=Range(3, 2)), "orders.max"),
        (SegmentFilter(referrals=Range(None, -1)), "referrals.max"),
        (SegmentFilter(last_order=LastOrder(none_for_days=0)), "last_order.none_for_days"),
        (
            SegmentFilter(
                last_order=LastOrder(
                    after=datetime(2026, 2, 1, tzinfo=UTC), before=datetime(2026, 2, 1, tzinfo=UTC)
                )
            ),
            "last_order.before",
        ),
        (SegmentFilter(rfm=Rfm(frequency=Range(0, None))), "rfm.f_min"),
        (SegmentFilter(rfm=Rfm(monetary=Range(None, 6))), "rfm.m_max"),
        (SegmentFilter(rfm=Rfm(recency=Range(4, 2))), "rfm.r_max"),
        (SegmentFilter(rfm=Rfm(total=Range(2, None))), "rfm.score_min"),
        (SegmentFilter(birthday_months=(3, 0)), "birthday_months.1"),
        (
            SegmentFilter(
                enrolled=Interval(
                    datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
                )
            ),
            "enrolled.before",
        ),
    ],
)
def test_each_impossible_criterion_names_its_field(spec: SegmentFilter, field: str) -> None:
    assert field_of(spec) == field


def test_rfm_scores_of_five_members() -> None:
    # order counts 0, 1, 1, 2, 3: strictly worse members 0, 1, 1, 3, 4
    assert [rfm_score(lower, 5) for lower in (0, 1, 1, 3, 4)] == [1, 2, 2, 4, 5]
    assert rfm_score(0, 1) == 1
    assert [rfm_score(lower, 10) for lower in range(10)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


@given(st.integers(1, 10_000), st.data())
def test_rfm_score_is_a_quintile_that_never_falls_as_rank_rises(
    n: int, data: st.DataObject
) -> None:
    lower = data.draw(st.integers(0, n - 1))
    score = rfm_score(lower, n)
    assert 1 <= score <= 5
    # the score's fifth of the population holds the member's share of worse members
    assert (score - 1) * n <= 5 * lower < score * n
    if lower + 1 < n:
        assert rfm_score(lower + 1, n) >= score


@pytest.mark.parametrize(("lower", "n"), [(0, 0), (-1, 5), (5, 5)])
def test_rfm_score_refuses_impossible_ranks(lower: int, n: int) -> None:
    with pytest.raises(ValueError):
        rfm_score(lower, n)


def test_days_before_is_whole_days_of_24_hours() -> None:
    at = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)
    assert days_before(at, 30) == datetime(2026, 2, 27, 12, 0, tzinfo=UTC)
