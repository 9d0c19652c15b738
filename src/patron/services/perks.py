"""What a member's segments and paid memberships add to a write: the segments its rules
ask about, the plans it holds and the earning multiplier they give.

Loaded once per write for all its members (a fixed number of queries), after the balance
rows are locked, and handed to the rules through `earning.MemberTraits`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from patron.db.uow import UnitOfWork
from patron.domain.program import Program


@dataclass(frozen=True, slots=True)
class Perks:
    #: Codes of the segments (among those asked for) the member is in.
    segments: tuple[str, ...] = ()
    #: Codes of the membership plans whose perks apply now (trialing, active, in grace).
    plans: tuple[str, ...] = ()
    #: The product of those plans' points multipliers.
    plan_multiplier: Fraction = Fraction(1)


NO_PERKS = Perks()


def for_members(
    uow: UnitOfWork,
    program: Program,
    member_ids: list[int],
    at: datetime,
    segment_codes: Iterable[str],
) -> dict[int, Perks]:
    """Perks of each of `member_ids` at `at` (members without any are left out)."""
    # Imported here: both modules import the earning path that imports this one.
    from patron.services import memberships, segments

    in_segments = segments.segments_of(uow, program, member_ids, frozenset(segment_codes), at)
    plans = memberships.active_plans(uow, program, member_ids, at)
    found: dict[int, Perks] = {}
    for member_id in set(in_segments) | set(plans):
        held = plans.get(member_id)
        found[member_id] = Perks(
            segments=tuple(sorted(in_segments.get(member_id, ()))),
            plans=held.codes if held else (),
            plan_multiplier=held.multiplier if held else Fraction(1),
        )
    return found
