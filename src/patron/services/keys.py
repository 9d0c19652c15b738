"""API key management through the API (admin scope)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.errors import NotFound
from patron.schemas.keys import KeyIn, KeyView, NewKeyView
from patron.services.context import Caller, Forbidden, Scope
from patron.services.tenants import create_key, parse_scopes, revoke_key


def _brand_code(uow: UnitOfWork, tenant_id: int, brand_id: int | None) -> str | None:
    if brand_id is None:
        return None
    return uow.tenants.brand_code(brand_id)


def key_view(uow: UnitOfWork, row: Row[Any]) -> KeyView:
    return KeyView(
        key_id=row.key_id,
        name=row.name,
        scopes=sorted(row.scopes.split(",")),
        brand=_brand_code(uow, row.tenant_id, row.brand_id),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def issue(uow: UnitOfWork, caller: Caller, spec: KeyIn, now: datetime) -> NewKeyView:
    """Create a key for the caller's tenant. A brand key cannot make keys."""
    if caller.brand_id is not None:
        raise Forbidden("a brand key cannot create keys")
    key = create_key(
        uow,
        caller.tenant_id,
        scopes=parse_scopes(",".join(spec.scopes)),
        name=spec.name,
        now=now,
        brand_code=spec.brand,
    )
    row = uow.keys.find(key.key_id)
    assert row is not None
    return NewKeyView(**key_view(uow, row).model_dump(), secret=key.token)


def revoke(uow: UnitOfWork, caller: Caller, key_id: str, now: datetime) -> KeyView:
    row = uow.keys.find(key_id)
    if row is None or row.tenant_id != caller.tenant_id:
        raise NotFound(f"no key {key_id!r}", field="key_id")
    if caller.brand_id is not None or Scope.ADMIN not in caller.scopes:
        raise Forbidden("only a tenant admin key can revoke keys")
    revoke_key(uow, caller.tenant_id, key_id, now)
    updated = uow.keys.find(key_id)
    assert updated is not None
    return key_view(uow, updated)
