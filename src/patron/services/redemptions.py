"""Redemptions: a member spends points on a reward and gets a code (or, for a gift, a
fulfilment record); an unused code or an undelivered gift can be cancelled, which returns
the points to the lots they came from and the unit to the reward's stock.

The catalogue is `rewards_catalogue` (kinds, prices, code pools) and the checkout's side
of a code is `rewards_checkout` (validate against a cart, consume once); `create_reward` and
`reward_view` are re-exported here for existing callers.

Lock order (PostgreSQL `SELECT ... FOR UPDATE`; SQLite serialises whole write
transactions) — every path takes its locks in this order, so none can deadlock another:

    redemption row  ->  reward row  ->  pool code row  ->  member's balance row

* `redeem` locks the reward row (only when it has a `stock` or a code pool: those are
  shared by every member), then its next pool code, then opens the `MemberLedger`, which
  locks the balance. Stock and pool codes are therefore taken one redemption at a time per
  reward. The per-member limit is counted after the balance lock, which serialises all of
  one member's writes, so two redemptions of one member cannot both pass the count.
* `cancel` and `fulfil` lock the redemption row, give the unit back to the stock (an
  UPDATE, which locks the reward row), then open the `MemberLedger` (the balance).
* `consume` locks the redemption row only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, period_window
from patron.domain.codes import new_code
from patron.domain.errors import (
    Conflict,
    CouponNotUsable,
    DomainError,
    InvalidInput,
    MemberBlocked,
    NotFound,
)
from patron.domain.ledger import TxKind, program_account
from patron.domain.lots import Take
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.domain.tiers import TierLevel
from patron.schemas.common import Money
from patron.schemas.rewards import (
    CodeSource,
    Fulfilment,
    FulfilmentIn,
    FulfilmentView,
    RedeemIn,
    RedemptionView,
    RewardKind,
)
from patron.services import memberships, segments, store_credit, tiers
from patron.services.brands import resolve_brand, sees_brand
from patron.services.context import Caller
from patron.services.member_ledger import MemberLedger, Refs
from patron.services.members import require_member
from patron.services.rewards_catalogue import (
    CODELESS,
    check_points,
    create_reward,
    price,
    public_id,
    reward_view,
)

__all__ = [
    "cancel",
    "create_reward",
    "fulfil",
    "get_redemption",
    "redeem",
    "redemption_view",
    "reward_view",
]


class OutOfStock(Conflict):
    code = "out-of-stock"


class OutOfCodes(Conflict):
    code = "out-of-codes"


class RedemptionLimitReached(Conflict):
    code = "redemption-limit-reached"


class InvalidTransition(Conflict):
    code = "invalid-transition"


class RewardNotAvailable(DomainError):
    code = "reward-not-available"
    status = 422


class NotEligible(DomainError):
    code = "not-eligible"
    status = 422


#: A gift's fulfilment moves forward only; it can be cancelled until it is delivered.
_NEXT: dict[str, frozenset[str]] = {
    Fulfilment.REQUESTED: frozenset({Fulfilment.SHIPPED, Fulfilment.CANCELLED}),
    Fulfilment.SHIPPED: frozenset({Fulfilment.DELIVERED, Fulfilment.CANCELLED}),
}


def redeem(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    external_id: str,
    spec: RedeemIn,
    now: datetime,
) -> RedemptionView:
    """Spend the reward's points and issue its code (or a gift's fulfilment record).

    422 if the member is blocked, not in an allowed tier, has too few points, or the
    reward is outside its window; 409 when the stock, the pool of codes or the member's
    limit is used up. Nothing is written on any failure."""
    brand_id = resolve_brand(uow, caller, spec.brand)  # the brand that honours it
    member = require_member(uow, program, external_id)
    if member.status != MemberStatus.ACTIVE.value:
        raise MemberBlocked(f"member {external_id!r} is blocked", field="customer_id")
    reward = _active_reward(uow, program, spec.reward_id)
    _check_window(reward, now)
    check_points(reward, spec.points)
    if reward.stock is not None or reward.code_source == CodeSource.POOL.value:
        reward = _active_reward(uow, program, spec.reward_id, lock=True)
        if reward.stock is not None and reward.stock <= 0:
            raise OutOfStock("this reward is out of stock", field="reward_id")
    ledger = MemberLedger(uow, program, member.id, now)  # locks the member's balance row
    level = tiers.traits(uow, program, [member.id]).get(member.id)
    _check_tier(reward, level, external_id)
    _check_segments(uow, program, reward, member.id, external_id, now)
    memberships.check_reward_plans(uow, program, reward.plans, member.id, external_id, now)
    _check_limit(uow, program, reward, member.id, now)
    points, value = price(reward, level, spec.points)
    redemption_pk = issue_redemption(
        uow, program, member.id, reward, points, value, now, brand_id=brand_id
    )
    if points > 0:  # a tier may price a reward at 0
        ledger.debit(
            points,
            kind=TxKind.REDEEM,
            target_account=program_account(program.id, "redeemed"),
            refs=Refs(redemption_id=redemption_pk, api_key_id=caller.api_key_id),
            details={"reward_id": reward.public_id, "reward": reward.name},
            field="reward_id",
        )
    ledger.save()
    pay_store_credit(uow, program, member.id, reward, value, redemption_pk, caller.api_key_id, now)
    view = redemption_view(uow, uow.rewards.redemption_by_pk(redemption_pk), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="reward.redeemed",
        payload={
            "customer_id": external_id,
            "redemption_id": view.id,
            "reward_id": reward.public_id,
            "kind": reward.kind,
            "points": points,
            "code": view.code,
        },
        now=now,
    )
    return view


def issue_redemption(
    uow: UnitOfWork,
    program: Program,
    member_id: int,
    reward: Row[Any],
    points: int,
    value: int | None,
    now: datetime,
    *,
    brand_id: int | None = None,
) -> int:
    """Write the redemption row of `reward` for `points` (0 for a granted reward): its code
    (new, or the next of the pool: 409 when none is left), one unit of stock, a gift's
    fulfilment record. The caller holds the reward row locked when it has stock or a
    pool. Returns the redemption's id; the points are the caller's to debit."""
    gift = reward.kind == RewardKind.GIFT.value
    code, pool_code_id = _code(uow, reward)
    if reward.stock is not None and not uow.rewards.take_stock(reward.id):
        raise OutOfStock("this reward is out of stock", field="reward_id")
    redemption_pk = uow.rewards.insert_redemption(
        tenant_id=program.tenant_id,
        program_id=program.id,
        public_id=public_id("rdm"),
        member_id=member_id,
        reward_id=reward.id,
        points=points,
        code=code,
        value_amount=value,
        currency=reward.currency,
        # store credit is paid at once: used on issue, never cancelled
        status="consumed" if reward.kind == RewardKind.STORE_CREDIT.value else "issued",
        consumed_at=now if reward.kind == RewardKind.STORE_CREDIT.value else None,
        expires_at=_expires_at(reward, now),
        created_at=now,
        fulfilment_status=Fulfilment.REQUESTED.value if gift else None,
        fulfilment_updated_at=now if gift else None,
        brand_id=brand_id,
    )
    if pool_code_id is not None:
        uow.rewards.assign_code(pool_code_id, redemption_pk)
    return redemption_pk


def pay_store_credit(
    uow: UnitOfWork,
    program: Program,
    member_id: int,
    reward: Row[Any],
    value: int | None,
    redemption_pk: int,
    api_key_id: int | None,
    now: datetime,
) -> None:
    """A store-credit reward pays its value into the member's wallet when it is issued."""
    if reward.kind == RewardKind.STORE_CREDIT.value and value:
        store_credit.pay_reward(
            uow, program, member_id, value, redemption_pk, api_key_id, reward.public_id, now
        )


