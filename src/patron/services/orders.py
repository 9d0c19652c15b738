"""Order events: a paid order earns points; a refund reverses the points of the refunded
part. Each event is recorded exactly once by its source id: a replay returns the first
result and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, CurrencyMismatch, NotFound
from patron.domain.ledger import TxKind, brand_issued
from patron.domain.member import MemberStatus
from patron.domain.orders import OrderLine, PaidOrder, RefundRequest, apply_refund, eligible_amount
from patron.domain.program import Program, RefundPolicy
from patron.schemas.common import Money
from patron.schemas.members import MemberProfile
from patron.schemas.orders import (
    OrderLineView,
    OrderPaidIn,
    OrderRefundedIn,
    OrderResult,
    OrderView,
    RefundResult,
)
from patron.services.brands import resolve_brand
from patron.services.context import Caller
from patron.services.member_ledger import MemberLedger, Refs
from patron.services.members import enroll

ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"


class Replayed(Exception):
    """Raised inside a write to end it with the stored result of the first delivery."""

    def __init__(self, result: dict[str, Any]) -> None:
        super().__init__("event already recorded")
        self.result = result


def _amount(money: Money | None) -> int:
    return money.amount if money is not None else 0


def _check_currencies(
    program: Program, currency: str, amounts: list[tuple[str, Money | None]]
) -> None:
    """The event's currency is the program's, and every amount is in it (else 422 naming
    the amount at fault)."""
    if currency != program.currency:
        raise CurrencyMismatch(
            f"program {program.code!r} runs in {program.currency}, not {currency}",
            field="currency",
        )
    for path, money in amounts:
        if money is not None and money.currency != currency:
            raise CurrencyMismatch(
                f"{path}.currency is {money.currency}, but this event is in {currency}",
                field=f"{path}.currency",
            )


def _claim(
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
    """Record a paid order and award its points (pending for the return window)."""
    _check_currencies(program, order.currency, order.amounts())
    paid = PaidOrder(
        lines=tuple(
            OrderLine(
                line_id=line.line_id,
                quantity=line.quantity,
                unit_price=line.unit_price.amount,
                discount=_amount(line.discount),
                sku=line.sku,
                category=line.category,
            )
            for line in order.lines
        ),
        order_discount=_amount(order.discount),
        shipping=_amount(order.shipping),
        tax=_amount(order.tax),
    )
    brand_id = resolve_brand(uow, caller, order.brand)
    event_id = _claim(
        uow,
        program,
        source=order.source,
        type_=ORDER_PAID,
        source_id=order.order_id,
        brand_id=brand_id,
        payload=order.model_dump(mode="json"),
        occurred_at=order.occurred_at,
        now=now,
    )
    if uow.orders.get(program.tenant_id, brand_id, order.order_id) is not None:
        raise Conflict(
            f"order {order.order_id!r} was recorded from another source", field="order_id"
        )
    member_id, enrolled, active = _member_for_order(uow, program, order, now)
    eligible = eligible_amount(paid, program.earning)
    points = program.earning.points_for(eligible) if active else 0
    order_pk = uow.orders.insert(
        lines=paid.lines,
        tenant_id=program.tenant_id,
        program_id=program.id,
        brand_id=brand_id,
        member_id=member_id,
        external_id=order.order_id,
        event_id=event_id,
        currency=order.currency,
        order_discount=paid.order_discount,
        shipping=paid.shipping,
        tax=paid.tax,
        total=order.total.amount,
        eligible_amount=eligible,
        points_awarded=points,
        points_reversed=0,
        merchandise_refunded=0,
        shipping_refunded=0,
        tax_refunded=0,
        discount_codes=order.discount_codes,
        occurred_at=order.occurred_at,
    )
    explanation = _explain(program, eligible, points, active)
    pending_until = program.pending_until(order.occurred_at)
    transaction_id, status = None, "none"
    if points > 0:
        ledger = MemberLedger(uow, program, member_id, now)
        credited = ledger.credit(
            points,
            kind=TxKind.EARN,
            source_account=brand_issued(brand_id),
            occurred_at=order.occurred_at,
            pending_until=pending_until,
            refs=Refs(event_id=event_id, order_id=order_pk, api_key_id=caller.api_key_id),
            details={"order_id": order.order_id, "explanation": explanation},
        )
        ledger.save()
        transaction_id = credited.transaction_id
        status = "pending" if credited.pending else "available"
        uow.outbox.add(
            tenant_id=program.tenant_id,
            program_id=program.id,
            type_="points.earned",
            payload={
                "customer_id": order.customer_id,
                "order_id": order.order_id,
                "points": points,
                "status": status,
                "transaction_id": transaction_id,
            },
            now=now,
        )
    result = OrderResult(
        event_id=event_id,
        order_id=order.order_id,
        customer_id=order.customer_id,
        member_enrolled=enrolled,
        eligible_amount=eligible,
        currency=order.currency,
        points=points,
        points_status=status,
        pending_until=pending_until.isoformat() if status == "pending" and pending_until else None,
        transaction_id=transaction_id,
        explanation=explanation,
    )
    uow.events.set_result(event_id, member_id=member_id, result=result.model_dump(mode="json"))
    return result


def _member_for_order(
    uow: UnitOfWork, program: Program, order: OrderPaidIn, now: datetime
) -> tuple[int, bool, bool]:
    """(member id, enrolled just now, may earn) for the order's customer."""
    member = uow.members.get(program.id, order.customer_id)
    if member is not None:
        return int(member.id), False, member.status == MemberStatus.ACTIVE.value
    if not program.auto_enroll:
        raise NotFound(
            f"no member {order.customer_id!r} and the program does not enrol automatically",
            field="customer_id",
        )
    profile = order.customer or MemberProfile()
    return enroll(uow, program, profile, order.customer_id, now), True, True


