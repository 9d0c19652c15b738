"""orders: what part of an order earns points, and what a refund takes back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from patron.domain.errors import InvalidInput, RefundExceedsOrder
from patron.domain.money import MAX_AMOUNT
from patron.domain.orders import (
    EarningPolicy,
    OrderLine,
    PaidOrder,
    RefundRequest,
    RefundState,
    allocate,
    apply_refund,
    eligible_amount,
    line_eligible_amounts,
)
from patron.domain.rounding import Rounding

ONE_PER_100 = EarningPolicy(points=1, per_amount=100)


def paid(*lines: tuple[int, int], **extra: int) -> PaidOrder:
    """An order of (quantity, unit price) lines with ids L0, L1, ..."""
    return PaidOrder(
        lines=tuple(OrderLine(f"L{i}", q, p) for i, (q, p) in enumerate(lines)), **extra
    )


def lines(*pairs: tuple[str, int]) -> RefundRequest:
    return RefundRequest(line_quantities=pairs)


# -- allocate ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [
        (100, [50, 30, 20], [50, 30, 20]),  # exact shares
        (10, [1, 1, 1], [4, 3, 3]),  # equal remainders: the earlier weight gets the unit
        (11, [1, 1, 1], [4, 4, 3]),
        (5, [1, 2], [2, 3]),  # 1.67 / 3.33: the larger remainder (.67) gets the unit
        (1, [1, 1, 1, 1], [1, 0, 0, 0]),
        (3, [0, 1, 1], [0, 2, 1]),  # a zero weight gets nothing
        (7, [5], [7]),
        (0, [3, 4], [0, 0]),
        (100, [333, 333, 334], [33, 33, 34]),  # 33.3, 33.3, 33.4: largest remainder wins
        (2, [1, 1, 1], [1, 1, 0]),
    ],
)
def test_allocate_by_largest_remainder(total: int, weights: list[int], expected: list[int]) -> None:
    assert allocate(total, weights) == expected
    assert sum(allocate(total, weights)) == total


def test_allocate_with_no_weight_gives_nothing() -> None:
    assert allocate(5, []) == []
    assert allocate(5, [0, 0]) == [0, 0]


@given(
    st.integers(min_value=0, max_value=10**9),
    st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=12),
)
def test_allocate_sums_exactly_and_stays_within_one_of_the_exact_share(
    total: int, weights: list[int]
) -> None:
    shares = allocate(total, weights)
    weight_sum = sum(weights)
    if weight_sum == 0:
        assert shares == [0] * len(weights)
        return
    assert sum(shares) == total
    for share, weight in zip(shares, weights, strict=True):
        floor = total * weight // weight_sum
        assert floor <= share <= floor + 1
        if weight == 0:
            assert share == 0


# -- eligible amounts -------------------------------------------------------------------


def test_line_net_is_price_times_quantity_less_its_discount() -> None:
    assert OrderLine("L0", quantity=2, unit_price=500, discount=100).net == 900


def test_order_discount_is_spread_over_lines_in_proportion_to_their_net() -> None:
    # given lines of net 3,000 and 1,000 and an order-level discount of 1,000
    order = PaidOrder(
        lines=(OrderLine("L0", 2, 1500), OrderLine("L1", 1, 1000)), order_discount=1000
    )
    # then the discount splits 750 / 250
    assert line_eligible_amounts(order) == [2250, 750]


def test_order_discount_remainder_goes_to_the_earlier_line() -> None:
    order = paid((1, 1000), (1, 1000), (1, 1000), order_discount=100)
    assert line_eligible_amounts(order) == [966, 967, 967]
    assert eligible_amount(order, ONE_PER_100) == 2900


def test_line_discount_and_order_discount_combine() -> None:
    order = PaidOrder(
        lines=(OrderLine("L0", 2, 1000, discount=500), OrderLine("L1", 1, 500)),
        order_discount=200,
    )
    # nets 1,500 and 500; the 200 splits 150 / 50
    assert line_eligible_amounts(order) == [1350, 450]


@pytest.mark.parametrize(
    ("include_shipping", "include_tax", "expected"),
    [(False, False, 10_000), (True, False, 10_500), (False, True, 10_800), (True, True, 11_300)],
)
def test_eligible_amount_includes_shipping_and_tax_only_if_configured(
    include_shipping: bool, include_tax: bool, expected: int
) -> None:
    order = paid((1, 10_000), shipping=500, tax=800)
    policy = EarningPolicy(1, 100, include_shipping=include_shipping, include_tax=include_tax)
    assert eligible_amount(order, policy) == expected


def test_eligible_amount_is_after_the_order_discount() -> None:
    order = paid((2, 5000), order_discount=1234, shipping=500)
    assert eligible_amount(order, EarningPolicy(1, 100, include_shipping=True)) == 9266


def test_a_line_discount_above_the_line_price_is_invalid() -> None:
    with pytest.raises(InvalidInput) as error:
        PaidOrder(lines=(OrderLine("L0", 1, 100), OrderLine("L1", 1, 100, discount=101)))
    assert error.value.field == "lines.1.discount"


def test_an_order_discount_above_the_lines_total_is_invalid() -> None:
    with pytest.raises(InvalidInput) as error:
        paid((1, 100), (2, 50), order_discount=201)
    assert error.value.field == "discount"


def test_an_order_discount_equal_to_the_lines_total_is_valid() -> None:
    order = paid((1, 100), (2, 50), order_discount=200)
    assert line_eligible_amounts(order) == [0, 0]


def test_a_line_total_above_the_maximum_amount_is_invalid() -> None:
    with pytest.raises(InvalidInput) as error:
        paid((1, 100), (2, MAX_AMOUNT // 2 + 1))
    assert error.value.field == "lines.1.quantity"


def test_an_order_total_above_the_maximum_amount_is_invalid() -> None:
    # each part is within the maximum, the lines with shipping and tax are not
    with pytest.raises(InvalidInput) as error:
        paid((1, MAX_AMOUNT - 10), shipping=6, tax=5)
    assert error.value.field == "lines"
    assert eligible_amount(paid((1, MAX_AMOUNT - 10), shipping=5, tax=5), ONE_PER_100) == (
        MAX_AMOUNT - 10
    )


def test_line_index_finds_a_line_or_names_the_field() -> None:
    order = paid((1, 100), (1, 200))
    assert order.line_index("L1") == 1
    with pytest.raises(InvalidInput) as error:
        order.line_index("nope")
    assert error.value.field == "lines"


# -- earning policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "eligible", "expected"),
    [
        (EarningPolicy(1, 100), 12_345, 123),
        (EarningPolicy(1, 100), 99, 0),
        (EarningPolicy(1, 100), 100, 1),
        (EarningPolicy(1, 100, Rounding.HALF_UP), 150, 2),
        (EarningPolicy(1, 100, Rounding.HALF_UP), 149, 1),
        (EarningPolicy(1, 100, Rounding.CEIL), 101, 2),
        (EarningPolicy(1, 100, Rounding.CEIL), 1, 1),
        # 3 per 200: 12,345 -> 185.175
        (EarningPolicy(3, 200), 12_345, 185),
        (EarningPolicy(3, 200, Rounding.HALF_UP), 12_345, 185),
        (EarningPolicy(3, 200, Rounding.CEIL), 12_345, 186),
        # 3 per 200: 100 -> exactly 1.5
        (EarningPolicy(3, 200), 100, 1),
        (EarningPolicy(3, 200, Rounding.HALF_UP), 100, 2),
        (EarningPolicy(3, 200, Rounding.CEIL), 100, 2),
        # 3 per 200: 500 -> 7.5
        (EarningPolicy(3, 200, Rounding.HALF_UP), 500, 8),
        (EarningPolicy(10, 1), 7, 70),  # 10 points per minor unit (e.g. JPY)
    ],
)
def test_points_for_an_eligible_amount(policy: EarningPolicy, eligible: int, expected: int) -> None:
    assert policy.points_for(eligible) == expected


def test_earning_more_than_the_maximum_points_is_invalid() -> None:
    policy = EarningPolicy(points=10, per_amount=1)
    assert policy.points_for(MAX_AMOUNT // 10) == MAX_AMOUNT
    with pytest.raises(InvalidInput) as error:
        policy.points_for(MAX_AMOUNT // 10 + 1)
    assert error.value.field == "lines"


@pytest.mark.parametrize("rounding", list(Rounding))
def test_nothing_eligible_or_no_rate_earns_nothing(rounding: Rounding) -> None:
    assert EarningPolicy(1, 100, rounding).points_for(0) == 0
    assert EarningPolicy(1, 100, rounding).points_for(-500) == 0
    assert EarningPolicy(0, 100, rounding).points_for(10_000) == 0


# -- refunds ----------------------------------------------------------------------------


def fresh(order: PaidOrder, policy: EarningPolicy = ONE_PER_100) -> RefundState:
    return RefundState.fresh(order, policy.points_for(eligible_amount(order, policy)))


def test_a_line_refund_reverses_its_proportional_share() -> None:
    # given an order of 2 x 25.00 and 1 x 50.00 that earned 100 points
    order = paid((2, 2500), (1, 5000))
    state = fresh(order)
    assert state == RefundState((0, 0), points_awarded=100)
    # when the 50.00 line is refunded
    outcome = apply_refund(order, ONE_PER_100, state, lines(("L1", 1)))
    # then half the points are reversed
    assert outcome.points_to_reverse == 50
    assert outcome.eligible_refunded == 5000
    assert outcome.state == RefundState(
        refunded_quantities=(0, 1),
        merchandise_refunded=5000,
        points_awarded=100,
        points_reversed=50,
    )
    # and the input state is left as it was
    assert state.points_reversed == 0


def test_partial_refunds_of_a_multi_unit_line_reverse_exactly_the_award() -> None:
    # given 3 units of 10.00 less a 0.01 line discount (29.99: 29 points)
    order = PaidOrder(lines=(OrderLine("L0", 3, 1000, discount=1),))
    state = fresh(order)
    assert state.points_awarded == 29
    # when the units are refunded one at a time
    outcomes = []
    for _ in range(3):
        outcome = apply_refund(order, ONE_PER_100, state, lines(("L0", 1)))
        outcomes.append(outcome)
        state = outcome.state
    # then the cumulative floor gives 9.99, 10.00, 10.00 and reverses 9, 10, 10 points
    assert [o.eligible_refunded for o in outcomes] == [999, 1000, 1000]
    assert [o.points_to_reverse for o in outcomes] == [9, 10, 10]
    assert state.refunded_quantities == (3,)
    assert state.merchandise_refunded == 2999
    assert state.points_reversed == 29


def test_two_units_then_one_reverse_the_same_as_one_by_one() -> None:
    order = PaidOrder(lines=(OrderLine("L0", 3, 1000, discount=1),))
    first = apply_refund(order, ONE_PER_100, fresh(order), lines(("L0", 2)))
    second = apply_refund(order, ONE_PER_100, first.state, lines(("L0", 1)))
    assert (first.eligible_refunded, first.points_to_reverse) == (1999, 19)
    assert (second.eligible_refunded, second.points_to_reverse) == (1000, 10)


def test_amount_refunds_reverse_their_share_cumulatively() -> None:
    # given a 100.00 order that earned 100 points
    order = paid((1, 10_000))
    state = fresh(order)
    # when 25.50 is refunded by amount, twice
    first = apply_refund(order, ONE_PER_100, state, RefundRequest(merchandise=2550))
    second = apply_refund(order, ONE_PER_100, first.state, RefundRequest(merchandise=2550))
    # then 25 points, then 26 (51.00 refunded in all: 51 points)
    assert (first.points_to_reverse, second.points_to_reverse) == (25, 26)
    assert second.state.merchandise_refunded == 5100
    assert second.state.points_reversed == 51
    assert second.state.refunded_quantities == (0,)


def test_lines_and_amount_in_one_refund() -> None:
    order = paid((2, 2500), (1, 5000))
    outcome = apply_refund(
        order,
        ONE_PER_100,
        fresh(order),
        RefundRequest(line_quantities=(("L0", 1),), merchandise=1000),
    )
    assert outcome.eligible_refunded == 3500
    assert outcome.points_to_reverse == 35
    assert outcome.state.refunded_quantities == (1, 0)


def test_a_refund_with_an_order_discount_uses_the_discounted_line_value() -> None:
    # given lines of 30.00 and 10.00 and a 10.00 order discount: eligible 22.50 and 7.50
    order = PaidOrder(
        lines=(OrderLine("L0", 2, 1500), OrderLine("L1", 1, 1000)), order_discount=1000
    )
    state = fresh(order)
    assert state.points_awarded == 30
    # when one unit of L0 is refunded
    outcome = apply_refund(order, ONE_PER_100, state, lines(("L0", 1)))
    # then 11.25 of the 30.00 eligible is refunded: 11 points
    assert outcome.eligible_refunded == 1125
    assert outcome.points_to_reverse == 11


def test_a_shipping_refund_reverses_nothing_when_shipping_does_not_earn() -> None:
    order = paid((1, 10_000), shipping=1000)
    outcome = apply_refund(order, ONE_PER_100, fresh(order), RefundRequest(shipping=1000))
    assert outcome.points_to_reverse == 0
    assert outcome.eligible_refunded == 0
    assert outcome.state.shipping_refunded == 1000


def test_shipping_and_tax_refunds_reverse_points_when_they_earn() -> None:
    policy = EarningPolicy(1, 100, include_shipping=True, include_tax=True)
    order = paid((1, 8000), shipping=1000, tax=1000)
    state = fresh(order, policy)
    assert state.points_awarded == 100
    outcome = apply_refund(order, policy, state, RefundRequest(shipping=1000, tax=500))
    assert outcome.eligible_refunded == 1500
    assert outcome.points_to_reverse == 15
    assert (outcome.state.shipping_refunded, outcome.state.tax_refunded) == (1000, 500)


def test_rounded_up_award_is_reversed_by_the_last_refund() -> None:
    # given three 0.01 lines with ceil rounding: 1 point for 0.03
    policy = EarningPolicy(1, 100, Rounding.CEIL)
    order = paid((1, 1), (1, 1), (1, 1))
    state = fresh(order, policy)
    assert state.points_awarded == 1
    reversed_points = []
    for line_id in ("L0", "L1", "L2"):
        outcome = apply_refund(order, policy, state, lines((line_id, 1)))
        reversed_points.append(outcome.points_to_reverse)
        state = outcome.state
    # then only the refund that completes the order takes the point back
    assert reversed_points == [0, 0, 1]


def test_an_order_that_earned_nothing_reverses_nothing() -> None:
    order = paid((1, 500), order_discount=500)
    state = fresh(order)
    outcome = apply_refund(order, ONE_PER_100, state, lines(("L0", 1)))
    assert outcome.points_to_reverse == 0
    assert outcome.state.refunded_quantities == (1,)


def test_refunding_more_units_than_are_left_is_refused() -> None:
    order = paid((2, 1000))
    state = apply_refund(order, ONE_PER_100, fresh(order), lines(("L0", 1))).state
    with pytest.raises(RefundExceedsOrder) as error:
        apply_refund(order, ONE_PER_100, state, lines(("L0", 2)))
    assert error.value.field == "lines"
    assert error.value.detail == "line 'L0' has 1 unit(s) left to refund, not 2"


def test_refunding_more_merchandise_than_is_left_is_refused() -> None:
    order = paid((2, 1000))
    state = apply_refund(order, ONE_PER_100, fresh(order), RefundRequest(merchandise=1500)).state
    with pytest.raises(RefundExceedsOrder) as error:
        apply_refund(order, ONE_PER_100, state, RefundRequest(merchandise=501))
    assert error.value.field == "amount"
    # exactly what is left is fine
    outcome = apply_refund(order, ONE_PER_100, state, RefundRequest(merchandise=500))
    assert outcome.state.points_reversed == 20


def test_a_line_refund_after_an_amount_refund_of_everything_is_refused() -> None:
    order = paid((1, 1000), (1, 1000))
    state = apply_refund(order, ONE_PER_100, fresh(order), RefundRequest(merchandise=2000)).state
    with pytest.raises(RefundExceedsOrder) as error:
        apply_refund(order, ONE_PER_100, state, lines(("L1", 1)))
    # lines alone can never exceed the merchandise: the amount refunded before is at fault
    assert error.value.field == "amount"


def test_an_amount_refund_after_every_line_was_refunded_is_refused() -> None:
    order = paid((1, 1000), (1, 1000))
    state = apply_refund(order, ONE_PER_100, fresh(order), lines(("L0", 1), ("L1", 1))).state
    assert state.points_reversed == 20
    with pytest.raises(RefundExceedsOrder):
        apply_refund(order, ONE_PER_100, state, RefundRequest(merchandise=1))


@pytest.mark.parametrize(
    ("request_", "field"),
    [(RefundRequest(shipping=501), "shipping"), (RefundRequest(tax=301), "tax")],
)
def test_refunding_more_shipping_or_tax_than_was_paid_is_refused(
    request_: RefundRequest, field: str
) -> None:
    order = paid((1, 1000), shipping=500, tax=300)
    with pytest.raises(RefundExceedsOrder) as error:
        apply_refund(order, ONE_PER_100, fresh(order), request_)
    assert error.value.field == field


def test_a_refund_of_nothing_is_invalid() -> None:
    order = paid((1, 1000), shipping=500)
    with pytest.raises(InvalidInput) as error:
        apply_refund(order, ONE_PER_100, fresh(order), RefundRequest())
    assert error.value.field == "lines"


def test_a_refund_of_an_unknown_line_is_invalid() -> None:
    order = paid((1, 1000))
    with pytest.raises(InvalidInput) as error:
        apply_refund(order, ONE_PER_100, fresh(order), lines(("L9", 1)))
    assert error.value.field == "lines"


def test_a_line_named_twice_in_one_refund_is_invalid() -> None:
    order = paid((3, 1000))
    with pytest.raises(InvalidInput) as error:
        apply_refund(order, ONE_PER_100, fresh(order), lines(("L0", 1), ("L0", 1)))
    assert error.value.field == "lines"


# -- property: any split of a full refund reverses exactly the award ---------------------


@dataclass(frozen=True)
class Case:
    order: PaidOrder
    policy: EarningPolicy
    steps: list[RefundRequest]


@st.composite
def orders(draw: st.DrawFn) -> PaidOrder:
    order_lines = []
    for index in range(draw(st.integers(min_value=1, max_value=5))):
        quantity = draw(st.integers(min_value=1, max_value=6))
        unit_price = draw(st.integers(min_value=0, max_value=10_000))
        discount = draw(st.integers(min_value=0, max_value=quantity * unit_price))
        order_lines.append(OrderLine(f"L{index}", quantity, unit_price, discount))
    total = sum(line.net for line in order_lines)
    return PaidOrder(
        lines=tuple(order_lines),
        order_discount=draw(st.integers(min_value=0, max_value=total)),
        shipping=draw(st.integers(min_value=0, max_value=2_000)),
        tax=draw(st.integers(min_value=0, max_value=2_000)),
    )


policies = st.builds(
    EarningPolicy,
    points=st.integers(min_value=0, max_value=7),
    per_amount=st.integers(min_value=1, max_value=500),
    rounding=st.sampled_from(Rounding),
    include_shipping=st.booleans(),
    include_tax=st.booleans(),
)


def split(draw: st.DrawFn, total: int) -> list[int]:
    """A random split of `total` into at most 4 positive parts (none when total is 0)."""
    if total == 0:
        return []
    count = draw(st.integers(min_value=1, max_value=min(4, total)))
    cuts = draw(
        st.lists(
            st.integers(min_value=1, max_value=total - 1) if total > 1 else st.nothing(),
            min_size=count - 1,
            max_size=count - 1,
            unique=True,
        )
    )
    bounds = [0, *sorted(cuts), total]
    return [high - low for low, high in pairwise(bounds)]


@st.composite
def full_refunds(draw: st.DrawFn) -> Case:
    """An order, a policy, and a refund of the whole order split at random into steps:
    some units by line (in chunks), the rest of the merchandise by amount, shipping and
    tax in parts, shuffled, then grouped into requests."""
    order = draw(orders())
    policy = draw(policies)
    eligibles = line_eligible_amounts(order)
    atoms: list[tuple[str, str, int]] = []
    by_lines = 0
    for line, eligible in zip(order.lines, eligibles, strict=True):
        units = draw(st.integers(min_value=0, max_value=line.quantity))
        by_lines += eligible * units // line.quantity
        atoms += [("line", line.line_id, part) for part in split(draw, units)]
    atoms += [("merchandise", "", part) for part in split(draw, sum(eligibles) - by_lines)]
    atoms += [("shipping", "", part) for part in split(draw, order.shipping)]
    atoms += [("tax", "", part) for part in split(draw, order.tax)]
    atoms = draw(st.permutations(atoms))
    steps = []
    while atoms:
        size = draw(st.integers(min_value=1, max_value=len(atoms)))
        group, atoms = atoms[:size], atoms[size:]
        quantities: dict[str, int] = {}
        amounts = {"merchandise": 0, "shipping": 0, "tax": 0}
        for kind, line_id, part in group:
            if kind == "line":
                quantities[line_id] = quantities.get(line_id, 0) + part
            else:
                amounts[kind] += part
        steps.append(RefundRequest(line_quantities=tuple(quantities.items()), **amounts))
    return Case(order, policy, steps)


@given(full_refunds())
def test_any_split_of_a_full_refund_reverses_exactly_the_points_awarded(case: Case) -> None:
    # given an order that earned points
    awarded = case.policy.points_for(eligible_amount(case.order, case.policy))
    state = RefundState.fresh(case.order, awarded)
    # when the whole order is refunded in random steps
    total_reversed = 0
    total_refunded = 0
    for request in case.steps:
        outcome = apply_refund(case.order, case.policy, state, request)
        assert outcome.points_to_reverse >= 0
        total_reversed += outcome.points_to_reverse
        total_refunded += outcome.eligible_refunded
        # then no intermediate step reverses more than was awarded
        assert total_reversed <= awarded
        assert outcome.state.points_reversed == total_reversed
        state = outcome.state
    # and the whole refund reverses exactly the award and refunds exactly what earned
    assert total_reversed == awarded
    assert total_refunded == eligible_amount(case.order, case.policy)
    units: Counter[str] = Counter()
    for step in case.steps:
        units.update(dict(step.line_quantities))
    assert state.refunded_quantities == tuple(units[line.line_id] for line in case.order.lines)
    assert state.merchandise_refunded == sum(line_eligible_amounts(case.order))
    assert (state.shipping_refunded, state.tax_refunded) == (case.order.shipping, case.order.tax)
    # and nothing more can be refunded
    with pytest.raises(RefundExceedsOrder):
        apply_refund(case.order, case.policy, state, RefundRequest(merchandise=1))


@given(orders(), policies, st.data())
def test_a_partial_refund_never_reverses_more_than_its_share(
    order: PaidOrder, policy: EarningPolicy, data: st.DataObject
) -> None:
    # given an order and a refund of some merchandise by amount
    awarded = policy.points_for(eligible_amount(order, policy))
    total = eligible_amount(order, policy)
    assume(sum(line_eligible_amounts(order)) > 0)
    merchandise = data.draw(st.integers(min_value=1, max_value=sum(line_eligible_amounts(order))))
    outcome = apply_refund(
        order, policy, RefundState.fresh(order, awarded), RefundRequest(merchandise=merchandise)
    )
    # then the points reversed are the floor of the refunded share of the award
    expected = awarded * merchandise // total if total else 0
    assert outcome.points_to_reverse == expected
