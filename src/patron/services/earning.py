"""Evaluating earning rules inside a write: the facts the domain needs, the usage its
limits count, and the record of what each rule gave.

One `Earning` lives for one unit of work. It must be used after the members' balance rows
are locked: a member's limit usage is read under that lock, so two concurrent events of
one member cannot both take the last award a limit allows. Budgets are shared by all
members, so the budgeted rules' rows are locked (once per write, in id order) before their
usage is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, zone
from patron.domain.expiry import lot_expires_at
from patron.domain.program import Program
from patron.domain.rules import (
    CompiledRule,
    Evaluation,
    EventFacts,
    MemberFacts,
    RuleSet,
    Usage,
    UsageKey,
    Used,
    considered,
    evaluate,
    usage_windows,
)
from patron.domain.tiers import TierLevel
from patron.services import perks, tiers
from patron.services.perks import NO_PERKS, Perks
from patron.services.rules import Rulebook, rulebook


@dataclass(frozen=True, slots=True)
class MemberTraits:
    """What rules may look at about a member, loaded once per write."""

    tags: tuple[str, ...] = ()
    tier: str | None = None
    tier_multiplier: Fraction = Fraction(1)
    chosen_day: date | None = None
    chosen_day_multiplier: Fraction = Fraction(1)
    attributes: Mapping[str, Any] = field(default_factory=dict)
    perks: Perks = NO_PERKS

    @classmethod
    def of(
        cls,
        tags: tuple[str, ...],
        level: TierLevel | None,
        chosen_day: date | None,
        perks: Perks = NO_PERKS,
    ) -> MemberTraits:
        """A member's traits from its tags, tier level, chosen day, segments and plans."""
        return cls(
            tags=tags,
            tier=level.code if level else None,
            tier_multiplier=level.multiplier if level else Fraction(1),
            chosen_day=chosen_day,
            chosen_day_multiplier=tiers.chosen_day_multiplier(level),
            perks=perks,
        )

    def facts(self) -> MemberFacts:
        return MemberFacts(
            tags=self.tags,
            tier=self.tier,
            segments=self.perks.segments,
            plans=self.perks.plans,
            plan_multiplier=self.perks.plan_multiplier,
            tier_multiplier=self.tier_multiplier,
            chosen_day=self.chosen_day,
            chosen_day_multiplier=self.chosen_day_multiplier,
            attributes=self.attributes,
        )


@dataclass(frozen=True, slots=True)
class Traits:
    """What rules may look at about the members of one write, loaded once for all of them
    (tier levels, chosen days, segments and plans: a fixed number of queries)."""

    program: Program
    levels: Mapping[int, TierLevel]
    chosen: Mapping[int, dict[int, date]]
    perks: Mapping[int, Perks]

    def of(self, member_id: int, tags: tuple[str, ...], occurred_at: datetime) -> MemberTraits:
        """A member's traits for an event that occurred at `occurred_at`."""
        days = self.chosen.get(member_id, {})
        day = tiers.chosen_day_in(days, occurred_at, self.program)
        extra = self.perks.get(member_id, NO_PERKS)
        return MemberTraits.of(tags, self.levels.get(member_id), day, extra)


