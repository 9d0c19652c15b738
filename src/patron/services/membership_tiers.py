"""The tier perk of a membership plan: the holder is at least at the plan's tier while its
perks apply.

Design: the floor is written as a time-boxed assignment in `member_tiers` (the same row
an admin's manual assignment writes), held until the subscription's perks end (period
end, or grace end when past due). So everything that reads tiers (the multiplier, tier
conditions of rules, tier-restricted rewards, the member view) sees it with no change.
A member already at a higher tier is left alone. When the subscription ends early
(cancelled now, lapsed, expired) the assignment is cut to that instant, and the `tiers`
job then decides retention or downgrade from the member's own metric, as for any status
that ends. Callers hold the member's balance row locked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.memberships import Subscription
from patron.domain.program import Program
from patron.services import tiers

#: `member_tiers.reason` of a membership's floor (recognised when the floor is released).
REASON = "membership plan "
#: A lifetime membership holds its tier until this instant.
_FOREVER = datetime(9000, 1, 1, tzinfo=UTC)


def hold(
    uow: UnitOfWork, program: Program, member_id: int, plan: Any, state: Subscription, now: datetime
) -> None:
    """Raise the member to the plan's tier until the subscription's perks end."""
    from patron.services.memberships import perks_of

    ladder = program.tiers
    tier = perks_of(plan.perks).tier
    if ladder is None or tier is None:
        return
    rank = {level.code: index for index, level in enumerate(ladder.levels)}
    row = uow.tiers.of_members([member_id]).get(member_id)
    ours = row is not None and (row.reason or "").startswith(REASON)
    if row is not None and not ours and rank.get(row.tier, -1) >= rank[tier]:
        return  # at or above the floor on its own
    until = state.perks_until() or _FOREVER
    uow.tiers.save(
        program,
        member_id,
        tier=tier,
        reached_at=row.reached_at if row is not None and row.tier == tier else now,
        ends_at=until,
        manual_until=until,
        reason=f"{REASON}{plan.code}",
        updated_at=now,
    )
    if row is None or row.tier != tier:
        tiers.announce_change(
            uow, program, member_id, row.tier if row else None, tier, now, "membership"
        )


def release(uow: UnitOfWork, program: Program, member_id: int, at: datetime) -> None:
    """End a membership's floor at `at` (the `tiers` job then re-evaluates the status)."""
    row = uow.tiers.of_members([member_id]).get(member_id)
    if row is None or not (row.reason or "").startswith(REASON):
        return
    if row.manual_until is not None and row.manual_until <= at:
        return
    uow.tiers.save(program, member_id, ends_at=at, manual_until=at, updated_at=at)
