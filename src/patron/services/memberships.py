"""Paid memberships: plans, subscriptions reported by the store, perks.

Patron takes no payments: the store reports a subscription's start (paid, or a trial),
its renewals, failed payments, and cancellations; Patron keeps the state (see
`domain/memberships.py`) and applies the perks while they apply. A payment reference is
used once per program: one seen before is a 409 and nothing is written.

Perks: a points multiplier in rule evaluation (`active_plans`, fed to the rules by
`services/perks.py`), percent off and free shipping as checkout benefits (`benefits`),
exclusive rewards (`check_reward_plans`), a tier floor (`services/membership_tiers.py`), and
store credit given by the `membership_credits` job (`worker/memberships.py`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Row

from patron.db.repositories.memberships import MembershipRepository
from patron.db.uow import UnitOfWork
from patron.domain import memberships as domain
from patron.domain.errors import (
    Conflict,
    CurrencyMismatch,
    DomainError,
    InvalidInput,
    NotFound,
)
from patron.domain.ledger import POINTS
from patron.domain.memberships import Discount, PlanPeriod, PlanPerks, Status, Subscription
from patron.domain.program import Program
from patron.domain.rules.evaluation import fraction_text
from patron.schemas.common import Money
from patron.schemas.memberships import (
    BenefitsView,
    CancellationIn,
    CartIn,
    LineDiscountView,
    MembershipsView,
    PaymentFailureIn,
    PaymentView,
    PerksIn,
    PlanIn,
    PlanUpdateIn,
    PlanView,
    RenewalIn,
    SubscriptionStartIn,
    SubscriptionView,
)
from patron.services import membership_tiers, rules


@dataclass(frozen=True, slots=True)
class HeldPlans:
    """The plans whose perks a member has now."""

    codes: tuple[str, ...]
    #: The product of the plans' points multipliers (1 if none gives one).
    multiplier: Fraction
    #: The perks of each plan in `codes`.
    perks: tuple[PlanPerks, ...]


def repo(uow: UnitOfWork) -> MembershipRepository:
    return MembershipRepository(uow.connection)


# -- whether a program has plans (asked on every rules-path write) ---------------------


def has_plans(uow: UnitOfWork, program: Program) -> bool:
    """Whether the program has any membership plan: known to its rulebook (no query once
    the write has read it)."""
    return rules.rulebook(uow, program).has_plans


def active_plans(
    uow: UnitOfWork, program: Program, member_ids: list[int], at: datetime
) -> dict[int, HeldPlans]:
    """Plans whose perks apply at `at` (trialing, active, past due within grace) for each
    of `member_ids`; members with none are left out. One query; none if the program has
    no plans or `member_ids` is empty."""
    if not member_ids or not has_plans(uow, program):
        return {}
    found: dict[int, list[Row[Any]]] = {}
    for row in repo(uow).live_of_members(program.id, member_ids, at):
        found.setdefault(row.member_id, []).append(row)
    held: dict[int, HeldPlans] = {}
    for member_id, rows in found.items():
        perks = tuple(perks_of(row.perks) for row in rows)
        multiplier = Fraction(1)
        for perk in perks:
            multiplier *= perk.points_multiplier
        held[member_id] = HeldPlans(tuple(row.code for row in rows), multiplier, perks)
    return held


class NotAPlanHolder(DomainError):
    code = "not-eligible"
    status = 422


def check_reward_plans(
    uow: UnitOfWork,
    program: Program,
    plans: list[str] | None,
    member_id: int,
    external_id: str,
    at: datetime,
) -> None:
    """A reward limited to plans: the member must hold one of them (perks applying) now."""
    if not plans:
        return
    held = active_plans(uow, program, [member_id], at).get(member_id)
    if held is None or not any(code in plans for code in held.codes):
        raise NotAPlanHolder(
            f"member {external_id!r} holds none of the membership plans allowed to redeem "
            f"this reward ({', '.join(plans)})",
            field="customer_id",
        )


def check_plan_codes(uow: UnitOfWork, program: Program, codes: list[str], field: str) -> None:
    """Every code names a plan of the program (422 naming `field.N` otherwise)."""
    for index, code in enumerate(codes):
        if repo(uow).plan(program.id, code) is None:
            raise InvalidInput(f"no membership plan {code!r}", field=f"{field}.{index}")


# -- plans ----------------------------------------------------------------------------


def perks_of(stored: dict[str, Any]) -> PlanPerks:
    """The domain perks of a plan's stored perks JSON."""
    return _perks(PerksIn.model_validate(stored))


