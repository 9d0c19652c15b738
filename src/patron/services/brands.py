"""Brands: create and list them, and decide which brand an event belongs to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, NotFound
from patron.schemas.brands import BrandIn, BrandView
from patron.services.context import Caller, Forbidden


def create_brand(uow: UnitOfWork, caller: Caller, spec: BrandIn, now: datetime) -> BrandView:
    """Add a brand to the caller's tenant; 409 if the code is taken. Brand keys cannot."""
    if caller.brand_id is not None:
        raise Forbidden("a brand key cannot create brands")
    if uow.tenants.get_brand(caller.tenant_id, spec.code) is not None:
        raise Conflict(f"brand {spec.code!r} exists", field="code")
    uow.tenants.create_brand(caller.tenant_id, spec.code, spec.name, now)
    return list_brands(uow, caller)[-1]


def list_brands(uow: UnitOfWork, caller: Caller) -> list[BrandView]:
    return [
        brand_view(row)
        for row in uow.tenants.list_brands(caller.tenant_id)
        if caller.brand_id is None or row.id == caller.brand_id
    ]


def brand_view(row: Any) -> BrandView:
    return BrandView(
        code=row.code,
        name=row.name,
        created_at=row.created_at,
        currency=row.currency,
        left_at=row.left_at,
    )


def resolve_brand(uow: UnitOfWork, caller: Caller, code: str | None) -> int:
    """The brand named by `code`, else the caller's own brand, else the tenant's default.

    A brand-bound key may only act for its own brand (403 otherwise).
    """
    if code is None:
        if caller.brand_id is not None:
            return caller.brand_id
        if caller.default_brand_id is not None:
            return caller.default_brand_id
        brand = uow.tenants.default_brand(caller.tenant_id)
    else:
        brand = uow.tenants.get_brand(caller.tenant_id, code)
    if brand is None:
        raise NotFound(f"no brand {code!r}", field="brand")
    if caller.brand_id is not None and brand.id != caller.brand_id:
        raise Forbidden("this API key may only act for its own brand", field="brand")
    return int(brand.id)


def sees_brand(caller: Caller, brand_id: int | None) -> bool:
    """Whether the caller may see data of `brand_id` (None: the tenant's default brand):
    a brand key sees only its own brand's orders and redemptions."""
    if caller.brand_id is None:
        return True
    return (brand_id or caller.default_brand_id) == caller.brand_id