def _active_reward(
    uow: UnitOfWork, program: Program, reward_id: str, *, lock: bool = False
) -> Row[Any]:
    reward = uow.rewards.get(program.id, reward_id, lock=lock)
    if reward is None or not reward.active:
        raise NotFound(f"no active reward {reward_id!r}", field="reward_id")
    return reward


def _check_window(reward: Row[Any], now: datetime) -> None:
    if reward.active_from is not None and now < reward.active_from:
        raise RewardNotAvailable(
            f"this reward can be redeemed from {reward.active_from.isoformat()}",
            field="reward_id",
        )
    if reward.active_to is not None and now >= reward.active_to:
        raise RewardNotAvailable(
            f"this reward could be redeemed until {reward.active_to.isoformat()}",
            field="reward_id",
        )


def _check_tier(reward: Row[Any], level: TierLevel | None, external_id: str) -> None:
    if reward.tiers and (level is None or level.code not in reward.tiers):
        tier = level.code if level is not None else "no tier"
        raise NotEligible(
            f"member {external_id!r} ({tier}) is not in a tier allowed to redeem this reward "
            f"({', '.join(reward.tiers)})",
            field="customer_id",
        )


def _check_segments(
    uow: UnitOfWork,
    program: Program,
    reward: Row[Any],
    member_id: int,
    external_id: str,
    now: datetime,
) -> None:
    """A reward limited to segments: the member must be in one of them now."""
    if not reward.segments:
        return
    if not segments.segments_of(uow, program, [member_id], reward.segments, now):
        raise NotEligible(
            f"member {external_id!r} is in none of the segments allowed to redeem this reward "
            f"({', '.join(reward.segments)})",
            field="customer_id",
        )


