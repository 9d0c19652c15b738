"""Order events: a paid order earns points; a refund reverses the points of the refunded
part. Each event is recorded exactly once by its source id: a replay returns the first
result and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.errors import NotFound
from patron.domain.ledger import brand_issued
from patron.domain.orders import RefundOutcome, RefundRequest, apply_refund
from patron.domain.program import Program, RefundPolicy
from patron.schemas.orders import (
    OrderLineView,
    OrderPaidIn,
    OrderRefundedIn,
    OrderResult,
    OrderView,
    RefundResult,
)
from patron.services import store_credit
from patron.services.brands import resolve_brand
from patron.services.context import Caller
from patron.services.ingest import amount_of, check_currencies, record_orders_paid
from patron.services.member_ledger import MemberLedger, Refs
from patron.services.referrals import after_order

ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"


class Replayed(Exception):
    """Raised inside a write to end it with the stored result of the first delivery."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("event already recorded")
        self.result = result


def claim_event(
    uow: UnitOfWork,
    program: Program,
    *,
    source: str,
    type_: str,
    source_id: str,
    brand_id: int,
    payload: dict[str, Any],
    occurred_at: datetime,
    now: datetime,
) -> int:
    """Record the event or raise Replayed with the first delivery's result."""
    event_id = uow.events.claim(
        tenant_id=program.tenant_id,
        program_id=program.id,
        source=source,
        type=type_,
        source_id=source_id,
        brand_id=brand_id,
        payload=payload,
        occurred_at=occurred_at,
        received_at=now,
    )
    if event_id is None:
        first = uow.events.get(program.tenant_id, brand_id, source, type_, source_id)
        assert first is not None and first.result is not None
        raise Replayed(first.result)
    return event_id


def record_order_paid(
    uow: UnitOfWork, caller: Caller, program: Program, order: OrderPaidIn, now: datetime
) -> OrderResult:
    """Record one paid order (a batch of one through `ingest`); raises its rejection, or
    Replayed with the first result."""
    outcome = record_orders_paid(uow, caller, program, [order], now)[0]
    if outcome.error is not None:
        raise outcome.error
    assert outcome.result is not None
    if outcome.status == "replayed":
        raise Replayed(outcome.result.model_dump(mode="json"))
    if carries_referral(order):
        after_order(uow, caller, program, order, now)  # 422 for a bad code
    return outcome.result


def carries_referral(order: OrderPaidIn) -> bool:
    """Whether a paid order carries referral data (a code, or what fraud checks use):
    only such orders take the referrals path (`referrals.after_order`)."""
    return bool(order.referral_code or order.ip or order.device_id or order.shipping_address)


