"""Earning rules: saved as versions, compiled once, looked up by the instant of an event.

Saving a rule never edits a version: it adds the next one with its effective date, so an
event that arrives late (or is replayed) is evaluated with the rules in force when it
occurred. Each version is compiled when it is saved — a bad CEL expression or an
inconsistent rule is refused then, never at event time — and again, once, when a process
first loads the program's rules (`rulebook`).
"""

from __future__ import annotations

import bisect
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Engine

from patron.db.repositories.memberships import MembershipRepository
from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period
from patron.domain.campaigns import BONUS_RULE_PREFIX
from patron.domain.errors import Conflict, CurrencyMismatch, InvalidInput, NotFound
from patron.domain.expiry import ExpiryKind, ExpiryPolicy
from patron.domain.program import Program
from patron.domain.rules import (
    Award,
    AwardKind,
    CompiledRule,
    Conditions,
    Limit,
    LineFilter,
    RuleSet,
    RuleSpec,
    Schedule,
    compile_rule,
)
from patron.schemas.rules import (
    AwardIn,
    ConditionsIn,
    NewRuleIn,
    RuleIn,
    RuleVersionView,
    RuleView,
    Weekday,
)
from patron.services import segments
from patron.services.context import Caller

_WEEKDAYS = list(Weekday)


def create_rule(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    spec: NewRuleIn,
    now: datetime,
    *,
    managed: bool = False,
) -> RuleView:
    """Save a new rule as its version 1; 409 if the code is taken; 422 for a code reserved
    for rules that campaigns manage (unless `managed`: the campaign itself)."""
    _refuse_reserved(spec.code, managed)
    if uow.rules.get(program.id, spec.code) is not None:
        raise Conflict(
            f"rule {spec.code!r} exists; PUT /v1/rules/{spec.code} revises it", field="code"
        )
    rule_spec = _checked(program, spec.code, spec)
    rule_id = uow.rules.create(
        tenant_id=caller.tenant_id, program_id=program.id, code=spec.code, now=now
    )
    _add_version(uow, caller, program, rule_id, 1, spec, rule_spec, now)
    return rule_view(uow, program, spec.code, now)


def _refuse_reserved(code: str, managed: bool) -> None:
    if not managed and code.startswith(BONUS_RULE_PREFIX):
        raise InvalidInput(
            f"rule codes starting with {BONUS_RULE_PREFIX!r} belong to bonus campaigns; "
            "change the campaign instead",
            field="code",
        )


def revise_rule(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    code: str,
    spec: RuleIn,
    now: datetime,
    *,
    managed: bool = False,
) -> RuleView:
    """Save the next version of rule `code`, effective from `spec.effective_from` (now).
    A campaign's rule is revised through its campaign (422 here unless `managed`)."""
    _refuse_reserved(code, managed)
    rule = uow.rules.lock(program.id, code)
    if rule is None:
        raise NotFound(f"no rule {code!r}", field="code")
    rule_spec = _checked(program, code, spec)
    version = uow.rules.last_version(rule.id) + 1
    _add_version(uow, caller, program, rule.id, version, spec, rule_spec, now)
    return rule_view(uow, program, code, now)


def _add_version(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    rule_id: int,
    version: int,
    spec: RuleIn,
    rule_spec: RuleSpec,
    now: datetime,
) -> None:
    compile_rule(rule_id, version, rule_spec)  # refuses what cannot be evaluated
    segments.check_codes(uow, program, spec.conditions.segments, "conditions.segments")
    stored = spec.model_dump(mode="json", exclude={"code", "effective_from"})
    uow.rules.add_version(
        tenant_id=caller.tenant_id,
        rule_id=rule_id,
        version=version,
        effective_from=spec.effective_from or now,
        spec=stored,
        now=now,
    )
    earning_changed(uow, program.id)


def rule_view(uow: UnitOfWork, program: Program, code: str, now: datetime) -> RuleView:
    versions = [row for row in uow.rules.versions_of_program(program.id) if row.code == code]
    if not versions:
        raise NotFound(f"no rule {code!r}", field="code")
    return _view(code, versions, now)


def list_rules(uow: UnitOfWork, program: Program, now: datetime) -> list[RuleView]:
    by_code: dict[str, list[Any]] = {}
    for row in uow.rules.versions_of_program(program.id):
        by_code.setdefault(row.code, []).append(row)
    return [_view(code, rows, now) for code, rows in by_code.items()]


def _view(code: str, rows: list[Any], now: datetime) -> RuleView:
    versions = [
        RuleVersionView(
            version=row.version,
            effective_from=row.effective_from,
            created_at=row.created_at,
            spec=row.spec,
        )
        for row in rows
    ]
    in_force = [view for view in versions if view.effective_from <= now]
    current = max(in_force, key=lambda view: (view.effective_from, view.version), default=None)
    return RuleView(code=code, current=current, versions=versions)


