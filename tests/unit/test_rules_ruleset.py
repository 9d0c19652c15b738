"""Earning rules: a RuleSet is a sequence of compiled rules that plans once per trigger."""

from __future__ import annotations

from patron.domain.rules import RuleSet, Trigger, considered
from tests.unit.test_rules_helpers import event, order, rule, run


def test_a_rule_set_is_a_sequence_of_its_rules() -> None:
    rules = [rule(1), rule(2), rule(3)]
    rule_set = RuleSet(rules)
    assert (len(rule_set), rule_set[0], rule_set[1:], list(rule_set)) == (
        3,
        rules[0],
        tuple(rules[1:]),
        rules,
    )


def test_a_rule_set_considers_the_same_rules_as_a_list() -> None:
    rules = [
        rule(1, priority=1),
        rule(2, trigger=Trigger.SIGNUP),
        rule(3, priority=2),
        rule(4, active=False),
    ]
    rule_set = RuleSet(rules)
    for facts in (order(), event(Trigger.SIGNUP), event(Trigger.REVIEW)):
        assert considered(rule_set, facts) == considered(rules, facts)
    assert [found.rule_id for found in considered(rule_set, order())] == [3, 1]


def test_a_rule_set_plans_each_custom_event_type_apart() -> None:
    rule_set = RuleSet(
        [
            rule(1, trigger=Trigger.CUSTOM, event_type="quiz.completed", expression="true"),
            rule(2, trigger=Trigger.CUSTOM, event_type="poll.answered"),
        ]
    )
    quiz = event(Trigger.CUSTOM, event_type="quiz.completed")
    poll = event(Trigger.CUSTOM, event_type="poll.answered")
    assert [found.rule_id for found in considered(rule_set, quiz)] == [1]
    assert [found.rule_id for found in considered(rule_set, poll)] == [2]
    assert run(rule_set, quiz).points == run(rule_set, poll).points == 10


def test_many_unknown_custom_event_types_still_evaluate() -> None:
    rule_set = RuleSet([rule(1, trigger=Trigger.CUSTOM, event_type="quiz.completed")])
    for index in range(300):
        assert run(rule_set, event(Trigger.CUSTOM, event_type=f"spam.{index}")).points == 0
    assert run(rule_set, event(Trigger.CUSTOM, event_type="quiz.completed")).points == 10
