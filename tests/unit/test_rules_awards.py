"""Earning rules: what each award kind gives, line filters, tier and chosen-day multipliers,
and the shape of the result."""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from fractions import Fraction

import pytest

from patron.domain.rounding import Rounding
from patron.domain.rules import LineFilter, RuleAward, RuleSet, Trigger
from patron.domain.rules.evaluation import fraction_text
from tests.unit.test_rules_helpers import (
    TAIPEI,
    UTC_ZONE,
    entry,
    event,
    fixed,
    line,
    member,
    order,
    per_amount,
    percent_back,
    rule,
    run,
    times,
)

# An order of three lines: shoes (eco), a shirt, a book (eco).
SHOES = line("L1", 4_000, sku="S-1", category="shoes", tags=("eco",))
SHIRT = line("L2", 2_500, sku="T-9", category="shirts")
BOOK = line("L3", 1_000, sku="B-3", category="books", tags=("eco", "gift"))
BASKET = order(SHOES, SHIRT, BOOK)  # eligible 7500, base 75


# -- base and fixed points ------------------------------------------------------------------


def test_an_order_explains_its_base_earning_first() -> None:
    result = run([rule(1, award=fixed(50))], BASKET)
    assert result.points == 125
    assert result.explanation[0] == {"rule": "base", "points": 75}
    assert entry(result, "r1") == {
        "rule": "r1",
        "rule_id": 1,
        "version": 1,
        "matched": True,
        "applied": True,
        "points": 50,
        "store_credit": 0,
    }


def test_fixed_points_on_a_non_order_event_have_no_base() -> None:
    signup = rule(7, trigger=Trigger.SIGNUP, award=fixed(200), version=3)
    result = run([signup], event(Trigger.SIGNUP))
    assert result.points == 200
    assert result.awards == (RuleAward(7, 3, "r7", 200, 0, ()),)
    assert [item["rule"] for item in result.explanation] == ["r7"]


def test_rules_of_other_triggers_are_not_explained() -> None:
    # given rules for three triggers
    rules = [
        rule(1, award=fixed(5)),
        rule(2, trigger=Trigger.REVIEW, award=fixed(20)),
        rule(3, trigger=Trigger.SIGNUP, award=fixed(100)),
    ]
    # when a review is written, only the review rule is considered
    result = run(rules, event(Trigger.REVIEW))
    assert result.points == 20
    assert [item["rule"] for item in result.explanation] == ["r2"]


def test_custom_rules_listen_to_their_own_event_type() -> None:
    quiz = rule(1, trigger=Trigger.CUSTOM, event_type="quiz.completed", award=fixed(30))
    poll = rule(2, trigger=Trigger.CUSTOM, event_type="poll.answered", award=fixed(5))
    result = run([quiz, poll], event(Trigger.CUSTOM, event_type="quiz.completed"))
    assert result.points == 30
    assert [item["rule"] for item in result.explanation] == ["r1"]


def test_inactive_rules_are_ignored() -> None:
    result = run([rule(1, award=fixed(50), active=False)], BASKET)
    assert result.points == 75
    assert result.explanation == [{"rule": "base", "points": 75}]


# -- points per amount and line filters -------------------------------------------------


@pytest.mark.parametrize(
    ("rounding", "points"),
    [(Rounding.FLOOR, 246), (Rounding.HALF_UP, 247), (Rounding.CEIL, 247)],
)
def test_points_per_amount_of_the_whole_order_round_as_configured(
    rounding: Rounding, points: int
) -> None:
    # 2 points per 100 of 12,345 is 246.9
    facts = order(line("L1", 12_345), base=0)
    result = run([rule(1, award=per_amount(2, 100, rounding))], facts)
    assert result.points == points


def test_points_per_amount_count_the_whole_eligible_amount_without_a_line_filter() -> None:
    # eligible includes shipping the program counts (8,000 vs 7,500 of lines)
    facts = order(SHOES, SHIRT, BOOK, eligible=8_000, base=0)
    assert run([rule(1, award=per_amount(1, 100))], facts).points == 80


@pytest.mark.parametrize(
    ("line_filter", "eligible"),
    [
        (LineFilter(skus=("S-1",)), 4_000),
        (LineFilter(categories=("shirts", "books")), 3_500),
        (LineFilter(tags=("eco",)), 5_000),
        (LineFilter(skus=("T-9",), tags=("gift",)), 3_500),  # any list may match
        (LineFilter(), 7_500),  # an empty filter matches every line
    ],
)
def test_points_per_amount_count_only_the_matching_lines(
    line_filter: LineFilter, eligible: int
) -> None:
    # 3 points per 100 of the matching lines
    result = run([rule(1, award=per_amount(3, 100), lines=line_filter)], BASKET)
    assert entry(result, "r1")["points"] == eligible * 3 // 100


def test_a_line_filter_matching_no_line_does_not_match() -> None:
    result = run([rule(1, lines=LineFilter(categories=("toys",)))], BASKET)
    assert entry(result, "r1")["matched"] is False
    assert entry(result, "r1")["reason"] == "conditions.lines: no line matches"


def test_an_award_of_nothing_is_matched_but_not_applied() -> None:
    facts = order(line("L1", 99), base=0)
    result = run([rule(1, award=per_amount(1, 100))], facts)
    assert entry(result, "r1")["matched"] is True
    assert entry(result, "r1")["applied"] is False
    assert entry(result, "r1")["reason"] == "award: nothing to give for eligible 99"
    assert result.awards == ()


# -- multipliers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("multiplier", "extra"), [(Fraction(2), 75), (Fraction(3), 150), (Fraction(3, 2), 37)]
)
def test_a_multiplier_adds_the_base_times_m_minus_one(multiplier: Fraction, extra: int) -> None:
    result = run([rule(1, award=times(multiplier))], BASKET)  # base 75
    assert entry(result, "r1")["points"] == extra
    assert result.points == 75 + extra