def _checked(program: Program, code: str, spec: RuleIn) -> RuleSpec:
    """The domain spec of `spec`; currency and consistency checked (InvalidInput)."""
    for path, money in (
        ("conditions.min_subtotal", spec.conditions.min_subtotal),
        ("award.per_amount", spec.award.per_amount),
    ):
        if money is not None and money.currency != program.currency:
            raise CurrencyMismatch(
                f"{path} is in {money.currency}; the program runs in {program.currency}",
                field=f"{path}.currency",
            )
    return to_spec(code, spec)


def to_spec(code: str, spec: RuleIn) -> RuleSpec:
    """Translate the API form of a rule version to the domain's."""
    schedule = spec.schedule
    return RuleSpec(
        code=code,
        name=spec.name,
        trigger=spec.trigger,
        event_type=spec.event_type,
        conditions=_conditions(spec.conditions),
        award=_award(spec.award),
        limits=tuple(
            Limit(
                period=limit.period,
                max_awards=limit.max_awards,
                max_points=limit.max_points,
                per=limit.per,
            )
            for limit in spec.limits
        ),
        budget_points=spec.budget_points,
        schedule=Schedule(
            active_from=schedule.active_from,
            active_to=schedule.active_to,
            days_of_week=tuple(_WEEKDAYS.index(day) for day in schedule.days_of_week),
            hours=(schedule.hours.start, schedule.hours.end) if schedule.hours else None,
        ),
        priority=spec.priority,
        stacking=spec.stacking,
        active=spec.active,
    )


def _conditions(conditions: ConditionsIn) -> Conditions:
    lines = conditions.lines
    return Conditions(
        min_subtotal=conditions.min_subtotal.amount if conditions.min_subtotal else None,
        lines=LineFilter(
            skus=tuple(lines.skus), categories=tuple(lines.categories), tags=tuple(lines.tags)
        )
        if lines is not None
        else None,
        brands=tuple(conditions.brands),
        channels=tuple(conditions.channels),
        first_order=conditions.first_order,
        member_tags=tuple(conditions.member_tags),
        tiers=tuple(conditions.tiers),
        segments=tuple(conditions.segments),
        expression=conditions.expression,
    )


def _award(award: AwardIn) -> Award:
    _require_award_fields(award)
    return Award(
        kind=award.kind,
        points=award.points,
        per_amount=award.per_amount.amount if award.per_amount else 0,
        multiplier=Fraction(award.multiplier) if award.multiplier is not None else Fraction(1),
        percent_back_bp=int(award.percent * 100) if award.percent is not None else 0,
        rounding=award.rounding,
    )


def _require_award_fields(award: AwardIn) -> None:
    """Each kind names the fields it needs; a missing one is the caller's mistake."""
    if award.issue is not None and award.kind is not AwardKind.PERCENT_BACK:
        raise InvalidInput("only percent_back awards have an issue schedule", field="award.issue")
    needed = {
        AwardKind.FIXED_POINTS: ("points",),
        AwardKind.POINTS_PER_AMOUNT: ("points", "per_amount"),
        AwardKind.MULTIPLIER: ("multiplier",),
        AwardKind.PERCENT_BACK: ("percent",),
    }[award.kind]
    for name in needed:
        value = getattr(award, name)
        if value is None or value == 0:
            raise InvalidInput(f"a {award.kind.value} award needs {name}", field=f"award.{name}")


@dataclass(frozen=True, slots=True)
class _VersionExtras:
    """What a stored version says beyond the domain's rule: store-credit schedule, expiry."""

    issue: Period | None
    expiry: ExpiryPolicy | None


_NO_EXTRAS = _VersionExtras(None, None)


@dataclass(frozen=True, slots=True)
class _RuleHistory:
    """The compiled versions of one rule, in effective order."""

    starts: tuple[datetime, ...]
    versions: tuple[CompiledRule, ...]

    def at(self, instant: datetime) -> CompiledRule | None:
        index = bisect.bisect_right(self.starts, instant) - 1
        return self.versions[index] if index >= 0 else None


