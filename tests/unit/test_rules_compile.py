"""Earning rules: what `compile_rule` refuses, with the field at fault, and CEL at save time."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from fractions import Fraction
from typing import Any

import pytest

from patron.domain.calendar import Period
from patron.domain.errors import InvalidInput
from patron.domain.rules import (
    Award,
    AwardKind,
    Conditions,
    Limit,
    LineFilter,
    RuleSpec,
    Schedule,
    Trigger,
    compile_rule,
)
from tests.unit.test_rules_helpers import (
    entry,
    fixed,
    per_amount,
    percent_back,
    rule,
    run,
    spec,
    times,
)

MARCH_1 = datetime.fromisoformat("2026-03-01T00:00:00+00:00")
APRIL_1 = datetime.fromisoformat("2026-04-01T00:00:00+00:00")


def refused(**kw: Any) -> InvalidInput:
    """The error compiling `spec(**kw)`; RuleSpec fields given as `fields={...}` are set
    directly (for values `spec` cannot express)."""
    fields = kw.pop("fields", {})
    with pytest.raises(InvalidInput) as caught:
        compile_rule(1, 1, replace(spec(**kw), **fields))
    return caught.value


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"fields": {"code": ""}}, "code"),
        ({"fields": {"code": " summer"}}, "code"),
        ({"fields": {"name": "  "}}, "name"),
        ({"fields": {"trigger": "order.shipped"}}, "trigger"),
        ({"fields": {"stacking": "sometimes"}}, "stacking"),
        ({"trigger": Trigger.CUSTOM}, "event_type"),
        ({"event_type": "quiz.completed"}, "event_type"),
        ({"fields": {"budget_points": 0}}, "budget_points"),
        ({"fields": {"priority": 1.5}}, "priority"),
    ],
)
def test_rule_fields_are_checked(kw: dict[str, Any], field: str) -> None:
    assert refused(**kw).field == field


@pytest.mark.parametrize(
    ("award", "field"),
    [
        (fixed(0), "award.points"),
        (fixed(-5), "award.points"),
        (per_amount(0, 100), "award.points"),
        (per_amount(1, 0), "award.per_amount"),
        (per_amount(1, -100), "award.per_amount"),
        (times(1), "award.multiplier"),
        (times(Fraction(1, 2)), "award.multiplier"),
        (Award(AwardKind.MULTIPLIER, multiplier=1.5), "award.multiplier"),  # type: ignore[arg-type]
        (percent_back(0), "award.percent_back_bp"),
        (percent_back(10_001), "award.percent_back_bp"),
        (Award(AwardKind.FIXED_POINTS, points=5, per_amount=-1), "award.per_amount"),
        (Award(AwardKind.FIXED_POINTS, points=5, rounding="up"), "award.rounding"),  # type: ignore[arg-type]
        (Award("bonus", points=5), "award.kind"),  # type: ignore[arg-type]
    ],
)
def test_awards_are_checked(award: Award, field: str) -> None:
    assert refused(award=award).field == field


@pytest.mark.parametrize(
    "award", [per_amount(1, 100), times(2), percent_back(100)], ids=lambda a: a.kind
)
def test_order_awards_are_refused_on_other_triggers(award: Award) -> None:
    error = refused(trigger=Trigger.SIGNUP, award=award)
    assert error.field == "award.kind"
    assert "applies only to order.paid rules" in error.detail


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"min_subtotal": 1_000}, "conditions.min_subtotal"),
        ({"lines": LineFilter(skus=("A",))}, "conditions.lines"),
        ({"first_order": True}, "conditions.first_order"),
    ],
)
def test_order_conditions_are_refused_on_other_triggers(
    conditions: dict[str, Any], field: str
) -> None:
    assert refused(trigger=Trigger.REVIEW, **conditions).field == field


@pytest.mark.parametrize(
    ("conditions", "field"),
    [
        ({"min_subtotal": -1}, "conditions.min_subtotal"),
        ({"brands": ("main", "")}, "conditions.brands.1"),
        ({"channels": "web"}, "conditions.channels"),  # a string, not a tuple
        ({"member_tags": (7,)}, "conditions.member_tags.0"),
        ({"lines": LineFilter(categories=("",))}, "conditions.lines.categories.0"),
    ],
)
def test_conditions_are_checked(conditions: dict[str, Any], field: str) -> None:
    assert refused(**conditions).field == field


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        (Schedule(active_from=APRIL_1, active_to=MARCH_1), "schedule.active_to"),
        (Schedule(active_from=MARCH_1, active_to=MARCH_1), "schedule.active_to"),
        (Schedule(active_from=datetime(2026, 3, 1)), "schedule.active_from"),
        (Schedule(active_to=datetime(2026, 3, 1)), "schedule.active_to"),
        (Schedule(days_of_week=(7,)), "schedule.days_of_week"),
        (Schedule(days_of_week=(1, 1)), "schedule.days_of_week"),
        (Schedule(hours=(17, 9)), "schedule.hours"),
        (Schedule(hours=(9, 9)), "schedule.hours"),
        (Schedule(hours=(0, 25)), "schedule.hours"),
    ],
)
def test_schedules_are_checked(schedule: Schedule, field: str) -> None:
    assert refused(schedule=schedule).field == field


@pytest.mark.parametrize(
    ("limits", "field"),
    [
        ((Limit(Period.DAY),), "limits.0"),
        ((Limit(Period.DAY, max_awards=0),), "limits.0.max_awards"),
        ((Limit(Period.DAY, 1), Limit(Period.MONTH, max_points=-1)), "limits.1.max_points"),
        ((Limit(Period.DAY, 1, per=""),), "limits.0.per"),
        ((Limit("fortnight", 1),), "limits.0.period"),  # type: ignore[arg-type]
    ],
)
def test_limits_are_checked(limits: tuple[Limit, ...], field: str) -> None:
    assert refused(limits=limits).field == field


def test_a_percent_back_rule_has_no_point_limits_or_budget() -> None:
    limit = (Limit(Period.DAY, max_points=100),)
    assert refused(award=percent_back(100), limits=limit).field == "limits.0.max_points"
    assert refused(award=percent_back(100), budget_points=100).field == "budget_points"


def test_a_valid_rule_compiles_and_keeps_its_spec() -> None:
    valid = spec("summer", award=per_amount(2, 100), lines=LineFilter(tags=("eco",)))
    compiled = compile_rule(42, 3, valid)
    assert (compiled.rule_id, compiled.version, compiled.spec) == (42, 3, valid)


def test_plain_strings_from_storage_compile() -> None:
    stored = RuleSpec(
        code="follow",
        name="Follow us",
        trigger="social.follow",  # type: ignore[arg-type]
        event_type=None,
        conditions=Conditions(),
        award=Award("fixed_points", points=5, rounding="half_up"),  # type: ignore[arg-type]
        limits=(Limit("lifetime", max_awards=1, per="network"),),  # type: ignore[arg-type]
        stacking="exclusive",  # type: ignore[arg-type]
    )
    compiled = compile_rule(1, 1, stored)
    assert compiled.match_key == (Trigger.SOCIAL_FOLLOW, None)


# -- CEL at save time --------------------------------------------------------------------


def test_a_cel_syntax_error_is_refused_with_its_position() -> None:
    error = refused(expression="event.total >")
    assert error.field == "conditions.expression"
    assert error.detail.startswith("invalid expression at line 1, column 14: Syntax error: ")


def test_a_cel_syntax_error_on_a_later_line_names_that_line() -> None:
    error = refused(expression='event.total > 100 &&\n  (member.tier == "gold"')
    assert (
        error.detail
        == "invalid expression at line 2, column 25: Syntax error: missing ')' at '<EOF>'"
    )


def test_an_empty_expression_is_refused() -> None:
    assert refused(expression="  ").field == "conditions.expression"


def test_a_variable_other_than_event_and_member_is_refused() -> None:
    error = refused(expression="order.total > 100 && customer.vip")
    assert error.field == "conditions.expression"
    assert error.detail == (
        "unknown variable 'customer', 'order': an expression may use only event and member"
    )


def test_comprehension_variables_are_not_unknown_variables() -> None:
    source = 'event.lines.exists(l, l.sku == "A") && event.lines.all(x, x.qty > 0)'
    assert compile_rule(1, 1, spec(expression=source)).expression is not None


def test_names_inside_strings_are_not_variables() -> None:
    source = "event.note == \"order.total // customer\" && event.tag != 'x.y'"
    assert compile_rule(1, 1, spec(expression=source)).expression is not None


def test_a_binder_used_outside_its_comprehension_fails_at_event_time() -> None:
    # the save-time check is textual (documented): this passes it, then never matches
    found = entry(run([rule(1, expression="[1].exists(t, t > 0) && t == 1")]), "r1")
    # the rest of the message is the CEL library's own wording
    assert found["reason"].startswith("conditions.expression: error: ")
    assert "'t'" in found["reason"]


def test_evaluation_never_compiles_cel(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled = rule(1, expression="member.visits > 2")

    def no_compile(source: str) -> None:
        raise AssertionError("compiled at event time")

    monkeypatch.setattr("cel.compile", no_compile)
    assert (
        entry(run([compiled]), "r1")["reason"]
        == "conditions.expression: error: no such key 'visits'"
    )
