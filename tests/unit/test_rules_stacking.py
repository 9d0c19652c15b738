"""Earning rules: evaluation order and how rules combine (stack, exclusive, best_of)."""

from __future__ import annotations

from patron.domain.calendar import Period
from patron.domain.rules import Evaluation, Limit, Stacking, UsageKey, Used
from tests.unit.test_rules_helpers import (
    entry,
    fixed,
    order,
    per_amount,
    rule,
    run,
    usage,
)

EXCLUSIVE, BEST_OF = Stacking.EXCLUSIVE, Stacking.BEST_OF


def applied(result: Evaluation) -> list[tuple[str, int]]:
    return [(award.code, award.points) for award in result.awards]


def test_stacking_rules_all_apply() -> None:
    result = run([rule(1, award=fixed(10)), rule(2, award=fixed(20)), rule(3, award=fixed(30))])
    assert applied(result) == [("r1", 10), ("r2", 20), ("r3", 30)]
    assert result.points == 160  # base 100


def test_rules_are_evaluated_by_priority_then_rule_id() -> None:
    rules = [rule(4), rule(3, priority=-1), rule(2, priority=5), rule(1), rule(5, priority=5)]
    explained = [item["rule"] for item in run(rules).explanation]
    assert explained == ["base", "r2", "r5", "r1", "r4", "r3"]


def test_an_exclusive_rule_excludes_every_rule_after_it() -> None:
    rules = [
        rule(1, award=fixed(10), priority=9),
        rule(2, "exclusive", award=fixed(50), priority=5, stacking=EXCLUSIVE),
        rule(3, award=fixed(30), priority=1),
        rule(4, award=fixed(40), priority=1, stacking=BEST_OF),
        rule(5, award=fixed(5), priority=1, brands=("kids",)),
    ]
    result = run(rules)
    assert applied(result) == [("r1", 10), ("exclusive", 50)]
    assert entry(result, "r3")["reason"] == "exclusive rule 'exclusive' applied"
    assert (entry(result, "r3")["matched"], entry(result, "r3")["points"]) == (True, 0)
    assert entry(result, "r4")["reason"] == "exclusive rule 'exclusive' applied"
    # a rule that does not match keeps its own reason
    assert entry(result, "r5")["reason"] == "conditions.brands: brand 'main' is not one of kids"


def test_the_first_exclusive_rule_wins_over_later_ones() -> None:
    rules = [
        rule(1, award=fixed(10), stacking=EXCLUSIVE, priority=1),
        rule(2, award=fixed(99), stacking=EXCLUSIVE),
    ]
    result = run(rules)
    assert applied(result) == [("r1", 10)]
    assert entry(result, "r2")["reason"] == "exclusive rule 'r1' applied"


def test_an_exclusive_rule_that_does_not_match_excludes_nothing() -> None:
    rules = [rule(1, stacking=EXCLUSIVE, priority=1, tiers=("gold",)), rule(2, award=fixed(20))]
    assert applied(run(rules)) == [("r2", 20)]


def test_an_exclusive_rule_stopped_by_its_limit_excludes_nothing() -> None:
    limit = (Limit(Period.DAY, max_awards=1),)
    rules = [rule(1, stacking=EXCLUSIVE, priority=1, limits=limit), rule(2, award=fixed(20))]
    result = run(rules, used=usage({UsageKey(1, Period.DAY, ""): Used(1, 10)}))
    assert applied(result) == [("r2", 20)]


def test_best_of_applies_only_the_rule_giving_the_most() -> None:
    rules = [
        rule(1, award=fixed(50), stacking=BEST_OF, priority=2),
        rule(2, award=per_amount(1, 100), stacking=BEST_OF),  # 100 on the default order
        rule(3, award=fixed(70), stacking=BEST_OF, priority=1),
        rule(4, award=fixed(5)),
    ]
    result = run(rules)
    assert applied(result) == [("r2", 100), ("r4", 5)]
    assert entry(result, "r1")["reason"] == "best_of: rule 'r2' gave more"
    assert entry(result, "r3")["reason"] == "best_of: rule 'r2' gave more"
    assert (entry(result, "r1")["matched"], entry(result, "r1")["points"]) == (True, 0)
    assert result.points == 205


def test_best_of_ties_go_to_the_higher_priority_then_the_lower_rule_id() -> None:
    rules = [
        rule(3, award=fixed(50), stacking=BEST_OF),
        rule(2, award=fixed(50), stacking=BEST_OF),
        rule(1, award=fixed(50), stacking=BEST_OF, priority=-1),
    ]
    result = run(rules)
    assert applied(result) == [("r2", 50)]
    assert entry(result, "r3")["reason"] == "best_of: rule 'r2' gave as much and ranks higher"


def test_best_of_compares_the_points_after_limits() -> None:
    limit = (Limit(Period.DAY, max_points=100),)
    rules = [
        rule(1, award=fixed(500), stacking=BEST_OF, limits=limit),
        rule(2, award=fixed(200), stacking=BEST_OF),
    ]
    result = run(rules, used=usage({UsageKey(1, Period.DAY, ""): Used(1, 50)}))
    assert applied(result) == [("r2", 200)]  # r1 is capped to 50


def test_a_single_best_of_rule_simply_applies() -> None:
    assert applied(run([rule(1, stacking=BEST_OF)], order())) == [("r1", 10)]
