"""Paid memberships: plans, subscriptions reported by the store, perks.

(Stub: the memberships engineer replaces this module; keep `active_plans`'s contract.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from patron.db.uow import UnitOfWork
from patron.domain.program import Program


@dataclass(frozen=True, slots=True)
class HeldPlans:
    """The plans whose perks a member has now."""

    codes: tuple[str, ...]
    #: The product of the plans' points multipliers (1 if none gives one).
    multiplier: Fraction


def active_plans(
    uow: UnitOfWork, program: Program, member_ids: list[int], at: datetime
) -> dict[int, HeldPlans]:
    """Plans whose perks apply at `at` (trialing, active, past due within grace) for each
    of `member_ids`; members with none are left out. One query; none if the program has
    no plans or `member_ids` is empty."""
    return {}
