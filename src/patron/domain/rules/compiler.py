"""`compile_rule`: check a rule version once and turn it into what `evaluate` runs.

Everything that can be decided without an event is decided here: invalid settings are
refused with the dotted field at fault, names become sets, the CEL expression is compiled,
the award becomes a function of the eligible amount, and limits get their usage keys. A
compiled rule is immutable and is reused for every event until the rule changes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar

from patron.domain.calendar import Period
from patron.domain.errors import InvalidInput
from patron.domain.money import MAX_AMOUNT
from patron.domain.rounding import Rounding
from patron.domain.rules.conditions import (
    Check,
    CompiledLineFilter,
    check_order_conditions,
    compile_checks,
    compile_line_filter,
)
from patron.domain.rules.expression import CompiledExpression, compile_expression
from patron.domain.rules.facts import UsageKey
from patron.domain.rules.model import Award, AwardKind, Limit, RuleSpec, Stacking, Trigger
from patron.domain.rules.schedule import check_schedule, compile_schedule
from patron.domain.rules.view import EventView

#: (points, store credit) a matching rule gives, from the event and the eligible amount.
AwardFunction = Callable[[EventView, int], tuple[int, int]]

#: How limit reasons name the current period: "5 of 5 awards this month already".
_PERIOD_PHRASES = {
    Period.DAY: "today",
    Period.WEEK: "this week",
    Period.MONTH: "this month",
    Period.QUARTER: "this quarter",
    Period.YEAR: "this year",
    Period.LIFETIME: "in total",
}

_BASIS_POINTS = 10_000

#: n / d rounded, for n >= 0 and d > 0.
Divider = Callable[[int, int], int]


def _floor(numerator: int, denominator: int) -> int:
    return numerator // denominator


def _ceil(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _half_up(numerator: int, denominator: int) -> int:
    return (2 * numerator + denominator) // (2 * denominator)


def divider(rounding: Rounding) -> Divider:
    """`rounding.divide` specialised for one mode, without its per-call checks: awards are
    computed for every event, and their operands are known to be valid."""
    # Identity first: hashing or calling an enum runs Python code, this runs per event.
    if rounding is Rounding.FLOOR:
        return _floor
    if rounding is Rounding.HALF_UP:
        return _half_up
    if rounding is Rounding.CEIL:
        return _ceil
    return divider(Rounding(rounding))


@dataclass(frozen=True, slots=True)
class CompiledLimit:
    """A checked limit. `key` is its usage key when it has no `per` (scope "")."""

    label: str
    period: Period
    max_awards: int | None
    max_points: int | None
    per: str | None
    key: UsageKey
    phrase: str


@dataclass(frozen=True, slots=True, eq=False)
class CompiledRule:
    """One rule version ready to evaluate. Compared by identity: two compilations of the
    same version hold distinct CEL programs; use (`rule_id`, `version`) to compare.

    `checks` are the schedule and the event/member conditions in reason order; the order
    conditions (`line_filter`, `min_subtotal`) and `expression` come after them.
    """

    rule_id: int
    version: int
    spec: RuleSpec
    code: str
    active: bool
    match_key: tuple[Trigger, str | None]
    sort_key: tuple[int, int]
    stacking: Stacking
    checks: tuple[Check, ...]
    line_filter: CompiledLineFilter | None
    min_subtotal: int | None
    expression: CompiledExpression | None
    award: AwardFunction
    limits: tuple[CompiledLimit, ...]
    budget_points: int | None
    #: The explanation entry of the rule when it does not match, and when it applies;
    #: `evaluate` copies them (never mutates them), a dict copy being cheaper than a
    #: dict display of eight keys for every rule of every event.
    unmatched_entry: dict[str, Any]
    applied_entry: dict[str, Any]


def compile_rule(rule_id: int, version: int, spec: RuleSpec) -> CompiledRule:
    """Check `spec` and compile it; InvalidInput with the dotted field at fault otherwise
    (`code`, `award.per_amount`, `limits.0.max_awards`, `conditions.expression`, ...)."""
    _check_text(spec.code, "code")
    _check_text(spec.name, "name")
    trigger = _enum(Trigger, spec.trigger, "trigger")
    stacking = _enum(Stacking, spec.stacking, "stacking")
    event_type = _event_type(trigger, spec.event_type)
    if not _is_int(spec.priority):
        raise InvalidInput("must be an integer", field="priority")
    conditions = spec.conditions
    check_order_conditions(conditions, trigger)
    checks = compile_checks(conditions)
    schedule = compile_schedule(spec.schedule)
    if schedule is not None:
        checks.insert(0, partial(check_schedule, schedule))
    line_filter = None if conditions.lines is None else compile_line_filter(conditions.lines)
    expression = None
    if conditions.expression is not None:
        expression = compile_expression(conditions.expression)
    kind = _enum(AwardKind, spec.award.kind, "award.kind")
    award = _compile_award(spec.award, kind, trigger, filtered=line_filter is not None)
    limits = tuple(
        _compile_limit(rule_id, index, limit, kind) for index, limit in enumerate(spec.limits)
    )
    _check_budget(spec.budget_points, kind)
    return CompiledRule(
        rule_id=rule_id,
        version=version,
        spec=spec,
        code=spec.code,
        active=bool(spec.active),
        match_key=(trigger, event_type),
        sort_key=(-spec.priority, rule_id),
        stacking=stacking,
        checks=tuple(checks),
        line_filter=line_filter,
        min_subtotal=conditions.min_subtotal,
        expression=expression,
        award=award,
        limits=limits,
        budget_points=spec.budget_points,
        unmatched_entry=_entry(rule_id, version, spec.code, matched=False),
        applied_entry=_entry(rule_id, version, spec.code, matched=True),
    )


def _entry(rule_id: int, version: int, code: str, *, matched: bool) -> dict[str, Any]:
    return {
        "rule": code,
        "rule_id": rule_id,
        "version": version,
        "matched": matched,
        "applied": matched,
        "points": 0,
        "store_credit": 0,
    }


_E = TypeVar("_E", bound=StrEnum)


def _enum(kind: type[_E], value: object, field: str) -> _E:
    # Values read from storage are plain strings; an unknown one is the caller's input error.
    if isinstance(value, str):
        try:
            return kind(value)
        except ValueError:
            pass
    allowed = ", ".join(member.value for member in kind)
    raise InvalidInput(f"{value!r} is not one of {allowed}", field=field)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_text(value: object, field: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("must not be empty", field=field)
    if value != value.strip():
        raise InvalidInput("must not start or end with spaces", field=field)


def _event_type(trigger: Trigger, event_type: str | None) -> str | None:
    if trigger is Trigger.CUSTOM:
        _check_text(event_type, "event_type")
        return event_type
    if event_type is not None:
        raise InvalidInput(f"only {Trigger.CUSTOM} rules name an event type", field="event_type")
    return None


def _count(value: object, field: str, *, minimum: int) -> int:
    """`value` as an int in [minimum, MAX_AMOUNT], else InvalidInput naming `field`."""
    if not _is_int(value):
        raise InvalidInput("must be an integer", field=field)
    assert isinstance(value, int)  # for mypy: _is_int said so
    if value < minimum:
        raise InvalidInput(
            "must not be negative" if minimum == 0 else f"must be at least {minimum}", field=field
        )
    if value > MAX_AMOUNT:
        raise InvalidInput(f"must be at most {MAX_AMOUNT}", field=field)
    return value


def _compile_award(
    award: Award, kind: AwardKind, trigger: Trigger, *, filtered: bool
) -> AwardFunction:
    """Check the award and return the function computing it."""
    if kind is not AwardKind.FIXED_POINTS and trigger is not Trigger.ORDER_PAID:
        raise InvalidInput(f"{kind} applies only to {Trigger.ORDER_PAID} rules", field="award.kind")
    rounding = _enum(Rounding, award.rounding, "award.rounding")
    # Every number is checked whatever the kind, so a stray negative is never stored.
    points = _count(award.points, "award.points", minimum=0)
    per_amount = _count(award.per_amount, "award.per_amount", minimum=0)
    basis_points = _count(award.percent_back_bp, "award.percent_back_bp", minimum=0)
    multiplier = award.multiplier
    if not isinstance(multiplier, (Fraction, int)) or isinstance(multiplier, bool):
        raise InvalidInput("must be an exact fraction, not a float", field="award.multiplier")
    if multiplier < 0:
        raise InvalidInput("must not be negative", field="award.multiplier")
    if kind is AwardKind.FIXED_POINTS:
        return _fixed(_count(points, "award.points", minimum=1))
    if kind is AwardKind.POINTS_PER_AMOUNT:
        _count(points, "award.points", minimum=1)
        _count(per_amount, "award.per_amount", minimum=1)
        return _per_amount(points, per_amount, rounding)
    if kind is AwardKind.MULTIPLIER:
        if multiplier <= 1:
            raise InvalidInput("must be more than 1 (2 = double points)", field="award.multiplier")
        return _multiplier(Fraction(multiplier), rounding, filtered=filtered)
    if not 1 <= basis_points <= _BASIS_POINTS:
        raise InvalidInput(
            "must be from 1 to 10000 basis points (200 = 2%)", field="award.percent_back_bp"
        )
    return _percent_back(basis_points, rounding)


def _fixed(points: int) -> AwardFunction:
    result = (points, 0)
    return lambda view, amount: result


def _per_amount(points: int, per_amount: int, rounding: Rounding) -> AwardFunction:
    divide = divider(rounding)

    def award(view: EventView, amount: int) -> tuple[int, int]:
        return divide(amount * points, per_amount), 0

    return award


def _multiplier(multiplier: Fraction, rounding: Rounding, *, filtered: bool) -> AwardFunction:
    # m x base adds base x (m - 1); with a line filter, only the matching lines' share of
    # the base (amount / order eligible) is multiplied. One division, so one rounding.
    extra, denominator = multiplier.numerator - multiplier.denominator, multiplier.denominator
    divide = divider(rounding)

    def award(view: EventView, amount: int) -> tuple[int, int]:
        order = view.order
        if order is None or order.base_points <= 0:
            return 0, 0
        if not filtered:
            return divide(order.base_points * extra, denominator), 0
        if order.eligible <= 0:
            return 0, 0
        share = order.base_points * amount * extra
        return divide(share, denominator * order.eligible), 0

    return award


def _percent_back(basis_points: int, rounding: Rounding) -> AwardFunction:
    divide = divider(rounding)

    def award(view: EventView, amount: int) -> tuple[int, int]:
        return 0, divide(max(amount, 0) * basis_points, _BASIS_POINTS)

    return award


def _compile_limit(rule_id: int, index: int, limit: Limit, kind: AwardKind) -> CompiledLimit:
    label = f"limits.{index}"
    period = _enum(Period, limit.period, f"{label}.period")
    max_awards = limit.max_awards
    max_points = limit.max_points
    if max_awards is None and max_points is None:
        raise InvalidInput("a limit needs max_awards or max_points (or both)", field=label)
    if max_awards is not None:
        _count(max_awards, f"{label}.max_awards", minimum=1)
    if max_points is not None:
        _count(max_points, f"{label}.max_points", minimum=1)
        if kind is AwardKind.PERCENT_BACK:
            raise InvalidInput(
                "a percent-back rule gives store credit, not points", field=f"{label}.max_points"
            )
    if limit.per is not None:
        _check_text(limit.per, f"{label}.per")
    return CompiledLimit(
        label=label,
        period=period,
        max_awards=max_awards,
        max_points=max_points,
        per=limit.per,
        key=UsageKey(rule_id, period, ""),
        phrase=_PERIOD_PHRASES[period],
    )


def _check_budget(budget_points: int | None, kind: AwardKind) -> None:
    if budget_points is None:
        return
    _count(budget_points, "budget_points", minimum=1)
    if kind is AwardKind.PERCENT_BACK:
        raise InvalidInput(
            "a percent-back rule gives store credit, not points", field="budget_points"
        )
