"""Programs: create, and resolve which one a request addresses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

from patron.db.repositories.programs import expiry_policy, tier_ladder
from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, InvalidInput, NotFound
from patron.domain.program import Program
from patron.domain.tiers import TierLadder
from patron.schemas.programs import (
    EarnRate,
    ExpiryIn,
    PointValue,
    ProgramIn,
    ProgramUpdate,
    ProgramView,
    TierLevelIn,
    TiersIn,
)
from patron.services.tiers import CHOSEN_DAY_PERK


def create_program(uow: UnitOfWork, tenant_id: int, spec: ProgramIn, now: datetime) -> Program:
    """Create a program; the tenant's first program becomes its default."""
    if uow.programs.get_by_code(tenant_id, spec.code) is not None:
        raise Conflict(f"program {spec.code!r} exists", field="code")
    is_default = uow.programs.get_default(tenant_id) is None
    uow.programs.create(
        tenant_id=tenant_id,
        now=now,
        code=spec.code,
        name=spec.name,
        points_name=spec.points_name,
        currency=spec.currency,
        time_zone=spec.time_zone,
        point_value_points=spec.point_value.points,
        point_value_amount=spec.point_value.amount,
        earn_points=spec.earn_rate.points,
        earn_per_amount=spec.earn_rate.per_amount,
        rounding=spec.rounding.value,
        include_shipping=spec.include_shipping,
        include_tax=spec.include_tax,
        pending_days=spec.pending_days,
        refund_policy=spec.refund_policy.value,
        auto_enroll=spec.auto_enroll,
        is_default=is_default,
        **_policies(spec.expiry, spec.tiers),
    )
    program = uow.programs.get_by_code(tenant_id, spec.code)
    assert program is not None
    return program


def _policies(expiry: ExpiryIn | None, tiers: TiersIn | None) -> dict[str, Any]:
    """The stored form of the expiry policy and tier ladder, checked by building their
    domain values first (InvalidInput names the field at fault)."""
    stored: dict[str, Any] = {}
    if expiry is not None:
        stored["expiry"] = expiry.model_dump(mode="json")
        expiry_policy(stored["expiry"])
    if tiers is not None:
        stored["tiers"] = tiers.model_dump(mode="json")
        tier_ladder(stored["tiers"])
        _check_perks(tiers)
    return stored


def _check_perks(tiers: TiersIn) -> None:
    """Perks with a parameter (`chosen_day:3`) must parse."""
    for index, level in enumerate(tiers.levels):
        for perk in level.perks:
            if not perk.startswith(CHOSEN_DAY_PERK):
                continue
            try:
                multiplier = Fraction(perk.removeprefix(CHOSEN_DAY_PERK))
            except (ValueError, ZeroDivisionError):
                multiplier = Fraction(0)
            if not 1 < multiplier <= 10:
                raise InvalidInput(
                    f"{perk!r}: the chosen-day multiplier is a number above 1, at most 10",
                    field=f"tiers.levels.{index}.perks",
                )


def update_program(uow: UnitOfWork, program: Program, changes: ProgramUpdate) -> Program:
    """Apply the fields set in `changes`. A new expiry policy applies to points earned
    from now on (lots keep the expiry they were given); a new ladder applies from the
    next tier evaluation."""
    fields: dict[str, Any] = {
        name: getattr(changes, name)
        for name in ("name", "pending_days", "auto_enroll")
        if name in changes.model_fields_set and getattr(changes, name) is not None
    }
    fields |= _policies(changes.expiry, changes.tiers)
    if "tiers" in changes.model_fields_set and changes.tiers is None:
        fields["tiers"] = None
    if fields:
        uow.programs.update(program.id, **fields)
    updated = uow.programs.get(program.id)
    assert updated is not None
    return updated


def resolve_program(uow: UnitOfWork, tenant_id: int, code: str | None) -> Program:
    """The program named by `code`, or the tenant's default; 404 if there is none."""
    program = (
        uow.programs.get_by_code(tenant_id, code)
        if code is not None
        else uow.programs.get_default(tenant_id)
    )
    if program is None:
        raise NotFound(f"no program {code!r}" if code else "tenant has no program", field="program")
    return program


def program_view(program: Program) -> ProgramView:
    return ProgramView(
        code=program.code,
        name=program.name,
        points_name=program.points_name,
        currency=program.currency,
        time_zone=program.time_zone,
        point_value=PointValue(
            points=program.point_value_points, amount=program.point_value_amount
        ),
        earn_rate=EarnRate(points=program.earn_points, per_amount=program.earn_per_amount),
        rounding=program.rounding,
        include_shipping=program.include_shipping,
        include_tax=program.include_tax,
        pending_days=program.pending_days,
        refund_policy=program.refund_policy,
        auto_enroll=program.auto_enroll,
        expiry=ExpiryIn(
            kind=program.expiry.kind,
            months=program.expiry.months,
            round_to=program.expiry.round_to,
            remind_days=list(program.expiry.remind_days),
        ),
        tiers=_tiers_in(program.tiers) if program.tiers else None,
    )


def _tiers_in(ladder: TierLadder) -> TiersIn:
    return TiersIn(
        levels=[
            TierLevelIn(
                code=level.code,
                name=level.name,
                threshold=level.threshold,
                retain_threshold=level.retain_threshold,
                multiplier=Decimal(level.multiplier.numerator) / level.multiplier.denominator,
                perks=list(level.perks),
                entry_reward_points=level.entry_reward_points,
                reward_prices=dict(level.reward_prices),
            )
            for level in ladder.levels
        ],
        metric=ladder.metric,
        window=ladder.window,
        window_months=ladder.window_months,
        grace_days=ladder.grace_days,
        downgrade=ladder.downgrade,
    )
