"""The checkout's side of a code: can it be used now, on this cart, and for how much; then
consume it exactly once.

`validate` writes nothing. Its reasons (stable codes), in the order they are checked:
`unknown_code`, `already_used`, `cancelled`, `expired`, `not_yet_valid`, then with a cart
`currency_mismatch`, `below_minimum` (subtotal under the reward's `min_order`) and
`no_applicable_items` (no line of the reward's `applicable_skus`, or of a free product's
`sku`). The discount a valid code takes off a cart, by kind:

* fixed discount: its value, at most the applicable amount (the matching lines, or the
  subtotal when the reward names no SKUs);
* percent discount: floor(applicable amount x percent / 100), at most `max_discount`;
* free shipping: the cart's shipping, at most `max_discount`;
* free product: unit price x the reward's quantity (at most the line's quantity);
* event ticket, custom perk: nothing off the cart (0).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, CouponNotUsable, NotFound
from patron.domain.program import Program
from patron.schemas.common import Money
from patron.schemas.rewards import (
    CartIn,
    RedemptionView,
    RewardKind,
    ValidateIn,
    ValidationView,
)
from patron.services.redemptions import redemption_view


def state_reason(row: Row[Any] | None, reward: Row[Any] | None, now: datetime) -> str | None:
    """Why the code cannot be used at `now` whatever the cart, or None."""
    if row is None or reward is None:
        return "unknown_code"
    if row.status == "consumed":
        return "already_used"
    if row.status == "cancelled":
        return "cancelled"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    if reward.usable_from is not None and now < reward.usable_from:
        return "not_yet_valid"
    return None


def cart_discount(row: Row[Any], reward: Row[Any], cart: CartIn) -> tuple[str | None, int]:
    """(reason the code does not apply to `cart` or None, amount it takes off)."""
    currency = row.currency
    monies = [cart.subtotal, cart.shipping, *(line.unit_price for line in cart.lines)]
    if any(money is not None and money.currency != currency for money in monies):
        return "currency_mismatch", 0
    subtotal = cart.subtotal.amount
    if reward.min_order_amount is not None and subtotal < reward.min_order_amount:
        return "below_minimum", 0
    kind = RewardKind(reward.kind)
    if kind is RewardKind.FREE_PRODUCT:
        line = next((line for line in cart.lines if line.sku == reward.sku), None)
        if line is None:
            return "no_applicable_items", 0
        return None, line.unit_price.amount * min(int(reward.quantity or 1), line.quantity)
    if kind is RewardKind.FREE_SHIPPING:
        shipping = cart.shipping.amount if cart.shipping is not None else 0
        return None, _capped(shipping, reward.max_discount_amount)
    if kind not in (RewardKind.FIXED_DISCOUNT, RewardKind.PERCENT_DISCOUNT):
        return None, 0
    applicable = subtotal
    if reward.applicable_skus:
        skus = set(reward.applicable_skus)
        matching = [line for line in cart.lines if line.sku in skus]
        if not matching:
            return "no_applicable_items", 0
        applicable = min(subtotal, sum(line.unit_price.amount * line.quantity for line in matching))
    if kind is RewardKind.FIXED_DISCOUNT:
        return None, min(int(row.value_amount), applicable)
    return None, _capped(applicable * int(reward.percent) // 100, reward.max_discount_amount)


def _capped(amount: int, cap: int | None) -> int:
    return amount if cap is None else min(amount, cap)


def validate(uow: UnitOfWork, program: Program, check: ValidateIn, now: datetime) -> ValidationView:
    """Whether a code can be used now (and on this cart, and for how much); writes nothing."""
    row = uow.rewards.redemption_by_code(program.id, check.code)
    reward = uow.rewards.get_by_id(row.reward_id) if row is not None else None
    reason = state_reason(row, reward, now)
    discount = None
    if check.cart is not None:
        amount = 0
        if reason is None:
            assert row is not None and reward is not None
            reason, amount = cart_discount(row, reward, check.cart)
        discount = Money(amount=amount, currency=program.currency)
    return ValidationView(
        valid=reason is None,
        reason=reason,
        code=check.code,
        value=_value(row),
        expires_at=row.expires_at if row else None,
        discount=discount,
    )


def _value(row: Row[Any] | None) -> Money | None:
    if row is None or row.value_amount is None:
        return None
    return Money(amount=row.value_amount, currency=row.currency)


def consume(
    uow: UnitOfWork, program: Program, code: str, order_id: str, now: datetime
) -> RedemptionView:
    """Mark a code used by an order, exactly once; a second consume is a 409."""
    row = uow.rewards.redemption_by_code(program.id, code, lock=True)
    if row is None:
        raise NotFound(f"no code {code!r}", field="code")
    reason = state_reason(row, uow.rewards.get_by_id(row.reward_id), now)
    if reason == "already_used":
        raise Conflict(f"code already used by order {row.consumed_order_id!r}", field="code")
    if reason is not None:
        raise CouponNotUsable(f"code cannot be used: {reason}", field="code")
    if not uow.rewards.set_status(
        row.id, "issued", status="consumed", consumed_at=now, consumed_order_id=order_id
    ):
        raise Conflict("code was used concurrently", field="code")
    view = redemption_view(uow, uow.rewards.redemption_by_pk(row.id), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="coupon.consumed",
        payload={"customer_id": view.customer_id, "redemption_id": view.id, "order_id": order_id},
        now=now,
    )
    return view