def _perks(spec: PerksIn) -> PlanPerks:
    off = spec.percent_off
    return PlanPerks(
        percent_off=Discount(
            Fraction(off.percent), tuple(off.skus), tuple(off.categories), tuple(off.tags)
        )
        if off
        else None,
        free_shipping=spec.free_shipping,
        points_multiplier=Fraction(spec.points_multiplier or 1),
        monthly_credit=spec.monthly_credit.amount if spec.monthly_credit else 0,
        yearly_dividend_percent=Fraction(spec.yearly_dividend_percent or 0),
        tier=spec.tier,
    )


def _plan_fields(program: Program, spec: PlanIn | PlanUpdateIn) -> dict[str, Any]:
    """The columns of a plan's terms, validated against the program (422 naming the field)."""
    _in_currency(program, spec.price.currency, "price.currency")
    credit = spec.perks.monthly_credit
    if credit is not None:
        _in_currency(program, credit.currency, "perks.monthly_credit.currency")
    tiers = program.tiers
    codes = frozenset(level.code for level in tiers.levels) if tiers else None
    domain.validate_perks(_perks(spec.perks), codes)
    return {
        "name": spec.name,
        "description": spec.description,
        "price_amount": spec.price.amount,
        "currency": spec.price.currency,
        "trial_days": spec.trial_days,
        "grace_days": spec.grace_days,
        "perks": spec.perks.model_dump(mode="json", exclude_defaults=True),
        "active": spec.active,
    }


def create_plan(uow: UnitOfWork, program: Program, spec: PlanIn, now: datetime) -> PlanView:
    fields = _plan_fields(program, spec)
    added = repo(uow).add_plan(
        tenant_id=program.tenant_id,
        program_id=program.id,
        code=spec.code,
        period=spec.period.value,
        created_at=now,
        updated_at=now,
        **fields,
    )
    if not added:
        raise Conflict(f"a plan {spec.code!r} exists already", field="code")
    rules.earning_changed(uow, program.id)  # writes now look up members' plans
    return plan_view(uow, program, spec.code)


def update_plan(
    uow: UnitOfWork, program: Program, code: str, spec: PlanUpdateIn, now: datetime
) -> PlanView:
    plan = require_plan(uow, program, code, field="plan_code")
    repo(uow).update_plan(plan.id, updated_at=now, **_plan_fields(program, spec))
    return plan_view(uow, program, code)


def require_plan(uow: UnitOfWork, program: Program, code: str, *, field: str) -> Row[Any]:
    plan = repo(uow).plan(program.id, code)
    if plan is None:
        raise NotFound(f"no membership plan {code!r}", field=field)
    return plan


def plan_view(uow: UnitOfWork, program: Program, code: str) -> PlanView:
    return _plan_view(require_plan(uow, program, code, field="plan_code"))


def plans_page(
    uow: UnitOfWork, program: Program, after_id: int | None, limit: int
) -> tuple[list[PlanView], int | None]:
    """A page of plans by id, and the id to continue after (None: last page)."""
    rows = repo(uow).plans(program.id, after_id, limit + 1)
    more = rows[limit - 1].id if len(rows) > limit else None
    return [_plan_view(row) for row in rows[:limit]], more


