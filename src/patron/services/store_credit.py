"""Store credit: a money balance per member, a second asset (`store_credit`) in the same
ledger, never mixed with points.

It is earned by percent-back rules on orders — pending through the return window, or
accumulated and issued at the end of a month/quarter/year (a pending lot that matures
then; the `credit` job releases it) — taken back proportionally when the order is
refunded, spent at checkout through the API, and given back when a spend is refunded.
Lock order: a member's points balance before its store-credit balance.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, end_of_period
from patron.domain.errors import Conflict, CurrencyMismatch, DomainError, InvalidInput, NotFound
from patron.domain.ledger import STORE_CREDIT, TxKind, brand_credit_issued, program_account
from patron.domain.member import MemberStatus
from patron.domain.program import Program, RefundPolicy
from patron.domain.rules import Evaluation
from patron.schemas.common import Money
from patron.schemas.store_credit import SpendIn, SpendRefundIn, SpendView, StoreCreditView
from patron.services.context import Caller
from patron.services.member_ledger import Credit, MemberLedger, Refs, balance_of

SPENT = "credit_spent"


class InsufficientCredit(DomainError):
    code = "insufficient-store-credit"
    status = 422


def release_at(program: Program, occurred_at: datetime, schedule: Period | None) -> datetime | None:
    """When store credit earned at `occurred_at` is issued: after the return window, or at
    the end of the scheduled period if that is later."""
    window = program.pending_until(occurred_at)
    if schedule is None:
        return window
    end = end_of_period(occurred_at, schedule, program.zone)
    return max(window, end) if window is not None else end


def issue_for_order(
    uow: UnitOfWork,
    program: Program,
    evaluation: Evaluation,
    schedule_of: Callable[[int, int], Period | None],
    *,
    member_id: int,
    brand_id: int,
    refs: Refs,
    order_id: str,
    occurred_at: datetime,
    now: datetime,
) -> int:
    """Credit the store credit an order's percent-back rules gave (one lot per issue
    date); returns the amount. The member's points balance is already locked."""
    by_release: dict[datetime | None, int] = defaultdict(int)
    for award in evaluation.awards:
        if award.store_credit > 0:
            schedule = schedule_of(award.rule_id, award.version)
            by_release[release_at(program, occurred_at, schedule)] += award.store_credit
    if not by_release:
        return 0
    ledger = MemberLedger(uow, program, member_id, now, STORE_CREDIT)
    for pending_until, amount in sorted(by_release.items(), key=lambda item: str(item[0])):
        ledger.credit(
            Credit(
                member_id=member_id,
                points=amount,
                kind=TxKind.EARN,
                source_account=brand_credit_issued(brand_id),
                occurred_at=occurred_at,
                pending_until=pending_until,
                refs=refs,
                details={"order_id": order_id, "currency": program.currency},
            )
        )
    ledger.save()
    return sum(by_release.values())


def reverse_for_refund(
    uow: UnitOfWork,
    program: Program,
    order: Any,
    to_reverse: int,
    *,
    brand_id: int,
    refs: Refs,
    details: dict[str, Any],
    now: datetime,
) -> int:
    """Take back `to_reverse` of the store credit an order earned (its own lot first);
    returns what was taken back. The order row is locked by the caller."""
    if to_reverse <= 0:
        return 0
    ledger = MemberLedger(uow, program, order.member_id, now, STORE_CREDIT)
    own = uow.ledger.order_lot(order.id, STORE_CREDIT)
    _, plan = ledger.reverse(
        to_reverse,
        own_lot_id=own.id if own else None,
        allow_negative=program.refund_policy is RefundPolicy.CLAWBACK,
        target_account=brand_credit_issued(brand_id),
        refs=refs,
        details=details,
    )
    ledger.save()
    return plan.reversed


def pay_reward(
    uow: UnitOfWork,
    program: Program,
    member_id: int,
    amount: int,
    redemption_id: int,
    api_key_id: int | None,
    reward_id: str,
    now: datetime,
) -> None:
    """Pay a store-credit reward into the wallet, available at once. The caller holds the
    member's points balance (points before store credit)."""
    ledger = MemberLedger(uow, program, member_id, now, STORE_CREDIT)
    ledger.credit(
        Credit(
            member_id=member_id,
            points=amount,
            kind=TxKind.REDEEM,
            source_account=program_account(program.id, "credit_rewards"),
            occurred_at=now,
            refs=Refs(redemption_id=redemption_id, api_key_id=api_key_id),
            details={"reward_id": reward_id, "currency": program.currency},
        )
    )
    ledger.save()


