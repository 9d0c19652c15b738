"""Tiers: upgrade as soon as a threshold is reached, retention and downgrade at the end
of the status period (the `tiers` job), manual assignment, and progress for the member API.

Windows and periods are computed as of the processing instant `now`, in the program's
time zone. Every change writes a `tier.changed` outbox event. Callers hold the member's
balance row locked, which serialises every write of one member's tier.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.calendar import local_date
from patron.domain.errors import Conflict, InvalidInput
from patron.domain.ledger import TxKind, program_account
from patron.domain.program import Program
from patron.domain.rules.evaluation import fraction_text
from patron.domain.tiers import (
    TierLadder,
    TierLevel,
    WindowKind,
    grace_ends_at,
    kept_until,
    period_end_table,
    progress,
    qualification_window,
    reached,
    status_ends_at,
    upgrade,
)
from patron.schemas.members import TierAssignIn, TierView
from patron.services.member_ledger import Credit, MemberLedger, Refs

#: A moment before a period's end: the period an end instant closes is the one containing it.
_JUST_BEFORE = timedelta(microseconds=1)


def traits(uow: UnitOfWork, program: Program, member_ids: list[int]) -> dict[int, TierLevel]:
    """Each member's current level (members without a status have none)."""
    ladder = program.tiers
    if ladder is None:
        return {}
    rows = uow.tiers.of_members(member_ids)
    return {member_id: ladder.level(row.tier) for member_id, row in rows.items()}


#: A perk `chosen_day:3` lets the member pick one day a year on which points are tripled.
CHOSEN_DAY_PERK = "chosen_day:"


def chosen_day_multiplier(level: TierLevel | None) -> Fraction:
    """The multiplier of the level's chosen-day perk (1 without one)."""
    for perk in level.perks if level else ():
        if perk.startswith(CHOSEN_DAY_PERK):
            return Fraction(perk.removeprefix(CHOSEN_DAY_PERK))
    return Fraction(1)


def choose_day(uow: UnitOfWork, program: Program, member: Any, day: date, now: datetime) -> None:
    """Record the member's chosen day of `day`'s year: only with the perk, not in the past,
    and once a year (choosing the same day again changes nothing; another day is 409)."""
    level = traits(uow, program, [member.id]).get(member.id)
    if chosen_day_multiplier(level) == 1:
        raise InvalidInput("the member's tier has no chosen-day perk", field="chosen_day")
    if day < local_date(now, program.zone):
        raise InvalidInput("the chosen day cannot be in the past", field="chosen_day")
    chosen = uow.members.chosen_days([member.id]).get(member.id, {}).get(day.year)
    if chosen == day:
        return
    if chosen is not None:
        raise Conflict(f"a day is already chosen for {day.year}: {chosen}", field="chosen_day")
    uow.members.choose_day(program.tenant_id, member.id, day, now)


def chosen_day_in(days: dict[int, date], instant: datetime, program: Program) -> date | None:
    """The member's chosen day of the local year of `instant`."""
    return days.get(local_date(instant, program.zone).year)


def on_activity(uow: UnitOfWork, program: Program, member_ids: list[int], now: datetime) -> None:
    """Upgrade the members whose metric has reached a higher level (never downgrades)."""
    ladder = program.tiers
    if ladder is None or not member_ids:
        return
    ids = sorted(set(member_ids))
    current = uow.tiers.of_members(ids)
    enrolled = uow.tiers.enrolled_at(ids)
    values = _metrics(uow, program, ladder, {m: (now, enrolled[m]) for m in ids})
    for member_id in ids:
        row = current.get(member_id)
        level = upgrade(ladder, row.tier if row else None, values.get(member_id, 0))
        if level is None and row is not None:
            # Holding a level whose reward is yearly: due once in each period it is held.
            held = ladder.level(row.tier)
            _entry_reward(uow, program, ladder, member_id, held, now, enrolled[member_id])
            continue
        if level is not None:
            ends_at = status_ends_at(ladder, now, enrolled[member_id], program.zone)
            announce_change(
                uow, program, member_id, row.tier if row else None, level.code, now, "upgrade"
            )
            uow.tiers.save(
                program,
                member_id,
                tier=level.code,
                reached_at=now,
                ends_at=ends_at,
                manual_until=None,
                reason="threshold reached",
                updated_at=now,
            )
            _entry_reward(uow, program, ladder, member_id, level, now, enrolled[member_id])


