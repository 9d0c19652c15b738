"""lots: which lots pay for a spend, and how a reversal is covered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.errors import InsufficientPoints
from patron.domain.lots import (
    Lot,
    ReversalPlan,
    Take,
    plan_reversal,
    plan_spend,
    spending_order,
    take_up_to,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(days=30)
T2 = T0 + timedelta(days=60)


def ids(lots: list[Lot]) -> list[int]:
    return [lot.id for lot in lots]


# -- spending order ---------------------------------------------------------------------


def test_lots_that_expire_first_are_spent_first_and_never_expiring_last() -> None:
    # given lots expiring at different times, and lots that never expire
    lots = [
        Lot(1, 10, None),
        Lot(2, 10, T2),
        Lot(3, 10, T0),
        Lot(4, 10, None),
        Lot(5, 10, T1),
    ]
    # then they are spent by expiry, never-expiring ones last (older first)
    assert ids(spending_order(lots)) == [3, 5, 2, 1, 4]


def test_lots_expiring_at_the_same_time_are_spent_older_first() -> None:
    lots = [Lot(9, 1, T1), Lot(2, 1, T1), Lot(5, 1, T1), Lot(7, 1, None), Lot(3, 1, None)]
    assert ids(spending_order(lots)) == [2, 5, 9, 3, 7]


def test_spending_order_of_nothing_is_empty() -> None:
    assert spending_order([]) == []


def test_spending_order_compares_instants_not_wall_clock() -> None:
    # 12:00 at UTC+2 is 10:00 UTC: earlier than 11:00 UTC
    east = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    lots = [Lot(1, 1, datetime(2026, 1, 1, 11, tzinfo=UTC)), Lot(2, 1, east)]
    assert ids(spending_order(lots)) == [2, 1]


@given(
    st.lists(
        st.tuples(st.integers(0, 50), st.one_of(st.none(), st.integers(0, 5))),
        max_size=12,
    )
)
def test_spending_order_is_a_total_order_on_expiry_then_id(
    specs: list[tuple[int, int | None]],
) -> None:
    lots = [
        Lot(index, remaining, None if days is None else T0 + timedelta(days=days))
        for index, (remaining, days) in enumerate(specs)
    ]
    ordered = spending_order(reversed(lots))
    assert sorted(ids(ordered)) == ids(lots)
    keys = [(lot.expires_at is None, lot.expires_at or T0, lot.id) for lot in ordered]
    assert keys == sorted(keys)


# -- take_up_to -------------------------------------------------------------------------


def test_take_up_to_takes_in_the_given_order() -> None:
    lots = [Lot(3, 5), Lot(1, 10), Lot(2, 10)]
    assert take_up_to(lots, 12) == [Take(3, 5), Take(1, 7)]


def test_take_up_to_may_take_less_than_asked() -> None:
    assert take_up_to([Lot(1, 5), Lot(2, 3)], 100) == [Take(1, 5), Take(2, 3)]


def test_take_up_to_skips_empty_lots_and_stops_when_done() -> None:
    assert take_up_to([Lot(1, 0), Lot(2, 4), Lot(3, 9)], 4) == [Take(2, 4)]


def test_take_up_to_nothing_takes_nothing() -> None:
    assert take_up_to([Lot(1, 5)], 0) == []
    assert take_up_to([], 5) == []


# -- plan_spend -------------------------------------------------------------------------


def test_a_spend_takes_the_lot_that_expires_first() -> None:
    # given a lot expiring later, one expiring sooner, and one that never expires
    lots = [Lot(1, 50, T2), Lot(2, 30, T1), Lot(3, 100, None)]
    # when 60 points are spent
    takes = plan_spend(lots, 60)
    # then the sooner lot is emptied and the later one pays the rest
    assert takes == [Take(2, 30), Take(1, 30)]


def test_a_spend_of_everything_empties_every_lot() -> None:
    lots = [Lot(1, 50, T2), Lot(2, 30, T1), Lot(3, 100, None)]
    assert plan_spend(lots, 180) == [Take(2, 30), Take(1, 50), Take(3, 100)]


def test_a_spend_above_the_lots_is_refused() -> None:
    lots = [Lot(1, 50, T2), Lot(2, 30, T1), Lot(3, 100, None)]
    with pytest.raises(InsufficientPoints) as error:
        plan_spend(lots, 181)
    assert error.value.field is None
    assert error.value.detail == "needs 181 points, 180 available"


def test_a_refused_spend_names_the_input_that_asked_for_the_points() -> None:
    with pytest.raises(InsufficientPoints) as error:
        plan_spend([Lot(1, 10)], 11, field="reward_id")
    assert error.value.field == "reward_id"


def test_a_spend_from_no_lots_is_refused() -> None:
    with pytest.raises(InsufficientPoints):
        plan_spend([], 1)


def test_a_spend_of_zero_takes_nothing() -> None:
    assert plan_spend([Lot(1, 5)], 0) == []


@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.one_of(st.none(), st.integers(0, 5))),
        max_size=10,
    ),
    st.integers(0, 1200),
)
def test_plan_spend_takes_exactly_the_amount_or_refuses(
    specs: list[tuple[int, int | None]], amount: int
) -> None:
    lots = [
        Lot(index, remaining, None if days is None else T0 + timedelta(days=days))
        for index, (remaining, days) in enumerate(specs)
    ]
    held = sum(lot.remaining for lot in lots)
    if amount > held:
        with pytest.raises(InsufficientPoints):
            plan_spend(lots, amount)
        return
    takes = plan_spend(lots, amount)
    assert sum(take.amount for take in takes) == amount
    by_id = {lot.id: lot for lot in lots}
    assert all(0 < take.amount <= by_id[take.lot_id].remaining for take in takes)
    # every lot before the last one taken is emptied: no lot is skipped
    ordered = [lot for lot in spending_order(lots) if lot.remaining > 0]
    assert [take.lot_id for take in takes] == ids(ordered[: len(takes)])
    assert all(take.amount == by_id[take.lot_id].remaining for take in takes[:-1])


# -- plan_reversal ----------------------------------------------------------------------


OWN = Lot(5, 20)
AVAILABLE = [Lot(1, 10, T1), OWN, Lot(3, 10, None)]
PENDING = [Lot(8, 15), Lot(7, 15)]


def test_a_reversal_takes_the_awards_own_lot_first() -> None:
    plan = plan_reversal(15, OWN, AVAILABLE, PENDING, allow_negative=True)
    assert plan == ReversalPlan([Take(5, 15)], debt=0, forgiven=0)
    assert plan.reversed == 15


def test_a_reversal_then_takes_available_lots_in_spending_order_then_pending() -> None:
    # own lot 20, available 10 (expiring) + 10 (never), then pending 7 before 8
    plan = plan_reversal(55, OWN, AVAILABLE, PENDING, allow_negative=True)
    assert plan.takes == [Take(5, 20), Take(1, 10), Take(3, 10), Take(7, 15)]
    assert (plan.debt, plan.forgiven, plan.reversed) == (0, 0, 55)


def test_an_uncovered_reversal_becomes_debt_when_negative_balances_are_allowed() -> None:
    plan = plan_reversal(80, OWN, AVAILABLE, PENDING, allow_negative=True)
    assert plan.takes == [Take(5, 20), Take(1, 10), Take(3, 10), Take(7, 15), Take(8, 15)]
    assert (plan.debt, plan.forgiven, plan.reversed) == (10, 0, 80)


def test_an_uncovered_reversal_is_forgiven_when_negative_balances_are_not_allowed() -> None:
    plan = plan_reversal(80, OWN, AVAILABLE, PENDING, allow_negative=False)
    assert plan.takes == [Take(5, 20), Take(1, 10), Take(3, 10), Take(7, 15), Take(8, 15)]
    assert (plan.debt, plan.forgiven, plan.reversed) == (0, 10, 70)


def test_a_pending_own_lot_is_taken_before_available_lots() -> None:
    # given the award is still pending
    own = Lot(8, 15)
    plan = plan_reversal(20, own, AVAILABLE[:1], PENDING, allow_negative=True)
    # then its own lot goes first, then available, and it is not taken twice
    assert plan.takes == [Take(8, 15), Take(1, 5)]


def test_a_spent_own_lot_is_skipped() -> None:
    plan = plan_reversal(10, Lot(5, 0), [Lot(1, 4), Lot(5, 0)], [Lot(6, 10)], allow_negative=True)
    assert plan.takes == [Take(1, 4), Take(6, 6)]
    assert plan.debt == 0


def test_a_reversal_without_an_own_lot_uses_available_then_pending() -> None:
    plan = plan_reversal(
        12, None, [Lot(2, 5, None), Lot(4, 5, T0)], [Lot(1, 5)], allow_negative=False
    )
    assert plan.takes == [Take(4, 5), Take(2, 5), Take(1, 2)]
    assert (plan.debt, plan.forgiven) == (0, 0)


def test_a_reversal_with_no_lots_is_all_debt_or_all_forgiven() -> None:
    assert plan_reversal(9, None, [], [], allow_negative=True) == ReversalPlan([], 9, 0)
    assert plan_reversal(9, None, [], [], allow_negative=False) == ReversalPlan([], 0, 9)
    assert plan_reversal(9, None, [], [], allow_negative=False).reversed == 0


def test_a_reversal_of_zero_takes_nothing() -> None:
    assert plan_reversal(0, OWN, AVAILABLE, PENDING, allow_negative=True) == ReversalPlan([], 0, 0)


@given(
    st.integers(0, 300),
    st.lists(st.integers(0, 40), max_size=6),
    st.lists(st.integers(0, 40), max_size=6),
    st.one_of(st.none(), st.integers(0, 11)),
    st.booleans(),
)
def test_a_reversal_is_always_fully_accounted_for(
    points: int,
    available_sizes: list[int],
    pending_sizes: list[int],
    own_index: int | None,
    allow_negative: bool,
) -> None:
    available = [Lot(i, size) for i, size in enumerate(available_sizes)]
    pending = [Lot(100 + i, size) for i, size in enumerate(pending_sizes)]
    everything = available + pending
    own = everything[own_index] if own_index is not None and own_index < len(everything) else None
    plan = plan_reversal(points, own, available, pending, allow_negative=allow_negative)
    taken = sum(take.amount for take in plan.takes)
    held = sum(lot.remaining for lot in everything)
    # then every point is taken, made debt, or forgiven, and no lot is overdrawn or reused
    assert taken + plan.debt + plan.forgiven == points
    assert taken == min(points, held)
    assert len({take.lot_id for take in plan.takes}) == len(plan.takes)
    by_id = {lot.id: lot for lot in everything}
    assert all(0 < take.amount <= by_id[take.lot_id].remaining for take in plan.takes)
    assert plan.debt == 0 or allow_negative
    assert plan.forgiven == 0 or not allow_negative
    if own is not None and own.remaining > 0 and points > 0:
        assert plan.takes[0] == Take(own.id, min(points, own.remaining))
