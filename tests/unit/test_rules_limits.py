"""Earning rules: limits per member and period, budgets, and the usage windows to count."""

from __future__ import annotations

from datetime import datetime

import pytest

from patron.domain.calendar import BEGINNING, END_OF_TIME, Period
from patron.domain.rules import (
    EventFacts,
    Limit,
    RuleAward,
    Trigger,
    UsageKey,
    UsageWindow,
    Used,
    budgeted_rule_ids,
    usage_windows,
)
from tests.unit.test_rules_helpers import (
    TAIPEI,
    entry,
    event,
    fixed,
    order,
    percent_back,
    rule,
    run,
    usage,
)

DAY = UsageKey(1, Period.DAY, "")
MONTH = UsageKey(1, Period.MONTH, "")
ONCE_PER_NETWORK = (Limit(Period.LIFETIME, max_awards=1, per="network"),)


def follow(network: str | None) -> EventFacts:
    payload = {} if network is None else {"network": network}
    return event(Trigger.SOCIAL_FOLLOW, payload=payload)


# -- max awards ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "max_awards", "used", "expected"),
    [
        (Period.DAY, 1, 1, "limits.0: 1 of 1 awards today already"),
        (Period.WEEK, 2, 3, "limits.0: 3 of 2 awards this week already"),
        (Period.MONTH, 5, 5, "limits.0: 5 of 5 awards this month already"),
        (Period.QUARTER, 1, 1, "limits.0: 1 of 1 awards this quarter already"),
        (Period.YEAR, 1, 1, "limits.0: 1 of 1 awards this year already"),
        (Period.LIFETIME, 1, 1, "limits.0: 1 of 1 awards in total already"),
    ],
)
def test_a_rule_stops_at_max_awards(
    period: Period, max_awards: int, used: int, expected: str
) -> None:
    limited = rule(1, limits=(Limit(period, max_awards=max_awards),))
    counts = {UsageKey(1, period, ""): Used(awards=used, points=10 * used)}
    found = entry(run([limited], used=usage(counts)), "r1")
    assert (found["matched"], found["applied"], found["reason"]) == (True, False, expected)


def test_a_rule_under_its_limit_applies_and_names_the_keys_to_count() -> None:
    limited = rule(1, limits=(Limit(Period.DAY, max_awards=1), Limit(Period.MONTH, max_awards=5)))
    result = run([limited], used=usage({MONTH: Used(4, 40)}))
    assert result.awards == (RuleAward(1, 1, "r1", 10, 0, (DAY, MONTH)),)


def test_every_limit_must_allow_the_award() -> None:
    limited = rule(1, limits=(Limit(Period.DAY, max_awards=3), Limit(Period.MONTH, max_awards=5)))
    result = run([limited], used=usage({DAY: Used(1, 10), MONTH: Used(5, 50)}))
    assert entry(result, "r1")["reason"] == "limits.1: 5 of 5 awards this month already"


# -- per a payload field -----------------------------------------------------------------


def test_a_limit_per_network_counts_each_network_separately() -> None:
    once = rule(
        1, trigger=Trigger.SOCIAL_FOLLOW, limits=(Limit(Period.LIFETIME, 1, per="network"),)
    )
    counts = usage({UsageKey(1, Period.LIFETIME, "instagram"): Used(1, 10)})
    again = run([once], follow("instagram"), used=counts)
    assert entry(again, "r1")["reason"] == (
        "limits.0: 1 of 1 awards in total already for network 'instagram'"
    )
    first = run([once], follow("tiktok"), used=counts)
    assert first.awards == (
        RuleAward(1, 1, "r1", 10, 0, (UsageKey(1, Period.LIFETIME, "tiktok"),)),
    )


def test_a_payload_without_the_per_field_counts_under_the_empty_scope() -> None:
    once = rule(
        1, trigger=Trigger.SOCIAL_FOLLOW, limits=(Limit(Period.LIFETIME, 1, per="network"),)
    )
    assert run([once], follow(None)).awards[0].scopes == (UsageKey(1, Period.LIFETIME, ""),)


# -- max points ---------------------------------------------------------------------------


def test_max_points_cap_the_award_to_what_is_left() -> None:
    capped = rule(1, award=fixed(100), limits=(Limit(Period.MONTH, max_points=500),))
    result = run([capped], used=usage({MONTH: Used(7, 450)}))
    assert entry(result, "r1") == {
        "rule": "r1",
        "rule_id": 1,
        "version": 1,
        "matched": True,
        "applied": True,
        "points": 50,
        "store_credit": 0,
        "reason": "capped by limits.0",
        "uncapped_points": 100,
    }
    assert result.points == 150  # base 100 + 50


