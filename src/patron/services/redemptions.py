"""Rewards and redemptions: spend points for a discount code; the store validates the
code at checkout and consumes it exactly once; an unused code can be cancelled, which
returns its points to the lots they came from.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.codes import new_code
from patron.domain.errors import (
    Conflict,
    CouponNotUsable,
    CurrencyMismatch,
    MemberBlocked,
    NotFound,
)
from patron.domain.ledger import TxKind, program_account
from patron.domain.lots import Take
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.schemas.common import Money
from patron.schemas.rewards import (
    RedemptionView,
    RewardIn,
    RewardView,
    ValidateIn,
    ValidationView,
)
from patron.services.context import Caller
from patron.services.member_ledger import MemberLedger, Refs
from patron.services.members import require_member


def _public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def create_reward(uow: UnitOfWork, program: Program, spec: RewardIn, now: datetime) -> RewardView:
    if spec.value.currency != program.currency:
        raise CurrencyMismatch(
            f"program {program.code!r} runs in {program.currency}", field="value.currency"
        )
    public_id = _public_id("rwd")
    uow.rewards.create(
        tenant_id=program.tenant_id,
        program_id=program.id,
        public_id=public_id,
        name=spec.name,
        kind=spec.kind,
        points_cost=spec.points_cost,
        value_amount=spec.value.amount,
        currency=spec.value.currency,
        code_prefix=spec.code_prefix,
        code_length=spec.code_length,
        validity_days=spec.validity_days,
        active=True,
        created_at=now,
    )
    reward = uow.rewards.get(program.id, public_id)
    assert reward is not None
    return reward_view(reward)


def reward_view(row: Row[Any]) -> RewardView:
    return RewardView(
        id=row.public_id,
        name=row.name,
        kind=row.kind,
        points_cost=row.points_cost,
        value=Money(amount=row.value_amount, currency=row.currency),
        code_prefix=row.code_prefix,
        validity_days=row.validity_days,
        active=row.active,
    )


def redeem(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    external_id: str,
    reward_id: str,
    now: datetime,
) -> RedemptionView:
    """Spend the reward's points and issue a unique code. 422 if the member is blocked or
    has too few points; under concurrency the balance row lock makes the losers fail."""
    member = require_member(uow, program, external_id)
    if member.status != MemberStatus.ACTIVE.value:
        raise MemberBlocked(f"member {external_id!r} is blocked", field="customer_id")
    reward = uow.rewards.get(program.id, reward_id)
    if reward is None or not reward.active:
        raise NotFound(f"no active reward {reward_id!r}", field="reward_id")
    ledger = MemberLedger(uow, program, member.id, now)
    expires_at = now + timedelta(days=reward.validity_days) if reward.validity_days else None
    code = new_code(reward.code_prefix, reward.code_length)
    redemption_pk = uow.rewards.insert_redemption(
        tenant_id=program.tenant_id,
        program_id=program.id,
        public_id=_public_id("rdm"),
        member_id=member.id,
        reward_id=reward.id,
        points=reward.points_cost,
        code=code,
        value_amount=reward.value_amount,
        currency=reward.currency,
        status="issued",
        expires_at=expires_at,
        created_at=now,
    )
    ledger.debit(
        reward.points_cost,
        kind=TxKind.REDEEM,
        target_account=program_account(program.id, "redeemed"),
        refs=Refs(redemption_id=redemption_pk, api_key_id=caller.api_key_id),
        details={"reward_id": reward.public_id, "reward": reward.name},
        field="reward_id",
    )
    ledger.save()
    redemption = uow.rewards.redemption_by_pk(redemption_pk)
    view = redemption_view(uow, redemption, now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="reward.redeemed",
        payload={
            "customer_id": external_id,
            "redemption_id": view.id,
            "reward_id": reward_id,
            "points": reward.points_cost,
            "code": code,
        },
        now=now,
    )
    return view


def redemption_view(uow: UnitOfWork, row: Row[Any], now: datetime) -> RedemptionView:
    member = uow.members.get_by_id(row.member_id)
    reward = uow.rewards.get_by_id(row.reward_id)
    assert member is not None and reward is not None
    return RedemptionView(
        id=row.public_id,
        customer_id=member.external_id,
        reward_id=reward.public_id,
        points=row.points,
        code=row.code,
        value=Money(amount=row.value_amount, currency=row.currency),
        status=_status(row, now),
        expires_at=row.expires_at,
        created_at=row.created_at,
        consumed_at=row.consumed_at,
        consumed_order_id=row.consumed_order_id,
        cancelled_at=row.cancelled_at,
    )


def _status(row: Row[Any], now: datetime) -> str:
    if row.status == "issued" and row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return str(row.status)


def get_redemption(
    uow: UnitOfWork, program: Program, public_id: str, now: datetime
) -> RedemptionView:
    row = uow.rewards.redemption(program.id, public_id)
    if row is None:
        raise NotFound(f"no redemption {public_id!r}", field="redemption_id")
    return redemption_view(uow, row, now)


def cancel(
    uow: UnitOfWork, caller: Caller, program: Program, public_id: str, now: datetime
) -> RedemptionView:
    """Cancel an unused code and return its points to the lots that paid for it."""
    row = uow.rewards.redemption(program.id, public_id, lock=True)
    if row is None:
        raise NotFound(f"no redemption {public_id!r}", field="redemption_id")
    if row.status != "issued":
        raise CouponNotUsable(f"redemption is {row.status}; only an unused code can be cancelled")
    uow.rewards.set_status(row.id, "issued", status="cancelled", cancelled_at=now)
    takes = [Take(entry.lot_id, -entry.amount) for entry in uow.ledger.redemption_takes(row.id)]
    ledger = MemberLedger(uow, program, row.member_id, now)
    ledger.restore(
        takes,
        kind=TxKind.REDEMPTION_CANCEL,
        source_account=program_account(program.id, "redeemed"),
        refs=Refs(redemption_id=row.id, api_key_id=caller.api_key_id),
        details={"redemption_id": public_id},
    )
    ledger.save()
    view = redemption_view(uow, uow.rewards.redemption_by_pk(row.id), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="redemption.cancelled",
        payload={"customer_id": view.customer_id, "redemption_id": public_id, "points": row.points},
        now=now,
    )
    return view


def validate(uow: UnitOfWork, program: Program, check: ValidateIn, now: datetime) -> ValidationView:
    """Whether a code can be used now (and on this cart); writes nothing."""
    row = uow.rewards.redemption_by_code(program.id, check.code)
    reason = _unusable_reason(row, check, now)
    return ValidationView(
        valid=reason is None,
        reason=reason,
        code=check.code,
        value=Money(amount=row.value_amount, currency=row.currency) if row else None,
        expires_at=row.expires_at if row else None,
    )


def _unusable_reason(row: Row[Any] | None, check: ValidateIn, now: datetime) -> str | None:
    if row is None:
        return "unknown_code"
    if row.status == "consumed":
        return "already_used"
    if row.status == "cancelled":
        return "cancelled"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    if check.cart is not None and check.cart.subtotal.currency != row.currency:
        return "currency_mismatch"
    return None


def consume(
    uow: UnitOfWork, program: Program, code: str, order_id: str, now: datetime
) -> RedemptionView:
    """Mark a code used by an order, exactly once; a second consume is a 409."""
    row = uow.rewards.redemption_by_code(program.id, code, lock=True)
    reason = _unusable_reason(row, ValidateIn(code=code), now)
    if row is None:
        raise NotFound(f"no code {code!r}", field="code")
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
