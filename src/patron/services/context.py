"""Who is calling: the authenticated API key, its tenant, brand and scopes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from patron.domain.errors import DomainError


class Scope(StrEnum):
    READ = "read"
    WRITE = "write"
    ADMIN = "admin"


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated API key. Every query a caller makes is scoped to `tenant_id`."""

    tenant_id: int
    api_key_id: int | None
    scopes: frozenset[Scope]
    brand_id: int | None = None
    #: The tenant's first brand: events that name no brand belong to it (resolved once
    #: at authentication so the hot path needs no lookup).
    default_brand_id: int | None = None
    #: The tenant's brands that left the coalition when the key was authenticated (they
    #: can no longer issue points); read with the key, so the hot path needs no lookup.
    left_brand_ids: frozenset[int] = frozenset()

    def require(self, scope: Scope) -> None:
        """Raise Forbidden unless the key has `scope` (admin implies write implies read).

        The admin scope is the program's configuration (rules, rewards, tiers, settings,
        keys, brands, plans...): a brand key never has it, whatever its scopes say, so a
        coalition partner cannot change the program it shares."""
        if scope is Scope.ADMIN and self.brand_id is not None:
            raise Forbidden("a brand key cannot change the program's configuration")
        granted = {Scope.READ} if self.scopes else set()
        if Scope.WRITE in self.scopes or Scope.ADMIN in self.scopes:
            granted.add(Scope.WRITE)
        granted |= self.scopes
        if scope not in granted:
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")


class BrandLeft(DomainError):
    code = "brand-left"
    status = 422


def require_active_brand(caller: Caller, brand_id: int) -> None:
    """Raise BrandLeft (422) if the brand left the coalition: it can issue no points."""
    if brand_id in caller.left_brand_ids:
        raise BrandLeft(
            "this brand left the coalition and can no longer issue points", field="brand"
        )
