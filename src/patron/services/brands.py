"""Which brand an event belongs to."""

from __future__ import annotations

from patron.db.uow import UnitOfWork
from patron.domain.errors import NotFound
from patron.services.context import Caller, Forbidden


def resolve_brand(uow: UnitOfWork, caller: Caller, code: str | None) -> int:
    """The brand named by `code`, else the caller's own brand, else the tenant's default.

    A brand-bound key may only act for its own brand (403 otherwise).
    """
    if code is None:
        if caller.brand_id is not None:
            return caller.brand_id
        brand = uow.tenants.default_brand(caller.tenant_id)
    else:
        brand = uow.tenants.get_brand(caller.tenant_id, code)
    if brand is None:
        raise NotFound(f"no brand {code!r}", field="brand")
    if caller.brand_id is not None and brand.id != caller.brand_id:
        raise Forbidden("this API key may only act for its own brand", field="brand")
    return int(brand.id)
