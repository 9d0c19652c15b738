"""Members of a program, known by the store's own customer id."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MemberStatus(StrEnum):
    ACTIVE = "active"
    #: A blocked member earns and redeems nothing until unblocked.
    BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class Balance:
    """A member's balance of one asset. `available - debt` is what the member can see."""

    available: int = 0
    pending: int = 0
    debt: int = 0
    lifetime_earned: int = 0

    @property
    def net(self) -> int:
        return self.available - self.debt