class Earning:
    """Rule evaluation for the events of one write."""

    def __init__(self, uow: UnitOfWork, program: Program) -> None:
        self._uow = uow
        self._program = program
        self._book: Rulebook = rulebook(uow, program)
        self._tz: ZoneInfo = zone(program.time_zone)
        self._budgets: dict[int, int] | None = None

    @property
    def needed(self) -> bool:
        """Whether an order must be evaluated at all: the program has rules, tiers (their
        multiplier) or membership plans (theirs)."""
        return not self._book.empty or self._program.tiers is not None or self._book.has_plans

    def traits(self, member_ids: list[int], now: datetime) -> Traits:
        """The traits of `member_ids` (sorted, distinct) for this write's events."""
        uow, program = self._uow, self._program
        levels = tiers.traits(uow, program, member_ids)
        return Traits(
            program=program,
            levels=levels,
            chosen=uow.members.chosen_days(member_ids) if levels else {},
            perks=perks.for_members(uow, program, member_ids, now, self._book.segment_codes),
        )

    def credit_schedule(self, rule_id: int, version: int) -> Period | None:
        """When a percent-back rule version's store credit is issued (None: after the
        return window)."""
        return self._book.credit_schedule(rule_id, version)

    def lot_portions(
        self, evaluation: Evaluation, occurred_at: datetime, default: datetime | None
    ) -> list[tuple[datetime | None, int, str | None]]:
        """(expires at, points, rule code) of each lot an award's points go into: a rule
        with an expiry of its own gets its own lot; everything else (base, tier, the other
        rules, the chosen day) shares the program's. The first portion is the main one."""
        own: list[tuple[datetime | None, int, str | None]] = []
        for award in evaluation.awards:
            policy = self._book.expiry_of(award.rule_id, award.version)
            if policy is not None and award.points > 0:
                own.append(
                    (lot_expires_at(policy, occurred_at, self._tz), award.points, award.code)
                )
        rest = evaluation.points - sum(points for _, points, _ in own)
        main: list[tuple[datetime | None, int, str | None]] = (
            [(default, rest, None)] if rest > 0 else []
        )
        return main + own

    def rules_at(self, instant: datetime) -> RuleSet:
        return self._book.in_force(instant)

    def evaluate(self, member_id: int, event: EventFacts, member: MemberFacts) -> Evaluation:
        """Evaluate the rules in force when `event` occurred, for one member. Usage and
        budgets are read only for the rules this event's trigger considers."""
        rules = self.rules_at(event.occurred_at)
        relevant = considered(rules, event)
        usage = Usage(self._usage(member_id, relevant, event), self._budgets_of(relevant))
        return evaluate(rules, event, member, usage, self._tz, base_rounding=self._program.rounding)

    def record(
        self, member_id: int, event_id: int, occurred_at: datetime, evaluation: Evaluation
    ) -> None:
        """Count what the rules gave, for their limits and budgets (later events of this
        write included: the rows are written now)."""
        rows = []
        for award in evaluation.awards:
            scopes = {key.scope for key in award.scopes} or {""}
            for scope in sorted(scopes):
                rows.append(
                    {
                        "tenant_id": self._program.tenant_id,
                        "rule_id": award.rule_id,
                        "member_id": member_id,
                        "scope": scope,
                        "points": award.points,
                        "store_credit": award.store_credit,
                        "event_id": event_id,
                        "occurred_at": occurred_at,
                    }
                )
            if self._budgets is not None and award.rule_id in self._budgets:
                self._budgets[award.rule_id] += award.points
        self._uow.rules.record_awards(rows)

    def _usage(
        self, member_id: int, rules: Sequence[CompiledRule], event: EventFacts
    ) -> dict[UsageKey, Used]:
        limited = [rule for rule in rules if rule.spec.limits]
        if not limited:
            return {}
        found: dict[UsageKey, Used] = {}
        for window in usage_windows(limited, event, self._tz):
            awards, points = self._uow.rules.usage(
                window.key.rule_id, member_id, window.key.scope, window.start, window.end
            )
            found[window.key] = Used(awards, points)
        return found

    def _budgets_of(self, rules: Iterable[CompiledRule]) -> dict[int, int]:
        budgeted = [rule.rule_id for rule in rules if rule.spec.budget_points is not None]
        if not budgeted:
            return {}
        if self._budgets is None:
            # Lock every budgeted rule of the program at once, in id order: locking them
            # one by one as events need them could deadlock two writes.
            every = {
                rule.rule_id
                for history in self._book.histories
                for rule in history.versions
                if rule.spec.budget_points is not None
            }
            self._budgets = self._uow.rules.lock_budgets(sorted(every))
        return {rule_id: self._budgets.get(rule_id, 0) for rule_id in budgeted}