def _plan_view(row: Row[Any]) -> PlanView:
    return PlanView(
        code=row.code,
        name=row.name,
        description=row.description,
        price=Money(amount=row.price_amount, currency=row.currency),
        period=PlanPeriod(row.period),
        trial_days=row.trial_days,
        grace_days=row.grace_days,
        perks=PerksIn.model_validate(row.perks),
        active=row.active,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


# -- subscriptions --------------------------------------------------------------------


def start(
    uow: UnitOfWork, program: Program, member: Any, spec: SubscriptionStartIn, now: datetime
) -> SubscriptionView:
    """Start a subscription: a trial, or paid (`payment_reference` required). 422 for an
    unknown or inactive plan; 409 if the member already holds the plan, asks a trial of a
    plan it had before, or the reference was seen before."""
    plan = repo(uow).plan(program.id, spec.plan)
    if plan is None or not plan.active:
        raise InvalidInput(f"no active membership plan {spec.plan!r}", field="plan")
    if spec.trial == (spec.payment_reference is not None):
        raise InvalidInput(
            "give a payment_reference, or trial: true (not both)", field="payment_reference"
        )
    amount = _paid(plan, spec.amount, "amount.currency")
    uow.members.balance(member.id, POINTS, lock=True)  # one start of a plan at a time
    held = repo(uow).live_for_plan(member.id, plan.id)
    if held is not None and settle(uow, program, held, now) is None:
        raise Conflict(
            f"member already holds {spec.plan!r} (subscription {held.public_id})", field="plan"
        )
    if spec.trial and repo(uow).had_plan(member.id, plan.id):
        raise Conflict(
            f"member already had {spec.plan!r}: a trial is for a first subscription",
            field="trial",
        )
    state = domain.start(
        PlanPeriod(plan.period), plan.trial_days, program.zone, now, trial=spec.trial
    )
    public_id = f"sub_{secrets.token_hex(8)}"
    subscription_id = repo(uow).add_subscription(
        tenant_id=program.tenant_id,
        program_id=program.id,
        member_id=member.id,
        plan_id=plan.id,
        public_id=public_id,
        cancelled_at=None,
        refund_amount=None,
        created_at=now,
        **_state_columns(state, now),
    )
    if spec.payment_reference is not None:
        _record_period_payment(
            uow, program, subscription_id, spec.payment_reference, amount, state, now
        )
    membership_tiers.hold(uow, program, member.id, plan, state, now)
    _announce(uow, program, "membership.started", public_id, member.external_id, spec.plan, now)
    return subscription_view(uow, program, public_id, now)


def renew(
    uow: UnitOfWork, program: Program, public_id: str, spec: RenewalIn, now: datetime
) -> SubscriptionView:
    """A payment for the next period (409 for a reference seen before, or a subscription
    that ended)."""
    row, plan = _locked(uow, program, public_id)
    amount = _paid(plan, spec.amount, "amount.currency")
    if repo(uow).reference_seen(program.id, spec.payment_reference):
        raise Conflict("the payment reference was seen before", field="payment_reference")
    state = domain.renew(state_of(row), PlanPeriod(plan.period), program.zone, now)
    _save(uow, row, state, now)
    _record_period_payment(uow, program, row.id, spec.payment_reference, amount, state, now)
    membership_tiers.hold(uow, program, row.member_id, plan, state, now)
    _announce(uow, program, "membership.renewed", public_id, row.customer_id, plan.code, now)
    return subscription_view(uow, program, public_id, now)


def fail_payment(
    uow: UnitOfWork, program: Program, public_id: str, spec: PaymentFailureIn, now: datetime
) -> SubscriptionView:
    """A failed payment: past due until the plan's grace ends (the job then lapses it)."""
    row, plan = _locked(uow, program, public_id)
    if spec.reference is not None and repo(uow).reference_seen(program.id, spec.reference):
        raise Conflict("the payment reference was seen before", field="reference")
    state = domain.fail_payment(state_of(row), program.zone, now)
    _save(uow, row, state, now)
    _record_payment(
        uow, program, row.id, "failure", spec.reference, 0, (None, None), now, field="reference"
    )
    membership_tiers.hold(uow, program, row.member_id, plan, state, now)
    _announce(uow, program, "membership.past_due", public_id, row.customer_id, plan.code, now)
    return subscription_view(uow, program, public_id, now)


def cancel(
    uow: UnitOfWork, program: Program, public_id: str, spec: CancellationIn, now: datetime
) -> SubscriptionView:
    """Cancel at the period end (perks until then), or now with the refund recorded."""
    row, plan = _locked(uow, program, public_id)
    if spec.at_period_end:
        if spec.refund is not None:
            raise InvalidInput("a refund needs at_period_end: false", field="refund")
        state = domain.cancel_at_period_end(state_of(row), now, program.zone)
        _save(uow, row, state, now)
        return subscription_view(uow, program, public_id, now)
    refund = _paid(plan, spec.refund, "refund.currency") if spec.refund is not None else 0
    refundable = _refundable(uow, row.id)
    if refund > refundable:
        raise InvalidInput(
            f"the refund ({refund}) is more than was paid for this subscription and not yet "
            f"refunded ({refundable})",
            field="refund.amount",
        )
    if spec.refund_reference is not None and repo(uow).reference_seen(
        program.id, spec.refund_reference
    ):
        raise Conflict("the refund reference was seen before", field="refund_reference")
    state = domain.cancel_now(state_of(row), now, program.zone)
    _save(uow, row, state, now, cancelled_at=now, refund_amount=refund)
    _record_payment(
        uow,
        program,
        row.id,
        "refund",
        spec.refund_reference,
        refund,
        (None, None),
        now,
        field="refund_reference",
    )
    membership_tiers.release(uow, program, row.member_id, now)
    _announce(uow, program, "membership.cancelled", public_id, row.customer_id, plan.code, now)
    return subscription_view(uow, program, public_id, now)


def _refundable(uow: UnitOfWork, subscription_id: int) -> int:
    """What the store reported paid for the subscription, less what was refunded."""
    signs = {"payment": 1, "refund": -1}
    return sum(
        signs.get(payment.kind, 0) * payment.amount
        for payment in repo(uow).payments([subscription_id])
    )


def settle(uow: UnitOfWork, program: Program, row: Row[Any], at: datetime) -> Status | None:
    """The `memberships` job on one subscription: lapse or expire it if due; the new
    status, or None if unchanged."""
    state = state_of(row)
    settled = domain.settle(state, at, program.zone)
    if settled is state:
        return None
    _save(uow, row, settled, at)
    membership_tiers.release(uow, program, row.member_id, settled.ended_at or at)
    _announce(
        uow,
        program,
        f"membership.{settled.status.value}",
        row.public_id,
        row.customer_id,
        row.plan_code,
        at,
    )
    return settled.status


def _locked(uow: UnitOfWork, program: Program, public_id: str) -> tuple[Row[Any], Row[Any]]:
    found = repo(uow).subscription(program.id, public_id)
    if found is None:
        raise NotFound(f"no subscription {public_id!r}", field="subscription_id")
    uow.members.balance(found.member_id, POINTS, lock=True)  # member, then subscription
    row = repo(uow).subscription(program.id, public_id, lock=True)
    assert row is not None
    plan = repo(uow).plan(program.id, row.plan_code)
    assert plan is not None
    return row, plan


def _paid(plan: Row[Any], money: Money | None, field: str) -> int:
    if money is None:
        return int(plan.price_amount)
    if money.currency != plan.currency:
        raise CurrencyMismatch(
            f"the plan is priced in {plan.currency}, not {money.currency}", field=field
        )
    return money.amount


def _in_currency(program: Program, currency: str, field: str) -> None:
    if currency != program.currency:
        raise CurrencyMismatch(
            f"the program's currency is {program.currency}, not {currency}", field=field
        )


def _record_period_payment(
    uow: UnitOfWork,
    program: Program,
    subscription_id: int,
    reference: str,
    amount: int,
    state: Subscription,
    now: datetime,
) -> None:
    """A payment for the subscription's period in `state` (409 on a reference seen before)."""
    period = (state.period_start, state.period_end)
    _record_payment(
        uow,
        program,
        subscription_id,
        "payment",
        reference,
        amount,
        period,
        now,
        field="payment_reference",
    )


def _record_payment(
    uow: UnitOfWork,
    program: Program,
    subscription_id: int,
    kind: str,
    reference: str | None,
    amount: int,
    period: tuple[datetime | None, datetime | None],
    now: datetime,
    *,
    field: str,
) -> None:
    recorded = repo(uow).add_payment(
        tenant_id=program.tenant_id,
        program_id=program.id,
        subscription_id=subscription_id,
        kind=kind,
        reference=reference,
        amount=amount,
        currency=program.currency,
        period_start=period[0],
        period_end=period[1],
        created_at=now,
    )
    if not recorded:  # raced with another write of the same reference
        raise Conflict("the payment reference was seen before", field=field)


def state_of(row: Row[Any]) -> Subscription:
    """The domain state of a subscription row (with its plan's grace days)."""
    return Subscription(
        status=Status(row.status),
        started_at=row.started_at,
        anchor_at=row.anchor_at,
        period_start=row.period_start,
        period_end=row.period_end,
        trial_end=row.trial_end,
        grace_until=row.grace_until,
        cancel_at_period_end=row.cancel_at_period_end,
        ended_at=row.ended_at,
        grace_days=row.plan_grace_days,
    )


def _state_columns(state: Subscription, now: datetime) -> dict[str, Any]:
    return {
        "status": state.status.value,
        "started_at": state.started_at,
        "anchor_at": state.anchor_at,
        "period_start": state.period_start,
        "period_end": state.period_end,
        "trial_end": state.trial_end,
        "grace_until": state.grace_until,
        "cancel_at_period_end": state.cancel_at_period_end,
        "ended_at": state.ended_at,
        "updated_at": now,
    }


def _save(uow: UnitOfWork, row: Row[Any], state: Subscription, now: datetime, **extra: Any) -> None:
    repo(uow).update_subscription(row.id, **_state_columns(state, now), **extra)


def _announce(
    uow: UnitOfWork,
    program: Program,
    type_: str,
    public_id: str,
    customer_id: str,
    plan: str,
    now: datetime,
) -> None:
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_=type_,
        payload={"subscription_id": public_id, "customer_id": customer_id, "plan": plan},
        now=now,
    )