def evaluate_due(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """The `tiers` job: decide retention or downgrade for every status whose period (and
    grace) ended by `at`; daily for rolling windows. Set-based: a fixed number of
    statements per distinct period end, whatever the number of members (the decision is
    `domain.tiers.evaluate_period_end`, as a table). Kept levels grant their entry reward
    for the new status period."""
    ladder = program.tiers
    counts = {"evaluated": 0, "kept": 0, "downgraded": 0}
    if ladder is None or ladder.window is WindowKind.LIFETIME:
        return counts
    table = period_end_table(ladder)
    rewarding = frozenset(level.code for level in ladder.levels if level.entry_reward_points)
    for ends_at, enrolled_at in uow.tiers.due_groups(program.id, at):
        if ends_at is not None and grace_ends_at(ladder, ends_at, program.zone) > at:
            continue
        instant = ends_at - _JUST_BEFORE if ends_at is not None else at
        window = qualification_window(ladder, instant, enrolled_at, program.zone)
        new_ends = kept_until(ladder, ends_at, enrolled_at, program.zone) if ends_at else None
        evaluated, downgraded, kept = uow.tiers.decide_group(
            program,
            ladder.metric,
            table,
            ends_at=ends_at,
            at=at,
            window=window,
            new_ends=new_ends,
            rewarding=rewarding if ends_at is not None else frozenset(),
        )
        counts["evaluated"] += evaluated
        counts["downgraded"] += downgraded
        counts["kept"] += evaluated - downgraded
        for member_id, code in kept:
            _entry_reward(uow, program, ladder, member_id, ladder.level(code), at, enrolled_at)
    return counts


def assign(
    uow: UnitOfWork, program: Program, member_id: int, spec: TierAssignIn, now: datetime
) -> None:
    """An admin sets the member's tier until `spec.until`, with a reason."""
    ladder = _ladder(program)
    level = ladder.level(spec.tier) if spec.tier in _codes(ladder) else None
    if level is None:
        raise InvalidInput(f"no tier {spec.tier!r} in the program", field="tier")
    if spec.until <= now:
        raise InvalidInput("until must be in the future", field="until")
    MemberLedger(uow, program, member_id, now)  # locks the member's balance row
    row = uow.tiers.of_members([member_id]).get(member_id)
    uow.tiers.save(
        program,
        member_id,
        tier=level.code,
        reached_at=now,
        ends_at=spec.until,
        manual_until=spec.until,
        reason=spec.reason,
        updated_at=now,
    )
    announce_change(uow, program, member_id, row.tier if row else None, level.code, now, "manual")


def view(uow: UnitOfWork, program: Program, member: Any, now: datetime) -> TierView | None:
    """The member's tier and progress, or None when the program has no tiers."""
    ladder = program.tiers
    if ladder is None:
        return None
    row = uow.tiers.of_members([member.id]).get(member.id)
    value = _metrics(uow, program, ladder, {member.id: (now, member.enrolled_at)}).get(member.id, 0)
    level = ladder.level(row.tier) if row else reached(ladder, value) or ladder.lowest
    status = progress(ladder, level.code, value, value)
    return TierView(
        current=level.code,
        name=level.name,
        multiplier=fraction_text(level.multiplier),
        perks=list(level.perks),
        metric=status.metric,
        metric_value=value,
        next=status.next,
        missing_for_next=status.missing_for_next,
        needed_to_keep=status.needed_to_keep,
        ends_at=row.ends_at if row else None,
        manual_until=row.manual_until if row else None,
    )


def _metrics(
    uow: UnitOfWork,
    program: Program,
    ladder: TierLadder,
    instants: dict[int, tuple[datetime, datetime]],
) -> dict[int, int]:
    """Each member's metric over the window containing its (instant, enrolled_at)."""
    by_window: dict[tuple[datetime, datetime], list[int]] = defaultdict(list)
    for member_id, (instant, enrolled_at) in instants.items():
        window = qualification_window(ladder, instant, enrolled_at, program.zone)
        by_window[window].append(member_id)
    values: dict[int, int] = {}
    for (start, end), ids in by_window.items():
        values |= uow.tiers.metrics(program, ladder.metric, ids, start, end)
    return values


def _entry_reward(
    uow: UnitOfWork,
    program: Program,
    ladder: TierLadder,
    member_id: int,
    level: TierLevel,
    now: datetime,
    enrolled_at: datetime,
) -> None:
    """Grant the level's entry reward once per level and qualification period."""
    if level.entry_reward_points <= 0 or ladder.window is WindowKind.ROLLING_MONTHS:
        return
    start, _ = qualification_window(ladder, now, enrolled_at, program.zone)
    local_start = local_date(start, program.zone).isoformat()
    period = "lifetime" if ladder.window is WindowKind.LIFETIME else local_start
    if uow.tiers.entry_reward_granted(member_id, level.code, period):
        return
    ledger = MemberLedger(uow, program, member_id, now)
    credited = ledger.credit(
        Credit(
            member_id=member_id,
            points=level.entry_reward_points,
            kind=TxKind.ADJUST,
            source_account=program_account(program.id, "tier_rewards"),
            occurred_at=now,
            expires_at=program.lot_expires_at(now),
            refs=Refs(reason=f"entry reward: {level.name}"),
            details={"tier": level.code, "period": period},
        )
    )
    ledger.save()
    uow.tiers.record_entry_reward(
        program.tenant_id, member_id, level.code, period, credited.transaction_id
    )


def announce_change(
    uow: UnitOfWork,
    program: Program,
    member_id: int,
    before: str | None,
    after: str,
    now: datetime,
    cause: str,
) -> None:
    """A `tier.changed` outbox event: `before` -> `after` and why (upgrade, manual,
    membership)."""
    member = uow.members.get_by_id(member_id)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="tier.changed",
        payload={
            "customer_id": member.external_id if member else None,
            "from": before,
            "to": after,
            "cause": cause,
        },
        now=now,
    )


def _ladder(program: Program) -> TierLadder:
    if program.tiers is None:
        raise InvalidInput("the program has no tiers", field="tier")
    return program.tiers


def _codes(ladder: TierLadder) -> set[str]:
    return {level.code for level in ladder.levels}
