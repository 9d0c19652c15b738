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

    def require(self, scope: Scope) -> None:
        """Raise Forbidden unless the key has `scope` (admin implies write implies read)."""
        granted = {Scope.READ} if self.scopes else set()
        if Scope.WRITE in self.scopes or Scope.ADMIN in self.scopes:
            granted.add(Scope.WRITE)
        granted |= self.scopes
        if scope not in granted:
            raise Forbidden(f"this API key lacks the {scope.value!r} scope")
