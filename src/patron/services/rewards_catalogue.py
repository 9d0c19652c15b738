"""The reward catalogue: what each kind of reward needs, creating rewards, their prices per
tier, and pools of codes imported from the store.

Kinds and their terms (a term that does not apply to the kind is refused, naming it):

* `fixed_discount` needs `value` — or `points_step` + `value_step` (variable, optionally
  `min_points`/`max_points`); may have `min_order`, `applicable_skus`;
* `percent_discount` needs `percent` (1..100); may have `max_discount`, `min_order`,
  `applicable_skus`;
* `free_shipping` may have `max_discount`, `min_order`;
* `free_product` needs `sku`; may have `quantity` (default 1), `min_order`;
* `gift` needs `stock`; it has no code but a fulfilment record;
* `event_ticket` needs `event_starts_at`;
* `custom` needs `description`;
* `store_credit` pays `value` (or N x `value_step`) into the member's store-credit wallet
  at once: no code, and it cannot be cancelled (the credit may be spent already).

Every kind but `gift` may have `usable_from`; every kind may have `stock`,
`per_member_limit` (+ `limit_period`), `tiers`, `active_from`/`active_to`.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, CurrencyMismatch, InvalidInput, NotFound
from patron.domain.program import Program
from patron.domain.tiers import TierLevel
from patron.schemas.common import Money
from patron.schemas.rewards import (
    CodesImportView,
    CodesIn,
    CodeSource,
    RewardIn,
    RewardKind,
    RewardView,
)
from patron.services import memberships, segments

#: Terms that only some kinds take (the others are common to every kind).
_TERMS = (
    "value",
    "percent",
    "max_discount",
    "min_order",
    "applicable_skus",
    "sku",
    "quantity",
    "event_starts_at",
    "points_step",
    "value_step",
    "min_points",
    "max_points",
    "usable_from",
)
_VARIABLE = ("points_step", "value_step", "min_points", "max_points")
_CHECKOUT = ("min_order", "usable_from")
KIND_TERMS: dict[RewardKind, frozenset[str]] = {
    RewardKind.FIXED_DISCOUNT: frozenset(("value", "applicable_skus", *_VARIABLE, *_CHECKOUT)),
    RewardKind.PERCENT_DISCOUNT: frozenset(
        ("percent", "max_discount", "applicable_skus", *_CHECKOUT)
    ),
    RewardKind.FREE_SHIPPING: frozenset(("max_discount", *_CHECKOUT)),
    RewardKind.FREE_PRODUCT: frozenset(("sku", "quantity", *_CHECKOUT)),
    RewardKind.GIFT: frozenset(),
    RewardKind.STORE_CREDIT: frozenset(("value", *_VARIABLE)),
    RewardKind.EVENT_TICKET: frozenset(("event_starts_at", "usable_from")),
    RewardKind.CUSTOM: frozenset(("usable_from",)),
}
#: Kinds worth a fixed amount of money (or N x a step of it).
_VALUED = frozenset({RewardKind.FIXED_DISCOUNT, RewardKind.STORE_CREDIT})
#: Kinds whose redemption has no code: a gift is fulfilled, store credit is paid at once.
CODELESS = frozenset({RewardKind.GIFT, RewardKind.STORE_CREDIT})
#: What each kind cannot do without (variable fixed discounts need no `value`).
_REQUIRED: dict[RewardKind, tuple[str, str]] = {
    RewardKind.PERCENT_DISCOUNT: ("percent", "a percent discount needs `percent` (1..100)"),
    RewardKind.FREE_PRODUCT: ("sku", "a free product needs the `sku` it gives"),
    RewardKind.GIFT: ("stock", "a physical gift needs a `stock`"),
    RewardKind.EVENT_TICKET: ("event_starts_at", "an event ticket needs `event_starts_at`"),
    RewardKind.CUSTOM: ("description", "a custom perk needs a `description` of what it gives"),
}


def public_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def check_spec(program: Program, spec: RewardIn) -> None:
    """Raise a 422 naming the first field of `spec` that does not fit its kind."""
    kind = spec.kind
    for name in _TERMS:
        if getattr(spec, name) is not None and name not in KIND_TERMS[kind]:
            raise InvalidInput(f"{name} does not apply to a {kind.value} reward", field=name)
    if kind in _REQUIRED and getattr(spec, _REQUIRED[kind][0]) is None:
        name, message = _REQUIRED[kind]
        raise InvalidInput(message, field=name)
    _check_money(program, spec)
    _check_price(spec)
    if spec.active_from and spec.active_to and spec.active_from >= spec.active_to:
        raise InvalidInput("active_to must be after active_from", field="active_to")
    if spec.limit_period is not None and spec.per_member_limit is None:
        raise InvalidInput("limit_period needs a per_member_limit", field="limit_period")
    if kind in CODELESS and spec.code_source is CodeSource.POOL:
        raise InvalidInput(f"a {kind.value} reward has no code", field="code_source")
    _check_tiers(program, spec)


def _check_money(program: Program, spec: RewardIn) -> None:
    for name in ("value", "max_discount", "min_order", "value_step"):
        money: Money | None = getattr(spec, name)
        if money is None:
            continue
        if money.currency != program.currency:
            raise CurrencyMismatch(
                f"program {program.code!r} runs in {program.currency}", field=f"{name}.currency"
            )
        if money.amount == 0:
            raise InvalidInput(f"{name} must be more than zero", field=f"{name}.amount")


def _check_price(spec: RewardIn) -> None:
    """A reward has either a price (`points_cost`) or steps (variable fixed discount)."""
    variable = spec.points_step is not None or spec.value_step is not None
    if not variable:
        if spec.points_cost is None:
            raise InvalidInput("a reward needs a price: points_cost", field="points_cost")
        if spec.kind in _VALUED and spec.value is None:
            raise InvalidInput(f"a {spec.kind.value} reward needs a value", field="value")
        for name in ("min_points", "max_points"):
            if getattr(spec, name) is not None:
                raise InvalidInput(f"{name} is for variable rewards (points_step)", field=name)
        return
    if spec.points_step is None:
        raise InvalidInput("a variable reward needs points_step", field="points_step")
    if spec.value_step is None:
        raise InvalidInput("a variable reward needs value_step", field="value_step")
    if spec.points_cost is not None:
        raise InvalidInput("a variable reward is priced by points_step", field="points_cost")
    if spec.value is not None:
        raise InvalidInput("a variable reward's value is value_step per step", field="value")
    step = spec.points_step
    for name in ("min_points", "max_points"):
        points = getattr(spec, name)
        if points is not None and points % step:
            raise InvalidInput(f"{name} must be a multiple of points_step ({step})", field=name)
    if spec.min_points and spec.max_points and spec.min_points > spec.max_points:
        raise InvalidInput("max_points must be at least min_points", field="max_points")


def _check_tiers(program: Program, spec: RewardIn) -> None:
    if spec.tiers is None:
        return
    ladder = program.tiers
    known = {level.code for level in ladder.levels} if ladder is not None else set()
    for index, code in enumerate(spec.tiers):
        if code not in known:
            raise InvalidInput(f"no tier {code!r} in the program", field=f"tiers.{index}")


def create_reward(uow: UnitOfWork, program: Program, spec: RewardIn, now: datetime) -> RewardView:
    """Add a reward to the program's catalogue (422 naming the field at fault, 409 if its
    catalogue code is taken; nothing written either way)."""
    check_spec(program, spec)
    segments.check_codes(uow, program, spec.segments or [], "segments")
    memberships.check_plan_codes(uow, program, spec.plans or [], "plans")
    reward_public_id = public_id("rwd")
    code = spec.code or reward_public_id
    if uow.rewards.by_code(program.id, code) is not None:
        raise Conflict(f"the program already has a reward with code {code!r}", field="code")
    gift = spec.kind is RewardKind.GIFT
    uow.rewards.create(
        tenant_id=program.tenant_id,
        program_id=program.id,
        public_id=reward_public_id,
        code=code,
        name=spec.name,
        kind=spec.kind.value,
        description=spec.description,
        points_cost=spec.points_cost,
        value_amount=_amount(spec.value),
        currency=program.currency,
        percent=spec.percent,
        max_discount_amount=_amount(spec.max_discount),
        min_order_amount=_amount(spec.min_order),
        applicable_skus=spec.applicable_skus,
        sku=spec.sku,
        quantity=(spec.quantity or 1) if spec.kind is RewardKind.FREE_PRODUCT else None,
        event_starts_at=spec.event_starts_at,
        points_step=spec.points_step,
        value_step_amount=_amount(spec.value_step),
        min_points=spec.min_points,
        max_points=spec.max_points,
        stock=spec.stock,
        per_member_limit=spec.per_member_limit,
        limit_period=spec.limit_period.value if spec.limit_period else None,
        tiers=spec.tiers,
        segments=spec.segments,
        plans=spec.plans,
        active_from=spec.active_from,
        active_to=spec.active_to,
        usable_from=spec.usable_from,
        code_source=spec.code_source.value,
        code_prefix="" if gift else spec.code_prefix,
        code_length=spec.code_length,
        validity_days=None if gift else spec.validity_days,
        active=True,
        created_at=now,
    )
    reward = uow.rewards.get(program.id, reward_public_id)
    assert reward is not None
    return reward_view(reward, available=0 if spec.code_source is CodeSource.POOL else None)


def _amount(money: Money | None) -> int | None:
    return money.amount if money is not None else None


def _money(amount: int | None, currency: str) -> Money | None:
    return Money(amount=amount, currency=currency) if amount is not None else None


def reward_code(row: Row[Any]) -> str:
    """The reward's catalogue code (rewards made before codes existed: their public id)."""
    return str(row.code or row.public_id)