# -- reads ----------------------------------------------------------------------------


def subscription_view(
    uow: UnitOfWork, program: Program, public_id: str, now: datetime
) -> SubscriptionView:
    row = repo(uow).subscription(program.id, public_id)
    if row is None:
        raise NotFound(f"no subscription {public_id!r}", field="subscription_id")
    return _subscription_views(uow, program, [row], now)[0]


def _subscription_views(
    uow: UnitOfWork, program: Program, rows: list[Row[Any]], now: datetime
) -> list[SubscriptionView]:
    """The views of `rows`, with their payments (one query for all)."""
    payments: dict[int, list[PaymentView]] = {row.id: [] for row in rows}
    for payment in repo(uow).payments(list(payments)):
        payments[payment.subscription_id].append(
            PaymentView(
                kind=payment.kind,
                reference=payment.reference,
                amount=Money(amount=payment.amount, currency=payment.currency),
                period_start=payment.period_start,
                period_end=payment.period_end,
                created_at=payment.created_at,
            )
        )
    return [_subscription_view(program, row, payments[row.id], now) for row in rows]


def _subscription_view(
    program: Program, row: Row[Any], payments: list[PaymentView], now: datetime
) -> SubscriptionView:
    return SubscriptionView(
        id=row.public_id,
        customer_id=row.customer_id,
        plan=row.plan_code,
        status=Status(row.status),
        perks_apply=state_of(row).perks_at(now),
        started_at=row.started_at,
        period_start=row.period_start,
        period_end=row.period_end,
        trial_end=row.trial_end,
        grace_until=row.grace_until,
        cancel_at_period_end=row.cancel_at_period_end,
        cancelled_at=row.cancelled_at,
        ended_at=row.ended_at,
        refund=Money(amount=row.refund_amount, currency=program.currency)
        if row.refund_amount is not None
        else None,
        payments=payments,
    )


