"""The `referrals` job: attach friends' qualifying orders and decide the advocate reward
of every referral whose qualifying order's return window has ended by the run's instant.

Per referral, in order: any refund of the order inside the window → `void`; a blocked
advocate → `void`; an advocate at its monthly or total limit → `rejected` (reason
`limit`); else the advocate reward → `rewarded`. Statuses are final, so a second run (or
a catch-up after downtime) never rewards twice.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.repositories.referrals import ReferralRepository
from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, period_window
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.domain.referrals import ReferralPolicy, Status, limit_reached
from patron.services import referrals


def run_referrals(uow: UnitOfWork, program: Program, at: datetime, reason: str) -> dict[str, Any]:
    policy = referrals.policy_of(uow, program)
    if policy is None:
        return {}
    repo = ReferralRepository(uow.connection)
    done: Counter[str] = Counter()
    # Members enrolled while the policy was being set (their enrolment saw none).
    if given := referrals.give_codes(uow, program, at):
        done["codes_given"] = given
    for row in repo.in_status(program.id, Status.PENDING.value, lock=True, friend_ordered=True):
        if referrals.qualify(uow, program, policy, row, at):
            done["qualifying"] += 1
    for row in repo.in_status(program.id, Status.QUALIFYING.value, lock=True, due_by=at):
        done[_decide(uow, program, policy, row, at)] += 1
    return dict(sorted(done.items()))


def _decide(
    uow: UnitOfWork, program: Program, policy: ReferralPolicy, row: Row[Any], at: datetime
) -> str:
    repo = ReferralRepository(uow.connection)
    # The qualifying order is the friend's; the row carries its brand and external id.
    refunds = repo.refunds_before(
        row.order_brand_id, row.friend_member_id, row.order_external_id, row.qualifies_at
    )
    if refunds:
        note = ", ".join(refund.source_id for refund in refunds)
        referrals.move(uow, program, row, Status.VOID, "refunded", at, note=note)
        return Status.VOID.value
    if row.advocate_status != MemberStatus.ACTIVE.value:
        referrals.move(uow, program, row, Status.VOID, "advocate-blocked", at)
        return Status.VOID.value
    advocate_id = row.advocate_member_id
    month_start, month_end = period_window(at, Period.MONTH, program.zone)
    this_month, total = repo.advocate_rewards(advocate_id, month_start, month_end)
    limit = limit_reached(policy, this_month, total)
    if limit is not None:
        referrals.move(uow, program, row, Status.REJECTED, "limit", at, note=limit)
        return Status.REJECTED.value
    given = referrals.give_reward(
        uow, program, policy.advocate_reward, advocate_id, row.public_id, "advocate", at
    )
    referrals.move(
        uow,
        program,
        row,
        Status.REWARDED,
        "window-passed",
        at,
        advocate_reward=given,
        advocate_rewarded_at=at,
    )
    return Status.REWARDED.value