def reward_view(row: Row[Any], available: int | None = None) -> RewardView:
    """The API view of a reward; `available` is the count of unused pool codes."""
    currency = row.currency
    return RewardView(
        id=row.public_id,
        name=row.name,
        kind=row.kind,
        code=reward_code(row),
        description=row.description,
        points_cost=row.points_cost,
        value=_money(row.value_amount, currency),
        percent=row.percent,
        max_discount=_money(row.max_discount_amount, currency),
        min_order=_money(row.min_order_amount, currency),
        applicable_skus=row.applicable_skus,
        sku=row.sku,
        quantity=row.quantity,
        event_starts_at=row.event_starts_at,
        points_step=row.points_step,
        value_step=_money(row.value_step_amount, currency),
        min_points=row.min_points,
        max_points=row.max_points,
        stock=row.stock,
        per_member_limit=row.per_member_limit,
        limit_period=row.limit_period,
        tiers=row.tiers,
        segments=row.segments,
        plans=row.plans,
        active_from=row.active_from,
        active_to=row.active_to,
        usable_from=row.usable_from,
        code_source=row.code_source,
        code_prefix=row.code_prefix,
        code_length=row.code_length,
        validity_days=row.validity_days,
        codes_available=available if row.code_source == CodeSource.POOL.value else None,
        active=row.active,
    )