def _check_limit(
    uow: UnitOfWork, program: Program, reward: Row[Any], member_id: int, now: datetime
) -> None:
    """The member's redemptions of the reward (not cancelled) in the current period stay
    under the limit. The caller holds the member's balance row locked."""
    limit = reward.per_member_limit
    if limit is None:
        return
    period = Period(reward.limit_period) if reward.limit_period else Period.LIFETIME
    since = None if period is Period.LIFETIME else period_window(now, period, program.zone)[0]
    if uow.rewards.count_redeemed(reward.id, member_id, since) >= limit:
        per = "in all" if period is Period.LIFETIME else f"per {period.value}"
        raise RedemptionLimitReached(
            f"this reward can be redeemed {limit} time(s) {per} by a member", field="reward_id"
        )


def _code(uow: UnitOfWork, reward: Row[Any]) -> tuple[str | None, int | None]:
    """(code, pool code id) for a new redemption: none for a gift, the next unused code of
    a pool (409 when none is left), else a new random code."""
    if RewardKind(reward.kind) in CODELESS:
        return None, None
    if reward.code_source == CodeSource.POOL.value:
        pooled = uow.rewards.next_code(reward.id)
        if pooled is None:
            raise OutOfCodes(
                "this reward's pool of codes is used up; import more", field="reward_id"
            )
        return str(pooled.code), int(pooled.id)
    return new_code(reward.code_prefix, reward.code_length), None


def _expires_at(reward: Row[Any], now: datetime) -> datetime | None:
    """Codes are valid for `validity_days` from when they can first be used."""
    if reward.validity_days is None or reward.kind == RewardKind.GIFT.value:
        return None
    start = max(now, reward.usable_from) if reward.usable_from is not None else now
    return start + timedelta(days=reward.validity_days)


def redemption_view(uow: UnitOfWork, row: Row[Any], now: datetime) -> RedemptionView:
    member = uow.members.get_by_id(row.member_id)
    reward = uow.rewards.get_by_id(row.reward_id)
    assert member is not None and reward is not None
    fulfilment = None
    if row.fulfilment_status is not None:
        fulfilment = FulfilmentView(
            status=Fulfilment(row.fulfilment_status),
            note=row.fulfilment_note,
            updated_at=row.fulfilment_updated_at,
        )
    return RedemptionView(
        id=row.public_id,
        customer_id=member.external_id,
        reward_id=reward.public_id,
        kind=reward.kind,
        points=row.points,
        code=row.code,
        value=Money(amount=row.value_amount, currency=row.currency)
        if row.value_amount is not None
        else None,
        status=_status(row, now),
        expires_at=row.expires_at,
        created_at=row.created_at,
        consumed_at=row.consumed_at,
        consumed_order_id=row.consumed_order_id,
        cancelled_at=row.cancelled_at,
        fulfilment=fulfilment,
    )


def _status(row: Row[Any], now: datetime) -> str:
    if row.status == "issued" and row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return str(row.status)


def get_redemption(
    uow: UnitOfWork, program: Program, public_id: str, now: datetime, caller: Caller | None = None
) -> RedemptionView:
    """A redemption; 404 if there is none (or, for a brand key, if another brand honours it)."""
    row = uow.rewards.redemption(program.id, public_id)
    if row is None or (caller is not None and not sees_brand(caller, row.brand_id)):
        raise NotFound(f"no redemption {public_id!r}", field="redemption_id")
    return redemption_view(uow, row, now)