def view(uow: UnitOfWork, program: Program, member_id: int, now: datetime) -> StoreCreditView:
    balance = balance_of(uow, member_id, now, STORE_CREDIT)
    return StoreCreditView(
        currency=program.currency,
        available=balance.available - balance.debt,
        pending=balance.pending,
        lifetime_earned=balance.lifetime_earned,
    )


def spend(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    member: Any,
    spec: SpendIn,
    now: datetime,
) -> SpendView:
    """Take `spec.amount` of the member's available store credit (422 if it has less)."""
    amount = _amount(program, spec.amount)
    if member.status != MemberStatus.ACTIVE.value:
        raise InvalidInput("a blocked member cannot spend store credit", field="customer_id")
    ledger = MemberLedger(uow, program, member.id, now, STORE_CREDIT)
    usable = ledger.balance.available - ledger.balance.debt
    if amount > usable:
        raise InsufficientCredit(
            f"needs {amount} of store credit, {max(usable, 0)} available", field="amount.amount"
        )
    public_id = f"scs_{secrets.token_hex(8)}"
    tx_id, _ = ledger.debit(
        amount,
        kind=TxKind.SPEND,
        target_account=program_account(program.id, SPENT),
        refs=Refs(api_key_id=caller.api_key_id, reason=spec.note),
        details={"spend_id": public_id, "order_id": spec.order_id, "currency": program.currency},
        field="amount.amount",
    )
    ledger.save()
    uow.store_credit.add_spend(
        transaction_id=tx_id,
        tenant_id=program.tenant_id,
        member_id=member.id,
        public_id=public_id,
        order_id=spec.order_id,
        amount=amount,
        refunded=0,
        created_at=now,
    )
    _announce(uow, program, "store_credit.spent", member.external_id, amount, public_id, now)
    return spend_view(uow, program, public_id, now)


def refund_spend(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    public_id: str,
    spec: SpendRefundIn,
    now: datetime,
) -> SpendView:
    """Give back up to what is left of a spend, as a new available lot."""
    amount = _amount(program, spec.amount)
    found = uow.store_credit.spend(program.id, public_id)
    if found is None:
        raise NotFound(f"no store-credit spend {public_id!r}", field="spend_id")
    ledger = MemberLedger(uow, program, found.member_id, now, STORE_CREDIT)  # lock: balance
    row = uow.store_credit.spend(program.id, public_id, lock=True)  # then the spend
    assert row is not None
    left = row.amount - row.refunded
    if amount > left:
        raise Conflict(f"the spend has {left} left to refund, not {amount}", field="amount.amount")
    ledger.credit(
        Credit(
            member_id=row.member_id,
            points=amount,
            kind=TxKind.SPEND_REFUND,
            source_account=program_account(program.id, SPENT),
            occurred_at=now,
            refs=Refs(api_key_id=caller.api_key_id),
            details={"spend_id": public_id, "currency": program.currency},
        )
    )
    ledger.save()
    uow.store_credit.set_refunded(row.transaction_id, row.refunded + amount)
    _announce(uow, program, "store_credit.refunded", row.customer_id, amount, public_id, now)
    return spend_view(uow, program, public_id, now)


def spend_view(uow: UnitOfWork, program: Program, public_id: str, now: datetime) -> SpendView:
    row = uow.store_credit.spend(program.id, public_id)
    if row is None:
        raise NotFound(f"no store-credit spend {public_id!r}", field="spend_id")
    return SpendView(
        id=row.public_id,
        customer_id=row.customer_id,
        amount=row.amount,
        refunded=row.refunded,
        currency=program.currency,
        order_id=row.order_id,
        transaction_id=row.transaction_id,
        created_at=row.created_at,
        balance=view(uow, program, row.member_id, now),
    )


def _amount(program: Program, money: Money) -> int:
    if money.currency != program.currency:
        raise CurrencyMismatch(
            f"store credit is in {program.currency}, not {money.currency}",
            field="amount.currency",
        )
    if money.amount <= 0:
        raise InvalidInput("the amount must be positive", field="amount.amount")
    return money.amount


def _announce(
    uow: UnitOfWork,
    program: Program,
    type_: str,
    customer_id: str,
    amount: int,
    spend_id: str,
    now: datetime,
) -> None:
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_=type_,
        payload={
            "customer_id": customer_id,
            "amount": amount,
            "currency": program.currency,
            "spend_id": spend_id,
        },
        now=now,
    )
