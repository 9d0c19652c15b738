"""Earning rules: each condition, and CEL expressions at event time."""

from __future__ import annotations

from typing import Any

import pytest

from patron.domain.rules import LineFilter, Trigger
from tests.unit.test_rules_helpers import entry, event, line, member, order, rule, run


def reason(**conditions: Any) -> str | None:
    """The reason rule r1 with `conditions` gives for the default order and member, or
    None if it applies; `facts` and `who` may override those."""
    facts = conditions.pop("facts", order())
    who = conditions.pop("who", member())
    found = entry(run([rule(1, **conditions)], facts, who), "r1")
    assert found["applied"] is (found.get("reason") is None)
    return found.get("reason")


# -- event conditions --------------------------------------------------------------------


def test_brands() -> None:
    assert reason(brands=("main", "kids")) is None
    assert reason(brands=("kids", "outlet")) == (
        "conditions.brands: brand 'main' is not one of kids, outlet"
    )


def test_channels() -> None:
    assert reason(channels=("web",)) is None
    assert reason(channels=("app", "pos")) == (
        "conditions.channels: channel 'web' is not one of app, pos"
    )
    assert reason(channels=("app",), facts=order(channel=None)) == (
        "conditions.channels: the event has no channel (needs app)"
    )


def test_first_order() -> None:
    assert reason(first_order=True, facts=order(first_order=True)) is None
    assert reason(first_order=True) == "conditions.first_order: not the member's first order"
    assert reason(first_order=False) is None
    assert reason(first_order=False, facts=order(first_order=True)) == (
        "conditions.first_order: the member's first order"
    )


def test_min_subtotal_of_the_whole_order() -> None:
    assert reason(min_subtotal=3_000, facts=order(line("L1", 3_000))) is None
    assert reason(min_subtotal=3_000, facts=order(line("L1", 2_500))) == (
        "conditions.min_subtotal: eligible 2500 < 3000"
    )


def test_min_subtotal_of_the_matching_lines_when_lines_are_filtered() -> None:
    # the order is 5,000 but its shoes only 2,000
    facts = order(line("L1", 2_000, category="shoes"), line("L2", 3_000, category="food"))
    shoes = LineFilter(categories=("shoes",))
    assert reason(min_subtotal=2_000, lines=shoes, facts=facts) is None
    assert reason(min_subtotal=2_500, lines=shoes, facts=facts) == (
        "conditions.min_subtotal: eligible 2000 < 2500"
    )


# -- member conditions -------------------------------------------------------------------


def test_member_tags() -> None:
    assert reason(member_tags=("vip", "staff"), who=member(tags=("new", "vip"))) is None
    assert reason(member_tags=("vip", "staff"), who=member(tags=("new",))) == (
        "conditions.member_tags: member has none of vip, staff"
    )


def test_tiers() -> None:
    assert reason(tiers=("gold", "platinum"), who=member(tier="gold")) is None
    assert reason(tiers=("gold", "platinum"), who=member(tier="silver")) == (
        "conditions.tiers: tier 'silver' is not one of gold, platinum"
    )
    assert reason(tiers=("gold",)) == "conditions.tiers: member has no tier (needs gold)"


def test_segments() -> None:
    assert reason(segments=("students",), who=member(segments=("local", "students"))) is None
    assert reason(segments=("students", "staff"), who=member(segments=("local",))) == (
        "conditions.segments: member is in none of students, staff"
    )


def test_the_first_failing_condition_is_the_reason() -> None:
    assert reason(brands=("kids",), tiers=("gold",)) == (
        "conditions.brands: brand 'main' is not one of kids"
    )


# -- CEL expressions ---------------------------------------------------------------------


def test_an_expression_that_holds_matches() -> None:
    facts = order(payload={"coupon": "CLUB10"})
    assert reason(expression='event.coupon.startsWith("CLUB")', facts=facts) is None


def test_an_expression_that_is_false_does_not_match() -> None:
    facts = order(payload={"coupon": "SPRING"})
    assert reason(expression='event.coupon.startsWith("CLUB")', facts=facts) == (
        "conditions.expression: false"
    )


def test_an_expression_reads_the_member_and_its_attributes() -> None:
    who = member(tags=("vip",), tier="gold", lifetime_earned=6_000)
    expression = 'member.lifetime_earned > 5000 && "vip" in member.tags && member.tier == "gold"'
    assert reason(expression=expression, who=who) is None


def test_an_expression_reads_the_event_facts() -> None:
    expression = (
        'event.brand == "main" && event.channel == "web" && event.eligible == 10000'
        ' && event.type == "order.paid" && event.occurred_at > timestamp("2026-03-01T00:00:00Z")'
    )
    assert reason(expression=expression) is None


def test_an_expression_can_iterate_the_payload() -> None:
    facts = order(payload={"lines": [{"sku": "A"}, {"sku": "B"}]})
    assert reason(expression='event.lines.exists(l, l.sku == "B")', facts=facts) is None


def test_a_missing_field_is_a_reason_not_an_exception() -> None:
    assert reason(expression='event.coupon == "X"') == (
        "conditions.expression: error: no such key 'coupon'"
    )


def test_a_type_error_is_a_reason_not_an_exception() -> None:
    facts = order(payload={"count": "three"})
    found = reason(expression="event.count > 2", facts=facts)
    assert found is not None
    assert found.startswith("conditions.expression: error: ")


def test_a_result_that_is_not_a_bool_does_not_match() -> None:
    assert reason(expression="event.eligible") == ("conditions.expression: result is int, not bool")


def test_only_the_fields_an_expression_names_are_handed_to_cel() -> None:
    # a payload value CEL cannot convert does not matter until an expression reads it
    facts = order(payload={"total": 5_000, "blob": object()})
    assert reason(expression="event.total > 1000", facts=facts) is None
    found = reason(expression="size(event) > 0", facts=facts)
    assert found is not None
    assert found.startswith("conditions.expression: error: ")


def test_expressions_of_several_rules_share_one_context() -> None:
    rules = [
        rule(1, expression='event.coupon == "A"'),
        rule(2, expression="member.visits > 3"),
        rule(3, expression="member.visits > 30"),
    ]
    result = run(rules, order(payload={"coupon": "A"}), member(visits=5))
    assert [item.get("reason") for item in result.explanation[1:]] == [
        None,
        None,
        "conditions.expression: false",
    ]


def test_an_expression_on_a_non_order_event() -> None:
    follow = rule(1, trigger=Trigger.SOCIAL_FOLLOW, expression='event.network == "instagram"')
    assert run([follow], event(Trigger.SOCIAL_FOLLOW, payload={"network": "instagram"})).points
    assert not run([follow], event(Trigger.SOCIAL_FOLLOW, payload={"network": "x"})).points


@pytest.mark.parametrize("expression", ["true", "1 == 1"])
def test_an_expression_without_variables(expression: str) -> None:
    assert reason(expression=expression) is None
