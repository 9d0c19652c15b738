"""Tenants, brands and API keys.

A key reads ``ptn_<key id>_<secret>``. Only a SHA-256 of the secret is stored: the secret
is 192 random bits, so a slow password hash would add latency to every call and no
protection. It is shown once, when created.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, InvalidInput, NotFound
from patron.services.context import Caller, Scope

KEY_PREFIX = "ptn"


class Unauthenticated(Exception):
    """No valid API key: missing, malformed, unknown or revoked."""


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    secret: str
    scopes: frozenset[Scope]

    @property
    def token(self) -> str:
        """The full key, shown once to its owner."""
        return f"{KEY_PREFIX}_{self.key_id}_{self.secret}"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_scopes(text: str) -> frozenset[Scope]:
    try:
        return frozenset(Scope(part.strip()) for part in text.split(",") if part.strip())
    except ValueError:
        raise InvalidInput(
            f"scopes must be among read, write, admin: {text!r}", field="scopes"
        ) from None


def create_tenant(uow: UnitOfWork, name: str, now: datetime) -> int:
    """Create a tenant with a default brand named after it; 409 if the name is taken."""
    if uow.tenants.get_by_name(name) is not None:
        raise Conflict(f"tenant {name!r} exists", field="name")
    tenant_id = uow.tenants.create(name, now)
    uow.tenants.create_brand(tenant_id, "default", name, now)
    return tenant_id


def create_key(
    uow: UnitOfWork,
    tenant_id: int,
    *,
    scopes: frozenset[Scope],
    name: str,
    now: datetime,
    brand_code: str | None = None,
) -> NewKey:
    """Create an API key; the returned secret is never stored and cannot be shown again."""
    if not scopes:
        raise InvalidInput("a key needs at least one scope", field="scopes")
    brand_id = None
    if brand_code is not None:
        brand = uow.tenants.get_brand(tenant_id, brand_code)
        if brand is None:
            raise NotFound(f"no brand {brand_code!r}", field="brand")
        brand_id = brand.id
    key = NewKey(secrets.token_hex(6), secrets.token_hex(24), scopes)
    uow.keys.create(
        tenant_id=tenant_id,
        brand_id=brand_id,
        key_id=key.key_id,
        secret_hash=_hash(key.secret),
        scopes=",".join(sorted(scope.value for scope in scopes)),
        name=name,
        now=now,
    )
    return key


def revoke_key(uow: UnitOfWork, tenant_id: int, key_id: str, now: datetime) -> None:
    if not uow.keys.revoke(tenant_id, key_id, now):
        raise NotFound(f"no active key {key_id!r}", field="key_id")


def authenticate(uow: UnitOfWork, token: str) -> Caller:
    """The caller a bearer token belongs to; raises Unauthenticated otherwise."""
    parts = token.split("_")
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        raise Unauthenticated("malformed API key")
    _, key_id, secret = parts
    row = uow.keys.find(key_id)
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("unknown or revoked API key")
    if not hmac.compare_digest(row.secret_hash, _hash(secret)):
        raise Unauthenticated("unknown or revoked API key")
    brands = uow.tenants.list_brands(row.tenant_id)  # by id: the first is the default
    return Caller(
        tenant_id=row.tenant_id,
        api_key_id=row.id,
        scopes=parse_scopes(row.scopes),
        brand_id=row.brand_id,
        default_brand_id=brands[0].id if brands else None,
        left_brand_ids=frozenset(brand.id for brand in brands if brand.left_at),
    )