def test_max_points_used_up_means_not_applied() -> None:
    capped = rule(1, award=fixed(100), limits=(Limit(Period.MONTH, max_points=500),))
    result = run([capped], used=usage({MONTH: Used(9, 500)}))
    assert entry(result, "r1")["reason"] == "limits.0: 500 of 500 points this month already"
    assert result.awards == ()


def test_the_tightest_cap_is_named() -> None:
    limits = (Limit(Period.DAY, max_points=300), Limit(Period.MONTH, max_points=1_000))
    capped = rule(1, award=fixed(100), limits=limits)
    result = run([capped], used=usage({DAY: Used(1, 260), MONTH: Used(9, 980)}))
    assert (entry(result, "r1")["points"], entry(result, "r1")["reason"]) == (
        20,
        "capped by limits.1",
    )


def test_max_awards_still_count_store_credit_awards() -> None:
    cashback = rule(1, award=percent_back(100), limits=(Limit(Period.DAY, max_awards=1),))
    assert run([cashback], used=usage({DAY: Used(0, 0)})).store_credit == 100
    assert run([cashback], used=usage({DAY: Used(1, 0)})).store_credit == 0


# -- budget --------------------------------------------------------------------------------


def test_the_budget_caps_the_award_to_what_is_left() -> None:
    budgeted = rule(1, award=fixed(100), budget_points=1_000)
    result = run([budgeted], used=usage(budget={1: 950}))
    assert (entry(result, "r1")["points"], entry(result, "r1")["reason"]) == (
        50,
        "capped by budget",
    )


def test_a_spent_budget_stops_the_rule() -> None:
    budgeted = rule(1, award=fixed(100), budget_points=1_000)
    result = run([budgeted], used=usage(budget={1: 1_000}))
    assert entry(result, "r1")["reason"] == "budget: 1000 of 1000 points used"


def test_a_budget_tighter_than_the_limits_is_named() -> None:
    both = rule(1, award=fixed(100), limits=(Limit(Period.DAY, max_points=80),), budget_points=500)
    result = run([both], used=usage(budget={1: 470}))
    assert (entry(result, "r1")["points"], entry(result, "r1")["reason"]) == (
        30,
        "capped by budget",
    )


def test_budgeted_rule_ids_lists_the_considered_rules_with_a_budget() -> None:
    rules = [
        rule(1, budget_points=100),
        rule(2),
        rule(3, budget_points=100, trigger=Trigger.SIGNUP),
        rule(4, budget_points=100, priority=5),
    ]
    assert budgeted_rule_ids(rules, order()) == [4, 1]


# -- usage windows --------------------------------------------------------------------------


def test_usage_windows_are_the_periods_of_the_event_in_the_program_time_zone() -> None:
    # 2026-03-04 20:00 UTC is 2026-03-05 04:00 in Taipei
    at = datetime.fromisoformat("2026-03-04T20:00:00+00:00")
    rules = [
        rule(1, limits=(Limit(Period.DAY, max_awards=1), Limit(Period.MONTH, max_points=500))),
        rule(2, limits=(Limit(Period.LIFETIME, max_awards=1, per="network"),)),
        rule(3, trigger=Trigger.SIGNUP, limits=(Limit(Period.DAY, max_awards=1),)),
    ]
    windows = usage_windows(rules, order(at=at, payload={"network": "x"}), TAIPEI)
    assert windows == [
        UsageWindow(
            UsageKey(1, Period.DAY, ""),
            datetime.fromisoformat("2026-03-04T16:00:00+00:00"),
            datetime.fromisoformat("2026-03-05T16:00:00+00:00"),
        ),
        UsageWindow(
            UsageKey(1, Period.MONTH, ""),
            datetime.fromisoformat("2026-02-28T16:00:00+00:00"),
            datetime.fromisoformat("2026-03-31T16:00:00+00:00"),
        ),
        UsageWindow(UsageKey(2, Period.LIFETIME, "x"), BEGINNING, END_OF_TIME),
    ]


def test_usage_windows_follow_the_evaluation_order_and_list_a_key_once() -> None:
    rules = [
        rule(1, limits=(Limit(Period.DAY, max_awards=1), Limit(Period.DAY, max_points=50))),
        rule(2, priority=1, limits=(Limit(Period.WEEK, max_awards=1),)),
        rule(3, active=False, limits=(Limit(Period.DAY, max_awards=1),)),
    ]
    keys = [window.key for window in usage_windows(rules, order(), TAIPEI)]
    assert keys == [UsageKey(2, Period.WEEK, ""), UsageKey(1, Period.DAY, "")]