def test_a_multiplier_with_a_line_filter_multiplies_only_those_lines_share_of_the_base() -> None:
    # base 75 over 7,500 eligible; the shoes are 4,000 of it: their share is 40
    result = run([rule(1, award=times(3), lines=LineFilter(categories=("shoes",)))], BASKET)
    assert entry(result, "r1")["points"] == 80


def test_a_multiplier_on_an_order_without_base_points_gives_nothing() -> None:
    result = run([rule(1, award=times(2))], order(base=0))
    assert entry(result, "r1")["reason"] == "award: nothing to give for eligible 10000"


# -- percent back ------------------------------------------------------------------------


def test_percent_back_is_store_credit_of_the_matching_lines_floored() -> None:
    # 2% of 4,575 is 91.5
    facts = order(line("L1", 4_575, category="shoes"), line("L2", 9_000, category="food"))
    result = run([rule(1, award=percent_back(200), lines=LineFilter(categories=("shoes",)))], facts)
    assert result.store_credit == 91
    assert result.points == 135  # the base only
    assert entry(result, "r1")["points"] == 0
    assert entry(result, "r1")["store_credit"] == 91
    assert result.awards == (RuleAward(1, 1, "r1", 0, 91, ()),)


def test_percent_back_of_the_whole_order_without_a_filter() -> None:
    assert run([rule(1, award=percent_back(10_000))], BASKET).store_credit == 7_500


# -- tier and chosen day ----------------------------------------------------------------


def test_the_tier_multiplier_adds_to_the_base_only() -> None:
    gold = member(tier="gold", tier_multiplier=Fraction(3, 2))
    result = run([rule(1, award=fixed(50))], order(base=100), gold)
    assert result.explanation[:2] == [
        {"rule": "base", "points": 100},
        {"rule": "tier", "tier": "gold", "multiplier": "1.5", "points": 50},
    ]
    assert result.points == 200


def test_the_tier_share_is_rounded_with_the_base_rounding() -> None:
    # 101 x 4/3 = 134.67: floor adds 33, half-up adds 34
    who = member(tier="silver", tier_multiplier=Fraction(4, 3))
    floor = run([], order(base=101), who)
    half_up = run([], order(base=101), who, base_rounding=Rounding.HALF_UP)
    assert floor.explanation[1] == {
        "rule": "tier",
        "tier": "silver",
        "multiplier": "4/3",
        "points": 33,
    }
    assert (floor.points, half_up.points) == (134, 135)


def test_no_tier_entry_when_the_tier_does_not_multiply() -> None:
    result = run([], order(base=100), member(tier="basic"))
    assert result.explanation == [{"rule": "base", "points": 100}]


def test_the_chosen_day_triples_every_point_of_the_event() -> None:
    # base 100 + tier 50 + rule 50 = 200, tripled: 400 more
    who = member(
        tier="gold",
        tier_multiplier=Fraction(3, 2),
        chosen_day=date(2026, 3, 4),
        chosen_day_multiplier=Fraction(3),
    )
    rules = [rule(1, award=fixed(50)), rule(2, award=percent_back(100))]
    result = run(rules, order(base=100), who)
    assert result.explanation[-1] == {"rule": "chosen_day", "multiplier": "3", "points": 400}
    assert result.points == 600
    assert result.store_credit == 100  # store credit is not multiplied


def test_the_chosen_day_is_the_local_date_of_the_event() -> None:
    # 2026-03-04 17:00 UTC is already 2026-03-05 01:00 in Taipei
    at = datetime.fromisoformat("2026-03-04T17:00:00+00:00")
    who = member(chosen_day=date(2026, 3, 5), chosen_day_multiplier=Fraction(2))
    assert run([], order(base=100, at=at), who, tz=TAIPEI).points == 200
    assert run([], order(base=100, at=at), who, tz=UTC_ZONE).points == 100


def test_the_chosen_day_applies_to_non_order_events_too() -> None:
    who = member(chosen_day=date(2026, 3, 4), chosen_day_multiplier=Fraction(2))
    signup = rule(1, trigger=Trigger.SIGNUP, award=fixed(100))
    assert run([signup], event(Trigger.SIGNUP), who).points == 200


# -- the result ------------------------------------------------------------------------


def test_the_explanation_is_plain_json() -> None:
    who = member(
        tier="gold",
        tier_multiplier=Fraction(5, 4),
        chosen_day=date(2026, 3, 4),
        chosen_day_multiplier=Fraction(2),
    )
    rules = [rule(1, award=times(2)), rule(2, award=fixed(5), brands=("other",))]
    result = run(rules, BASKET, who)
    assert json.loads(json.dumps(result.explanation)) == result.explanation
    for item in result.explanation:
        assert all(type(value) in (str, int, bool) for value in item.values())


def test_evaluation_is_deterministic_whatever_the_order_of_the_rules() -> None:
    rules = [
        rule(index, award=fixed(index), priority=index % 3, lines=LineFilter(tags=("eco",)))
        for index in range(1, 9)
    ]
    shuffled = rules[:]
    random.Random(7).shuffle(shuffled)
    assert run(rules, BASKET) == run(shuffled, BASKET) == run(RuleSet(shuffled), BASKET)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(3), "3"),
        (Fraction(3, 2), "1.5"),
        (Fraction(5, 4), "1.25"),
        (Fraction(1, 8), "0.125"),
        (Fraction(4, 3), "4/3"),
        (Fraction(-1, 2), "-0.5"),
    ],
)
def test_multipliers_are_explained_as_exact_text(value: Fraction, text: str) -> None:
    assert fraction_text(value) == text
