"""Granted rewards: a catalogue reward given to a member without points (a referral's
welcome coupon, a campaign's birthday or win-back offer).

A grant is a redemption of 0 points: the same code (generated or from the reward's pool),
stock, validity, gift fulfilment and store-credit payment as a redemption, written by the
same `redemptions.issue_redemption`, so checkout validates and consumes it like any other
code and cancelling it gives back its stock (and no points). It moves no points: the
ledger is untouched, except that a store-credit reward pays its value into the wallet.

Lock order is the redemption path's: reward row (only with stock or a pool), pool code,
then the member's balance rows (points before store credit).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.errors import InvalidInput, MemberBlocked, NotFound
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.schemas.rewards import CodeSource, RedemptionView, RewardKind
from patron.services.member_ledger import MemberLedger
from patron.services.redemptions import (
    OutOfStock,
    issue_redemption,
    pay_store_credit,
    redemption_view,
)
from patron.services.rewards_catalogue import is_variable


def grant_reward(
    uow: UnitOfWork,
    program: Program,
    member_id: int,
    reward_code: str,
    now: datetime,
    *,
    reason: str,
    source: dict[str, Any] | None = None,
) -> tuple[int, RedemptionView]:
    """Give member `member_id` the reward whose catalogue code (or public id) is
    `reward_code`, for 0 points, and record a `reward.granted` outbox event with `reason`
    and `source` (e.g. {"campaign": "birthday"} or {"referral": "ref_…"}).

    The reward's redemption window and per-member limits are not checked: the caller (a
    campaign, a referral policy) decides who gets it. 404 if the program has no such
    reward; 422 for a variable reward (its value depends on points) or a blocked member;
    409 `out-of-stock` / `out-of-codes` when the stock or the pool is used up. Nothing is
    written on any failure. Returns the redemption's row id (to link it) and its view."""
    reward = require_grantable(uow, program, reward_code)
    member = uow.members.get_by_id(member_id)
    if member is None or member.program_id != program.id:
        raise NotFound(f"no member {member_id}", field="customer_id")
    if member.status != MemberStatus.ACTIVE.value:
        raise MemberBlocked(f"member {member.external_id!r} is blocked", field="customer_id")
    if reward.stock is not None or reward.code_source == CodeSource.POOL.value:
        locked = uow.rewards.get(program.id, reward.public_id, lock=True)
        assert locked is not None  # rewards are never deleted
        reward = locked
        if reward.stock is not None and reward.stock <= 0:
            raise OutOfStock("this reward is out of stock", field="reward_id")
    value = reward.value_amount
    redemption_pk = issue_redemption(uow, program, member_id, reward, 0, value, now)
    if value and reward.kind == RewardKind.STORE_CREDIT.value:
        MemberLedger(uow, program, member_id, now).save()  # points balance before credit's
    pay_store_credit(uow, program, member_id, reward, value, redemption_pk, None, now)
    view = redemption_view(uow, uow.rewards.redemption_by_pk(redemption_pk), now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="reward.granted",
        payload={
            "customer_id": member.external_id,
            "redemption_id": view.id,
            "reward_id": reward.public_id,
            "kind": reward.kind,
            "code": view.code,
            "reason": reason,
            "source": source or {},
        },
        now=now,
    )
    return redemption_pk, view


def require_grantable(uow: UnitOfWork, program: Program, reward_code: str) -> Row[Any]:
    """The program's reward `reward_code` (catalogue code or public id), if it can be
    granted: 404 if there is none, 422 if it is variable. Use it to validate a campaign's
    or a referral policy's reward when it is saved."""
    reward = uow.rewards.by_code(program.id, reward_code) or uow.rewards.get(
        program.id, reward_code
    )
    if reward is None:
        raise NotFound(f"no reward {reward_code!r} in the program", field="reward")
    if is_variable(reward):
        raise InvalidInput(
            f"reward {reward_code!r} is variable (priced in steps of points): it cannot be granted",
            field="reward",
        )
    return reward