def catalogue(uow: UnitOfWork, program: Program) -> list[RewardView]:
    rows = uow.rewards.catalogue(program.id)
    pools = [row.id for row in rows if row.code_source == CodeSource.POOL.value]
    available = uow.rewards.unused_codes(pools)
    return [reward_view(row, available.get(row.id, 0)) for row in rows]


def get_reward(uow: UnitOfWork, program: Program, reward_id: str) -> RewardView:
    row = require_reward(uow, program, reward_id)
    available = uow.rewards.unused_codes([row.id]).get(row.id, 0)
    return reward_view(row, available)


def require_reward(uow: UnitOfWork, program: Program, reward_id: str) -> Row[Any]:
    row = uow.rewards.get(program.id, reward_id)
    if row is None:
        raise NotFound(f"no reward {reward_id!r}", field="reward_id")
    return row


# -- prices ----------------------------------------------------------------------------------


def is_variable(row: Row[Any]) -> bool:
    return row.points_step is not None


def check_points(row: Row[Any], points: int | None) -> None:
    """The `points` a redemption asks to spend fit the reward (422 naming `points`)."""
    if not is_variable(row):
        if points is not None:
            raise InvalidInput("this reward has a fixed price; do not send points", field="points")
        return
    step = int(row.points_step)
    if points is None:
        raise InvalidInput(
            f"this reward is variable: send points, a multiple of {step}", field="points"
        )
    if points % step:
        raise InvalidInput(f"points must be a multiple of {step}", field="points")
    low = row.min_points or step
    if points < low:
        raise InvalidInput(f"at least {low} points", field="points")
    if row.max_points is not None and points > row.max_points:
        raise InvalidInput(f"at most {row.max_points} points", field="points")


def price(row: Row[Any], level: TierLevel | None, points: int | None) -> tuple[int, int | None]:
    """(points to spend, money value) of one redemption by a member at `level`: the
    variable steps asked for; else the level's `reward_prices` for the reward's code; else
    the reward's own `points_cost`. `points` has passed `check_points`."""
    if is_variable(row):
        assert points is not None
        return points, points // int(row.points_step) * int(row.value_step_amount)
    tier_price = level.reward_prices.get(reward_code(row)) if level is not None else None
    cost = tier_price if tier_price is not None else int(row.points_cost)
    return cost, row.value_amount


# -- code pools ------------------------------------------------------------------------------


def import_codes(
    uow: UnitOfWork, program: Program, reward_id: str, spec: CodesIn, now: datetime
) -> CodesImportView:
    """Add the store's codes to the reward's pool. A code repeated in the request or already
    known to the tenant (imported or issued) is skipped and reported."""
    row = require_reward(uow, program, reward_id)
    if row.code_source != CodeSource.POOL.value:
        raise InvalidInput(
            "this reward generates its codes; create it with code_source 'pool' to import",
            field="reward_id",
        )
    unique: list[str] = []
    seen: set[str] = set()
    duplicates: list[str] = []
    for code in spec.codes:
        if code in seen:
            duplicates.append(code)
        else:
            seen.add(code)
            unique.append(code)
    known = uow.rewards.known_codes(program.tenant_id, unique)
    fresh = [code for code in unique if code not in known]
    duplicates += [code for code in unique if code in known]
    uow.rewards.add_codes(program.tenant_id, row.id, fresh, now)
    available = uow.rewards.unused_codes([row.id]).get(row.id, 0)
    return CodesImportView(imported=len(fresh), duplicates=duplicates, available=available)