@dataclass(frozen=True, slots=True)
class Rulebook:
    """A program's compiled rules, all versions."""

    revision: int
    histories: tuple[_RuleHistory, ...]
    #: What each (rule id, version) says beyond the domain's rule.
    extras: dict[tuple[int, int], _VersionExtras]
    #: Whether the program has membership plans (a plan's multiplier is earning too: a
    #: new plan moves the revision), so writes of programs without any skip their query.
    has_plans: bool = False
    #: Rule sets by the versions they hold (a few: one per rule-version epoch).
    sets: dict[tuple[tuple[int, int], ...], RuleSet] = field(default_factory=dict)

    def in_force(self, instant: datetime) -> RuleSet:
        """The active version of each rule in force at `instant`, as a `RuleSet` shared by
        every event that sees the same versions (so its per-trigger plans are reused)."""
        found = (history.at(instant) for history in self.histories)
        selected = tuple(rule for rule in found if rule is not None and rule.spec.active)
        key = tuple((rule.rule_id, rule.version) for rule in selected)
        rule_set = self.sets.get(key)
        if rule_set is None:
            rule_set = self.sets.setdefault(key, RuleSet(selected))
        return rule_set

    @property
    def empty(self) -> bool:
        return not self.histories

    @property
    def segment_codes(self) -> frozenset[str]:
        """Every segment any version's conditions name: the segments a write must know."""
        return frozenset(
            code
            for history in self.histories
            for rule in history.versions
            for code in rule.spec.conditions.segments
        )

    def credit_schedule(self, rule_id: int, version: int) -> Period | None:
        """The period a percent-back rule version's store credit is issued at the end of."""
        return self._of(rule_id, version).issue

    def expiry_of(self, rule_id: int, version: int) -> ExpiryPolicy | None:
        """The rule version's own expiry policy for its points (None: the program's)."""
        return self._of(rule_id, version).expiry

    def _of(self, rule_id: int, version: int) -> _VersionExtras:
        return self.extras.get((rule_id, version), _NO_EXTRAS)


#: Compiled rules per database (engine) and program. Revisions are random, not counters,
#: so a program that reuses an id (a restored or emptied database) never matches a stale
#: entry.
_CACHE: weakref.WeakKeyDictionary[Engine, dict[int, Rulebook]] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


#: The rulebook each unit of work already read (its revision is read once per write).
_IN_UOW: weakref.WeakKeyDictionary[UnitOfWork, dict[int, Rulebook]] = weakref.WeakKeyDictionary()


def rulebook(uow: UnitOfWork, program: Program) -> Rulebook:
    """The program's rules, compiled; reloaded only when the program's revision moved.
    One query (the revision) per unit of work."""
    seen = _IN_UOW.setdefault(uow, {})
    if program.id in seen:
        return seen[program.id]
    revision = uow.rules.revision(program.id)
    with _CACHE_LOCK:
        books = _CACHE.setdefault(uow.engine, {})
    cached = books.get(program.id)
    if cached is not None and cached.revision == revision:
        seen[program.id] = cached
        return cached
    book = _load(uow, program, revision)
    with _CACHE_LOCK:
        books[program.id] = book
    seen[program.id] = book
    return book


def earning_changed(uow: UnitOfWork, program_id: int) -> None:
    """Something that earning depends on changed (a rule version, a membership plan):
    move the revision, so every process reloads the program's rulebook."""
    uow.rules.bump_revision(program_id)
    _IN_UOW.get(uow, {}).pop(program_id, None)


def _load(uow: UnitOfWork, program: Program, revision: int) -> Rulebook:
    by_rule: dict[int, list[Any]] = {}
    for row in uow.rules.versions_of_program(program.id):
        by_rule.setdefault(row.rule_id, []).append(row)
    histories = []
    extras: dict[tuple[int, int], _VersionExtras] = {}
    for rule_id, rows in by_rule.items():
        # Two versions with the same effective instant: the later version wins.
        ordered = sorted(rows, key=lambda row: (row.effective_from, row.version))
        versions = []
        for row in ordered:
            stored = _stored(row.spec)  # parsed once per version
            versions.append(compile_rule(rule_id, row.version, to_spec(row.code, stored)))
            extras[(rule_id, row.version)] = _VersionExtras(_issue(stored), _expiry(stored))
        histories.append(
            _RuleHistory(tuple(row.effective_from for row in ordered), tuple(versions))
        )
    has_plans = MembershipRepository(uow.connection).has_plans(program.id)
    return Rulebook(revision, tuple(histories), extras, has_plans=has_plans)


def _issue(spec: RuleIn) -> Period | None:
    return Period(spec.award.issue.value) if spec.award.issue else None


def _expiry(spec: RuleIn) -> ExpiryPolicy | None:
    if spec.expiry is None:
        return None
    return ExpiryPolicy(
        kind=ExpiryKind.FIXED, months=spec.expiry.months, round_to=spec.expiry.round_to
    )


def _stored(spec: dict[str, Any]) -> RuleIn:
    return RuleIn.model_validate(spec)