def member_subscriptions(
    uow: UnitOfWork,
    program: Program,
    member: Any,
    before_id: int | None,
    limit: int,
    now: datetime,
) -> tuple[list[SubscriptionView], int | None]:
    """A page of the member's subscriptions, newest first, and the id to continue before."""
    rows = repo(uow).of_member(program.id, member.id, before_id, limit + 1)
    more = rows[limit - 1].id if len(rows) > limit else None
    return _subscription_views(uow, program, rows[:limit], now), more


def memberships_block(
    uow: UnitOfWork, program: Program, member_id: int, now: datetime
) -> MembershipsView | None:
    """The member view's `memberships` block (None when the program has no plans)."""
    if not has_plans(uow, program):
        return None
    held = active_plans(uow, program, [member_id], now).get(member_id)
    rows = repo(uow).of_member(program.id, member_id, limit=20)
    return MembershipsView(
        plans=list(held.codes) if held else [],
        points_multiplier=fraction_text(held.multiplier if held else Fraction(1)),
        free_shipping=held is not None and any(perk.free_shipping for perk in held.perks),
        subscriptions=_subscription_views(uow, program, rows, now),
    )


def benefits(
    uow: UnitOfWork, program: Program, member: Any, cart: CartIn, now: datetime
) -> BenefitsView:
    """The membership discounts on `cart` now: for each line, the
    best percent off among the member's plans whose perks apply; free shipping if any
    plan gives it. Nothing is written: the store applies the discounts."""
    _in_currency(program, cart.currency, "currency")
    held = active_plans(uow, program, [member.id], now).get(member.id)
    perks = list(zip(held.codes, held.perks, strict=True)) if held else []
    lines = []
    for line in cart.lines:
        if line.unit_price.currency != cart.currency:
            raise CurrencyMismatch("line currencies must match the cart's", field="lines")
        best: tuple[int, str, Fraction] | None = None
        amount = line.unit_price.amount * line.quantity
        for code, perk in perks:
            off = perk.percent_off
            if off is None or not off.applies_to(line.sku, line.category, tuple(line.tags)):
                continue
            value = off.off(amount)
            if best is None or value > best[0]:
                best = (value, code, off.percent)
        if best is not None and best[0] > 0:
            lines.append(
                LineDiscountView(
                    line_id=line.line_id,
                    plan=best[1],
                    percent=fraction_text(best[2]),
                    amount=best[0],
                )
            )
    free_shipping = any(perk.free_shipping for _, perk in perks)
    shipping = cart.shipping.amount if cart.shipping and free_shipping else 0
    return BenefitsView(
        customer_id=member.external_id,
        currency=program.currency,
        plans=list(held.codes) if held else [],
        lines=lines,
        discount=Money(amount=sum(line.amount for line in lines), currency=program.currency),
        free_shipping=free_shipping,
        shipping_discount=Money(amount=shipping, currency=program.currency),
    )
