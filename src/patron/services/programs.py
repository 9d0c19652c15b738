"""Programs: create, and resolve which one a request addresses."""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, NotFound
from patron.domain.program import Program
from patron.schemas.programs import EarnRate, PointValue, ProgramIn, ProgramView


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
    )
    program = uow.programs.get_by_code(tenant_id, spec.code)
    assert program is not None
    return program


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
    )
