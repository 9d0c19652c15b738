"""The pure membership domain: period arithmetic in a time zone, the subscription state
machine, credit months, dividend windows and arithmetic, and the plan multiplier in rule
evaluation."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain import memberships as m
from patron.domain.errors import Conflict, InvalidInput
from patron.domain.memberships import Discount, PlanPeriod, Status
from patron.domain.rules import EventFacts, MemberFacts, OrderFacts, Trigger, Usage, evaluate

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


def _utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_monthly_periods_count_from_the_anchor_and_clamp_to_the_month_end() -> None:
    anchor = _utc(2026, 1, 31, 12)
    ends = []
    start = anchor
    for _ in range(4):
        end = m.period_end(anchor, start, PlanPeriod.MONTH, UTC_ZONE)
        assert end is not None
        ends.append(end)
        start = end
    # 28 Feb, then back to the 31st in March (no drift), 30 April, 31 May
    assert [end.date().isoformat() for end in ends] == [
        "2026-02-28",
        "2026-03-31",
        "2026-04-30",
        "2026-05-31",
    ]
    assert m.period_end(anchor, anchor, PlanPeriod.LIFETIME, UTC_ZONE) is None
    year = m.period_end(_utc(2028, 2, 29), _utc(2028, 2, 29), PlanPeriod.YEAR, UTC_ZONE)
    assert year == _utc(2029, 2, 28)


def test_days_and_months_keep_the_local_time_across_daylight_saving() -> None:
    # 13:00 in Berlin on 1 March (CET) is 13:00 CEST on 31 March: 11:00 UTC
    assert m.shift_days(_utc(2026, 3, 1, 12), 30, BERLIN) == _utc(2026, 3, 31, 11)
    assert m.shift_months(_utc(2026, 3, 1, 12), 1, BERLIN) == _utc(2026, 4, 1, 11)


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
    ),
    months=st.integers(min_value=1, max_value=240),
)
def test_period_ends_are_strictly_increasing_and_a_month_at_most_31_days(
    start: datetime, months: int
) -> None:
    previous = start
    for count in range(1, 4):
        end = m.shift_months(start, months * count, UTC_ZONE)
        assert end > previous
        previous = end
    one = m.period_end(start, start, PlanPeriod.MONTH, UTC_ZONE)
    assert one is not None and timedelta(days=28) <= one - start <= timedelta(days=31)


def test_a_trial_then_payment_then_failure_then_recovery() -> None:
    at = _utc(2026, 3, 1, 12)
    sub = m.start(PlanPeriod.MONTH, 30, UTC_ZONE, at, trial=True)
    sub = replace(sub, grace_days=7)
    assert (sub.status, sub.period_end, sub.perks_until()) == (
        Status.TRIALING,
        _utc(2026, 3, 31, 12),
        _utc(2026, 3, 31, 12),
    )
    paid = m.renew(sub, PlanPeriod.MONTH, UTC_ZONE, _utc(2026, 3, 30))
    assert (paid.status, paid.period_start, paid.period_end) == (
        Status.ACTIVE,
        _utc(2026, 3, 31, 12),
        _utc(2026, 4, 30, 12),
    )
    failed = m.fail_payment(paid, UTC_ZONE, _utc(2026, 4, 30, 13))
    assert (failed.status, failed.grace_until) == (Status.PAST_DUE, _utc(2026, 5, 7, 13))
    assert failed.perks_at(_utc(2026, 5, 7, 12)) and not failed.perks_at(_utc(2026, 5, 7, 13))
    recovered = m.renew(failed, PlanPeriod.MONTH, UTC_ZONE, _utc(2026, 5, 2))
    assert (recovered.status, recovered.period_start, recovered.grace_until) == (
        Status.ACTIVE,
        _utc(2026, 4, 30, 12),
        None,
    )
    # and without a payment, the grace ends in a lapse at grace_until
    lapsed = m.settle(failed, _utc(2026, 5, 8), UTC_ZONE)
    assert (lapsed.status, lapsed.ended_at) == (Status.LAPSED, _utc(2026, 5, 7, 13))
    with pytest.raises(Conflict):
        m.renew(failed, PlanPeriod.MONTH, UTC_ZONE, _utc(2026, 5, 8))


def test_expiry_cancellation_and_refusals() -> None:
    at = _utc(2026, 3, 1, 12)
    sub = replace(m.start(PlanPeriod.YEAR, 0, UTC_ZONE, at, trial=False), grace_days=3)
    end = _utc(2027, 3, 1, 12)
    # not renewed: still accepted 3 days late, expired after, as of the period end
    assert m.settle(sub, end + timedelta(days=2), UTC_ZONE) is sub
    expired = m.settle(sub, end + timedelta(days=3), UTC_ZONE)
    assert (expired.status, expired.ended_at) == (Status.EXPIRED, end)
    # cancelled at period end: expired at once at the period end
    ending = m.cancel_at_period_end(sub, at, UTC_ZONE)
    assert m.settle(ending, end, UTC_ZONE).status is Status.EXPIRED
    assert not ending.perks_at(end) and ending.perks_at(end - timedelta(seconds=1))
    cancelled = m.cancel_now(sub, _utc(2026, 6, 1), UTC_ZONE)
    assert (cancelled.status, cancelled.perks_until()) == (Status.CANCELLED, _utc(2026, 6, 1))
    with pytest.raises(Conflict):
        m.cancel_now(cancelled, _utc(2026, 6, 2), UTC_ZONE)
    with pytest.raises(InvalidInput):
        m.start(PlanPeriod.MONTH, 0, UTC_ZONE, at, trial=True)
    lifetime = m.start(PlanPeriod.LIFETIME, 0, UTC_ZONE, at, trial=False)
    assert (lifetime.period_end, lifetime.perks_at(_utc(2090, 1, 1))) == (None, True)
    with pytest.raises(Conflict):
        m.renew(lifetime, PlanPeriod.LIFETIME, UTC_ZONE, at)
    with pytest.raises(InvalidInput):
        m.cancel_at_period_end(lifetime, at, UTC_ZONE)


def test_credit_months_are_those_begun_while_the_perks_applied() -> None:
    sub = m.start(PlanPeriod.YEAR, 0, UTC_ZONE, _utc(2026, 1, 31, 12), trial=False)
    cancelled = m.cancel_now(sub, _utc(2026, 3, 31, 12), UTC_ZONE)
    months = m.credit_months(cancelled, UTC_ZONE, _utc(2027, 1, 1))
    assert months == [(0, _utc(2026, 1, 31, 12)), (1, _utc(2026, 2, 28, 12))]
    # 31 March starts at the very instant of the cancellation: not credited; and nothing
    # is due before its month starts
    assert m.credit_months(sub, UTC_ZONE, _utc(2026, 2, 28, 11)) == [(0, _utc(2026, 1, 31, 12))]


def test_dividend_windows_and_amounts() -> None:
    sub = m.start(PlanPeriod.LIFETIME, 0, BERLIN, _utc(2026, 5, 1, 12), trial=False)
    assert m.dividend_window(sub, 2026, BERLIN) == (_utc(2026, 5, 1, 12), _utc(2026, 12, 31, 23))
    assert m.dividend_window(sub, 2025, BERLIN) is None
    assert list(m.completed_years(sub.started_at, _utc(2028, 1, 2), BERLIN)) == [2026, 2027]
    assert m.dividend(Fraction(10), 30_005) == 3_000
    assert m.dividend(Fraction(25, 2), 999) == 124
    assert m.dividend(Fraction(10), -5) == 0


def test_a_discount_covers_matching_lines_and_floors() -> None:
    own = Discount(Fraction(20), tags=("own-brand",))
    assert own.applies_to(None, None, ("own-brand",)) and not own.applies_to("X", "Y", ())
    assert Discount(Fraction(10)).applies_to(None, None, ())
    assert Discount(Fraction(15)).off(2_997) == 449


def test_the_plan_multiplier_adds_to_the_base_and_is_explained() -> None:
    order = OrderFacts(lines=(), eligible=12_345, base_points=123, first_order=False)
    event = EventFacts(
        trigger=Trigger.ORDER_PAID,
        event_type=None,
        occurred_at=_utc(2026, 3, 1),
        brand="default",
        channel=None,
        payload={},
        order=order,
    )
    member = MemberFacts(
        tier="silver",
        tier_multiplier=Fraction(3, 2),
        plans=("gold",),
        plan_multiplier=Fraction(2),
    )
    result = evaluate([], event, member, Usage({}, {}), UTC_ZONE)
    assert result.points == 123 + 61 + 123
    assert result.explanation == [
        {"rule": "base", "points": 123},
        {"rule": "tier", "tier": "silver", "multiplier": "1.5", "points": 61},
        {"rule": "plan", "plans": ["gold"], "multiplier": "2", "points": 123},
    ]
