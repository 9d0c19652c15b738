"""Orders: what part of an order earns points, and what a refund takes back.

All amounts are integer minor units of the order's currency. Refunds are computed
cumulatively (refunded-so-far -> points-reversed-so-far) so that refunding every part of
an order, in any number of steps, reverses exactly the points the order earned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from patron.domain.errors import InvalidInput, RefundExceedsOrder
from patron.domain.money import MAX_AMOUNT
from patron.domain.rounding import Rounding, divide


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One line of a paid order. `discount` is the line's total discount, not per unit."""

    line_id: str
    quantity: int
    unit_price: int
    discount: int = 0
    sku: str | None = None
    category: str | None = None

    @property
    def net(self) -> int:
        """Price of the line after its own discount."""
        return self.quantity * self.unit_price - self.discount


@dataclass(frozen=True, slots=True)
class PaidOrder:
    """The money facts of a paid order that earning and refunds depend on.

    `order_discount` is an order-level discount not already allocated to lines; it is
    spread over the lines in proportion to their net price.
    """

    lines: tuple[OrderLine, ...]
    order_discount: int = 0
    shipping: int = 0
    tax: int = 0

    def __post_init__(self) -> None:
        for index, line in enumerate(self.lines):
            if line.quantity * line.unit_price > MAX_AMOUNT:
                raise InvalidInput(
                    f"line total exceeds {MAX_AMOUNT}", field=f"lines.{index}.quantity"
                )
            if line.net < 0:
                raise InvalidInput(
                    "line discount exceeds the line price", field=f"lines.{index}.discount"
                )
        merchandise = sum(line.net for line in self.lines)
        if merchandise + self.shipping + self.tax > MAX_AMOUNT:
            raise InvalidInput(f"order total exceeds {MAX_AMOUNT}", field="lines")
        if self.order_discount > merchandise:
            raise InvalidInput("order discount exceeds the lines' total", field="discount")

    def line_index(self, line_id: str) -> int:
        for index, line in enumerate(self.lines):
            if line.line_id == line_id:
                return index
        raise InvalidInput(f"order has no line {line_id!r}", field="lines")