def _locked_redemption(
    uow: UnitOfWork, caller: Caller, program: Program, public_id: str
) -> Row[Any]:
    row = uow.rewards.redemption(program.id, public_id, lock=True)
    if row is None or not sees_brand(caller, row.brand_id):
        raise NotFound(f"no redemption {public_id!r}", field="redemption_id")
    return row


def cancel(
    uow: UnitOfWork, caller: Caller, program: Program, public_id: str, now: datetime
) -> RedemptionView:
    """Cancel an unused code (or a gift not yet delivered): its points return to the lots
    that paid for it and its unit to the reward's stock. A pool code is not reissued."""
    row = _locked_redemption(uow, caller, program, public_id)
    if row.fulfilment_status is not None:
        if Fulfilment.CANCELLED not in _NEXT.get(row.fulfilment_status, frozenset()):
            raise CouponNotUsable(
                f"gift is {row.fulfilment_status}; only a gift not yet delivered can be cancelled"
            )
    elif row.status != "issued":
        raise CouponNotUsable(f"redemption is {row.status}; only an unused code can be cancelled")
    return _give_back(uow, caller, program, row, now)


def _give_back(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    row: Row[Any],
    now: datetime,
    note: str | None = None,
) -> RedemptionView:
    """Cancel the locked redemption `row`: stock back, points back, outbox event."""
    fields: dict[str, Any] = {"status": "cancelled", "cancelled_at": now}
    if row.fulfilment_status is not None:
        fields |= {"fulfilment_status": Fulfilment.CANCELLED.value, "fulfilment_updated_at": now}
        if note is not None:
            fields["fulfilment_note"] = note
    if not uow.rewards.set_status(row.id, "issued", **fields):  # pragma: no cover - row locked
        raise CouponNotUsable("redemption changed concurrently; retry")
    uow.rewards.return_stock(row.reward_id)  # locks the reward row: after the redemption's
    ledger = MemberLedger(uow, program, row.member_id, now)  # then the balance row
    takes = [Take(entry.lot_id, -entry.amount) for entry in uow.ledger.redemption_takes(row.id)]
    if takes:
        ledger.restore(
            takes,
            kind=TxKind.REDEMPTION_CANCEL,
            source_account=program_account(program.id, "redeemed"),
            refs=Refs(redemption_id=row.id, api_key_id=caller.api_key_id),
            details={"redemption_id": row.public_id},
        )
    ledger.save()
    view = redemption_view(uow, uow.rewards.redemption_by_pk(row.id), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="redemption.cancelled",
        payload={
            "customer_id": view.customer_id,
            "redemption_id": row.public_id,
            "points": row.points,
        },
        now=now,
    )
    return view


def fulfil(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    public_id: str,
    spec: FulfilmentIn,
    now: datetime,
) -> RedemptionView:
    """Move a gift along requested -> shipped -> delivered, or cancel it before delivery
    (points and stock come back). 422 for a redemption that is not a gift; 409 for a
    move the gift's status does not allow."""
    row = _locked_redemption(uow, caller, program, public_id)
    current = row.fulfilment_status
    if current is None:
        raise InvalidInput(
            "only a gift has a fulfilment; this redemption is a code", field="redemption_id"
        )
    target = Fulfilment(spec.status)
    if target not in _NEXT.get(current, frozenset()):
        raise InvalidTransition(f"a {current} gift cannot become {target.value}", field="status")
    if target is Fulfilment.CANCELLED:
        view = _give_back(uow, caller, program, row, now, spec.note)
    else:
        fields: dict[str, Any] = {"fulfilment_status": target.value, "fulfilment_updated_at": now}
        if spec.note is not None:
            fields["fulfilment_note"] = spec.note
        if target is Fulfilment.DELIVERED:
            fields |= {"status": "consumed", "consumed_at": now}
        uow.rewards.set_fulfilment(row.id, current, **fields)
        view = redemption_view(uow, uow.rewards.redemption_by_pk(row.id), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="redemption.fulfilment_changed",
        payload={
            "customer_id": view.customer_id,
            "redemption_id": row.public_id,
            "status": target.value,
            "note": spec.note,
        },
        now=now,
    )
    return view
