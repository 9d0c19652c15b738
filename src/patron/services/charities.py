"""The charity catalogue of a program: create, list, read, replace (and deactivate).

Each charity carries its donation terms (`points_step`, `min_points`, `matching_percent`)
rather than the program: a brand may match donations to one cause and not to another.
A deactivated charity keeps its donations and payouts; it refuses new donations.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.repositories.charities import CharityRepository
from patron.db.uow import UnitOfWork
from patron.domain.donations import DonationTerms
from patron.domain.errors import Conflict, NotFound
from patron.domain.program import Program
from patron.schemas.charities import CharityIn, CharityRef, CharityUpdate, CharityView


def repository(uow: UnitOfWork) -> CharityRepository:
    """Charities and donations, inside the unit of work's transaction."""
    return CharityRepository(uow.connection)


def create_charity(
    uow: UnitOfWork, program: Program, spec: CharityIn, now: datetime
) -> CharityView:
    """Add a charity; 409 if the program has one with this code."""
    repo = repository(uow)
    if repo.code_taken(program.id, spec.code):
        raise Conflict(f"the program already has a charity {spec.code!r}", field="code")
    public_id = f"chr_{secrets.token_hex(8)}"
    fields = {"code": spec.code, **_fields(spec), "created_at": now, "updated_at": now}
    repo.create(tenant_id=program.tenant_id, program_id=program.id, public_id=public_id, **fields)
    return CharityView(id=public_id, **fields)


def update_charity(
    uow: UnitOfWork, program: Program, public_id: str, spec: CharityUpdate, now: datetime
) -> CharityView:
    """Replace a charity's details and terms (`active: false` deactivates it)."""
    row = require_charity(uow, program, public_id)
    fields = {**_fields(spec), "updated_at": now}
    repository(uow).update(row.id, **fields)
    return charity_view(row).model_copy(update=fields)


def list_charities(uow: UnitOfWork, program: Program, active: bool | None) -> list[CharityView]:
    return [charity_view(row) for row in repository(uow).catalogue(program.id, active)]


def require_charity(uow: UnitOfWork, program: Program, public_id: str) -> Row[Any]:
    """The program's charity `public_id`; 404 naming `charity_id` otherwise."""
    row = repository(uow).get(program.id, public_id)
    if row is None:
        raise NotFound(f"no charity {public_id!r}", field="charity_id")
    return row


def terms(row: Any) -> DonationTerms:
    return DonationTerms(row.points_step, row.min_points, row.matching_percent)


def charity_view(row: Any) -> CharityView:
    return CharityView(
        id=row.public_id,
        code=row.code,
        name=row.name,
        description=row.description,
        logo_url=row.logo_url,
        active=row.active,
        points_step=row.points_step,
        min_points=row.min_points,
        matching_percent=row.matching_percent,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def charity_ref(public_id: str, code: str, name: str) -> CharityRef:
    return CharityRef(id=public_id, code=code, name=name)


def _fields(spec: CharityUpdate) -> dict[str, Any]:
    return spec.model_dump(
        include={
            "name",
            "description",
            "logo_url",
            "active",
            "points_step",
            "min_points",
            "matching_percent",
        }
    )