@dataclass(frozen=True, slots=True)
class EarningPolicy:
    """The program's base earning: `points` per `per_amount` minor units of eligible spend."""

    points: int
    per_amount: int
    rounding: Rounding = Rounding.FLOOR
    include_shipping: bool = False
    include_tax: bool = False

    def points_for(self, eligible: int) -> int:
        """Points earned by an eligible amount (never negative, at most MAX_AMOUNT)."""
        if eligible <= 0 or self.points <= 0:
            return 0
        points = divide(eligible * self.points, self.per_amount, self.rounding)
        if points > MAX_AMOUNT:
            raise InvalidInput(f"the order would earn more than {MAX_AMOUNT} points", field="lines")
        return points


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` over `weights` proportionally, by largest remainder; sums to `total`.

    Ties in the remainder go to the earlier weight, so the result is deterministic.
    """
    weight_sum = sum(weights)
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    shares = [total * weight // weight_sum for weight in weights]
    remainders = [total * weight % weight_sum for weight in weights]
    short = total - sum(shares)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        shares[index] += 1
    return shares


def line_eligible_amounts(order: PaidOrder) -> list[int]:
    """Each line's net price less its share of the order-level discount."""
    nets = [line.net for line in order.lines]
    shares = allocate(order.order_discount, nets)
    return [net - share for net, share in zip(nets, shares, strict=True)]


def eligible_amount(order: PaidOrder, policy: EarningPolicy) -> int:
    """The amount that earns points: lines after discounts, plus shipping/tax if configured."""
    amount = sum(line_eligible_amounts(order))
    if policy.include_shipping:
        amount += order.shipping
    if policy.include_tax:
        amount += order.tax
    return amount


@dataclass(frozen=True, slots=True)
class RefundRequest:
    """What a refund gives back: line quantities and/or amounts of merchandise, shipping, tax.

    `merchandise` is an amount of line value refunded without naming lines (an "amount
    refund"); it counts against the order's merchandise after discounts.
    """

    line_quantities: tuple[tuple[str, int], ...] = ()
    merchandise: int = 0
    shipping: int = 0
    tax: int = 0


@dataclass(frozen=True, slots=True)
class RefundState:
    """What has been refunded of an order so far, and what that reversed."""

    refunded_quantities: tuple[int, ...]
    merchandise_refunded: int = 0
    shipping_refunded: int = 0
    tax_refunded: int = 0
    points_awarded: int = 0
    points_reversed: int = 0

    @classmethod
    def fresh(cls, order: PaidOrder, points_awarded: int) -> RefundState:
        return cls(tuple(0 for _ in order.lines), points_awarded=points_awarded)


@dataclass(frozen=True, slots=True)
class RefundOutcome:
    """The order's refund state after the refund, and the points the refund reverses."""

    state: RefundState
    points_to_reverse: int
    eligible_refunded: int
    #: (eligible refunded so far, eligible total): the refunded share of the order, for
    #: reversing other awards of it (store credit) by the same cumulative floor.
    refunded_share: tuple[int, int] = (0, 0)

    def reversed_so_far(self, awarded: int) -> int:
        """How much of `awarded` the refunds so far take back (exactly `awarded` once
        everything is refunded)."""
        refunded, total = self.refunded_share
        return awarded * refunded // total if total else 0


def _refunded_line_value(eligible: int, quantity: int, before: int, after: int) -> int:
    # Cumulative floor: the last unit refunded carries the rounding, so a full refund of
    # the line gives back exactly its eligible amount.
    return eligible * after // quantity - eligible * before // quantity


def apply_refund(
    order: PaidOrder, policy: EarningPolicy, state: RefundState, request: RefundRequest
) -> RefundOutcome:
    """Apply `request` to `state`; raise RefundExceedsOrder if it asks for more than is left."""
    if not request.line_quantities and not (request.merchandise or request.shipping or request.tax):
        raise InvalidInput("a refund names lines or an amount", field="lines")
    eligibles = line_eligible_amounts(order)
    quantities = list(state.refunded_quantities)
    merchandise = state.merchandise_refunded + request.merchandise
    seen: set[int] = set()
    for line_id, quantity in request.line_quantities:
        index = order.line_index(line_id)
        if index in seen:
            raise InvalidInput(f"line {line_id!r} appears twice in the refund", field="lines")
        seen.add(index)
        line = order.lines[index]
        after = quantities[index] + quantity
        if after > line.quantity:
            left = line.quantity - quantities[index]
            raise RefundExceedsOrder(
                f"line {line_id!r} has {left} unit(s) left to refund, not {quantity}",
                field="lines",
            )
        merchandise += _refunded_line_value(
            eligibles[index], line.quantity, quantities[index], after
        )
        quantities[index] = after
    # Lines cannot exceed the merchandise on their own, so an excess is the amount's fault.
    _check_within("merchandise", merchandise, sum(eligibles), field="amount")
    shipping = state.shipping_refunded + request.shipping
    _check_within("shipping", shipping, order.shipping, field="shipping")
    tax = state.tax_refunded + request.tax
    _check_within("tax", tax, order.tax, field="tax")

    refunded_after = _eligible_refunded(merchandise, shipping, tax, policy)
    total_eligible = eligible_amount(order, policy)
    # Points reversed so far follow the refunded share of the eligible amount (floored),
    # reaching exactly `points_awarded` when everything is refunded.
    target = state.points_awarded * refunded_after // total_eligible if total_eligible else 0
    to_reverse = max(0, target - state.points_reversed)
    new_state = RefundState(
        refunded_quantities=tuple(quantities),
        merchandise_refunded=merchandise,
        shipping_refunded=shipping,
        tax_refunded=tax,
        points_awarded=state.points_awarded,
        points_reversed=state.points_reversed + to_reverse,
    )
    refunded_before = _eligible_refunded(
        state.merchandise_refunded, state.shipping_refunded, state.tax_refunded, policy
    )
    return RefundOutcome(
        state=new_state,
        points_to_reverse=to_reverse,
        eligible_refunded=refunded_after - refunded_before,
        refunded_share=(refunded_after, total_eligible),
    )


def _eligible_refunded(merchandise: int, shipping: int, tax: int, policy: EarningPolicy) -> int:
    amount = merchandise
    if policy.include_shipping:
        amount += shipping
    if policy.include_tax:
        amount += tax
    return amount


def _check_within(part: str, refunded: int, paid: int, *, field: str) -> None:
    if refunded > paid:
        raise RefundExceedsOrder(
            f"refund of {part} would total {refunded}, more than the {paid} paid", field=field
        )