def record_order_refunded(
    uow: UnitOfWork, caller: Caller, program: Program, refund: OrderRefundedIn, now: datetime
) -> RefundResult:
    """Record a refund and reverse the points of exactly the refunded part, once.

    A refund of an order Patron has not seen is a 404 (the store retries after sending the
    order); nothing is held.
    """
    check_currencies(program, refund.currency, refund.amounts())
    brand_id = resolve_brand(uow, caller, refund.brand)
    event_id = claim_event(
        uow,
        program,
        source=refund.source,
        type_=ORDER_REFUNDED,
        source_id=refund.refund_id,
        brand_id=brand_id,
        payload=refund.model_dump(mode="json"),
        occurred_at=refund.occurred_at,
        now=now,
    )
    order = uow.orders.get(program.tenant_id, brand_id, refund.order_id, lock=True)
    if order is None:
        raise NotFound(f"no order {refund.order_id!r}", field="order_id")
    paid, state = uow.orders.load(order)
    request = RefundRequest(
        line_quantities=tuple((line.line_id, line.quantity) for line in refund.lines),
        merchandise=amount_of(refund.amount),
        shipping=amount_of(refund.shipping),
        tax=amount_of(refund.tax),
    )
    outcome = apply_refund(paid, program.earning, state, request)
    uow.orders.save_refund_state(order.id, outcome.state)
    member = uow.members.get_by_id(order.member_id)
    assert member is not None
    transaction_id, reversed_points, forgiven, debt = None, 0, 0, 0
    if outcome.points_to_reverse > 0:
        ledger = MemberLedger(uow, program, order.member_id, now)
        own_lot = uow.ledger.order_lot(order.id)
        transaction_id, plan = ledger.reverse(
            outcome.points_to_reverse,
            own_lot_id=own_lot.id if own_lot else None,
            allow_negative=program.refund_policy is RefundPolicy.CLAWBACK,
            target_account=brand_issued(brand_id),
            refs=Refs(event_id=event_id, order_id=order.id, api_key_id=caller.api_key_id),
            details={
                "order_id": refund.order_id,
                "refund_id": refund.refund_id,
                "eligible_refunded": outcome.eligible_refunded,
                "policy": program.refund_policy.value,
            },
        )
        ledger.save()
        reversed_points, forgiven, debt = plan.reversed, plan.forgiven, plan.debt
        uow.outbox.add(
            tenant_id=program.tenant_id,
            program_id=program.id,
            type_="points.reversed",
            payload={
                "customer_id": member.external_id,
                "order_id": refund.order_id,
                "refund_id": refund.refund_id,
                "points": reversed_points,
                "forgiven": forgiven,
                "debt_created": debt,
            },
            now=now,
        )
    credit_reversed = _reverse_store_credit(
        uow,
        program,
        order,
        outcome,
        brand_id=brand_id,
        event_id=event_id,
        caller=caller,
        refund=refund,
        now=now,
    )
    result = RefundResult(
        event_id=event_id,
        refund_id=refund.refund_id,
        order_id=refund.order_id,
        customer_id=member.external_id,
        eligible_refunded=outcome.eligible_refunded,
        points_reversed=reversed_points,
        points_forgiven=forgiven,
        debt_created=debt,
        transaction_id=transaction_id,
        store_credit_reversed=credit_reversed,
    )
    uow.events.set_result(
        event_id, member_id=order.member_id, result=result.model_dump(mode="json")
    )
    return result


def _reverse_store_credit(
    uow: UnitOfWork,
    program: Program,
    order: Any,
    outcome: RefundOutcome,
    *,
    brand_id: int,
    event_id: int,
    caller: Caller,
    refund: OrderRefundedIn,
    now: datetime,
) -> int:
    """Take back the refunded share of the order's store credit (cumulative floor, like
    points: refunding everything takes back exactly what was earned)."""
    target = outcome.reversed_so_far(order.credit_awarded)
    to_reverse = target - order.credit_reversed
    if to_reverse <= 0:
        return 0
    uow.orders.set_credit_reversed(order.id, target)
    return store_credit.reverse_for_refund(
        uow,
        program,
        order,
        to_reverse,
        brand_id=brand_id,
        refs=Refs(event_id=event_id, order_id=order.id, api_key_id=caller.api_key_id),
        details={"order_id": refund.order_id, "refund_id": refund.refund_id},
        now=now,
    )


def order_view(
    uow: UnitOfWork, caller: Caller, program: Program, order_id: str, brand: str | None
) -> OrderView:
    """A recorded order of the caller's brand (or of `brand`); 404 if there is none."""
    brand_id = resolve_brand(uow, caller, brand)
    order = uow.orders.get(program.tenant_id, brand_id, order_id)
    if order is None or order.program_id != program.id:
        raise NotFound(f"no order {order_id!r}", field="order_id")
    member = uow.members.get_by_id(order.member_id)
    assert member is not None
    return OrderView(
        order_id=order.external_id,
        customer_id=member.external_id,
        brand=uow.tenants.brand_code(brand_id),
        currency=order.currency,
        total=order.total,
        eligible_amount=order.eligible_amount,
        points_awarded=order.points_awarded,
        points_reversed=order.points_reversed,
        merchandise_refunded=order.merchandise_refunded,
        shipping_refunded=order.shipping_refunded,
        tax_refunded=order.tax_refunded,
        lines=[
            OrderLineView.model_validate(line, from_attributes=True)
            for line in uow.orders.lines(order.id)
        ],
        occurred_at=order.occurred_at,
    )