def _explain(program: Program, eligible: int, points: int, active: bool) -> dict[str, Any]:
    """Why the order earned what it earned, in terms a member or merchant can check."""
    if not active:
        return {
            "rule": "base",
            "eligible_amount": eligible,
            "points": 0,
            "reason": "member blocked",
        }
    return {
        "rule": "base",
        "eligible_amount": eligible,
        "rate": {"points": program.earn_points, "per_amount": program.earn_per_amount},
        "rounding": program.rounding.value,
        "includes": {"shipping": program.include_shipping, "tax": program.include_tax},
        "points": points,
    }


def record_order_refunded(
    uow: UnitOfWork, caller: Caller, program: Program, refund: OrderRefundedIn, now: datetime
) -> RefundResult:
    """Record a refund and reverse the points of exactly the refunded part, once.

    A refund of an order Patron has not seen is a 404 (the store retries after sending the
    order); nothing is held.
    """
    _check_currencies(program, refund.currency, refund.amounts())
    brand_id = resolve_brand(uow, caller, refund.brand)
    event_id = _claim(
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
        merchandise=_amount(refund.amount),
        shipping=_amount(refund.shipping),
        tax=_amount(refund.tax),
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
    )
    uow.events.set_result(
        event_id, member_id=order.member_id, result=result.model_dump(mode="json")
    )
    return result


def order_view(
    uow: UnitOfWork, caller: Caller, program: Program, order_id: str, brand: str | None
) -> OrderView:
    """A recorded order of the caller's brand (or of `brand`); 404 if there is none."""
    brand_id = resolve_brand(uow, caller, brand)
    order = uow.orders.get(program.tenant_id, brand_id, order_id)
    if order is None or order.program_id != program.id:
        raise NotFound(f"no order {order_id!r}", field="order_id")
    member = uow.members.get_by_id(order.member_id)
    brand_row = next(
        row for row in uow.tenants.list_brands(program.tenant_id) if row.id == brand_id
    )
    assert member is not None
    return OrderView(
        order_id=order.external_id,
        customer_id=member.external_id,
        brand=brand_row.code,
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
