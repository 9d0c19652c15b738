"""Earning-rules benchmark: `evaluate` in process, on one core (a benchmark, not a test).

    .venv/bin/python bench/rules.py                # ~5 s measured
    .venv/bin/python bench/rules.py --seconds 2 --events 2000

It compiles 20 `order.paid` rules of mixed kinds (line filters, schedules, limits, a
budget, CEL expressions, multipliers, fixed points, percent back, the three stacking
modes), generates varied synthetic paid orders, members and usage counts (nothing is
measured during set-up), evaluates every event once to warm up, then evaluates them in a
loop for the given time. No database, no I/O: this is the pure engine's cost per event.

The last line printed is one JSON object with the result and the target (20,000 order
events per second with 20 active rules).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from importlib.metadata import version
from zoneinfo import ZoneInfo

from patron.domain.calendar import Period
from patron.domain.rules import (
    Award,
    AwardKind,
    CompiledRule,
    Conditions,
    EventFacts,
    Limit,
    LineFacts,
    LineFilter,
    MemberFacts,
    OrderFacts,
    RuleSet,
    RuleSpec,
    Schedule,
    Stacking,
    Trigger,
    Usage,
    Used,
    compile_rule,
    evaluate,
    usage_windows,
)

TARGET = 20_000
TZ = ZoneInfo("America/New_York")
START = datetime(2026, 3, 1, tzinfo=UTC)
SKUS = [f"SKU-{n}" for n in range(40)]
CATEGORIES = ["shoes", "shirts", "electronics", "books", "toys", "food"]
TAGS = ["eco", "sale", "new", "gift", "bulk"]
TIERS = [None, "silver", "gold", "platinum"]
SEGMENTS = ["students", "local", "staff", "wholesale"]
MEMBER_TAGS = ["vip", "newsletter", "app", "reviewer"]


def fixed(points: int) -> Award:
    return Award(AwardKind.FIXED_POINTS, points=points)


def per_amount(points: int, amount: int) -> Award:
    return Award(AwardKind.POINTS_PER_AMOUNT, points=points, per_amount=amount)


def times(multiplier: Fraction) -> Award:
    return Award(AwardKind.MULTIPLIER, multiplier=multiplier)


def specs() -> list[RuleSpec]:
    """20 order rules, roughly what a busy program runs at once."""
    C = Conditions  # noqa: N806 - short local alias keeps the table readable
    rules = [
        ("shoes-x2", C(lines=LineFilter(categories=("shoes",))), per_amount(2, 100), {}),
        ("eco-bonus", C(lines=LineFilter(tags=("eco",))), per_amount(1, 200), {}),
        ("sku-triple", C(lines=LineFilter(skus=tuple(SKUS[:5]))), times(Fraction(3)), {}),
        ("welcome-order", C(first_order=True), fixed(200), {}),
        ("big-basket", C(min_subtotal=15_000), fixed(150), {}),
        (
            "gadget-cashback",
            C(lines=LineFilter(categories=("electronics",))),
            Award(AwardKind.PERCENT_BACK, percent_back_bp=200),
            {},
        ),
        ("gold-boost", C(tiers=("gold", "platinum")), times(Fraction(3, 2)), {}),
        ("weekend", C(), fixed(25), {"schedule": Schedule(days_of_week=(5, 6))}),
        ("happy-hour", C(), fixed(15), {"schedule": Schedule(hours=(17, 20))}),
        (
            "loyal-big-spender",
            C(expression="member.lifetime_earned >= 5000 && event.total >= 8000"),
            fixed(75),
            {},
        ),
        (
            "coupon-club",
            C(
                channels=("web", "app"),
                expression='has(event.coupon) && event.coupon.startsWith("CLUB")',
            ),
            fixed(40),
            {},
        ),
        (
            "daily-visit",
            C(),
            fixed(10),
            {"limits": (Limit(Period.DAY, max_awards=1),)},
        ),
        (
            "monthly-books",
            C(lines=LineFilter(categories=("books",))),
            per_amount(3, 100),
            {"limits": (Limit(Period.MONTH, max_points=500),)},
        ),
        ("sponsored", C(brands=("main",)), fixed(5), {"budget_points": 1_000_000}),
        ("best-a", C(member_tags=("vip",)), fixed(60), {"stacking": Stacking.BEST_OF}),
        ("best-b", C(min_subtotal=5_000), per_amount(1, 100), {"stacking": Stacking.BEST_OF}),
        (
            "staff-only",
            C(segments=("staff",)),
            fixed(1),
            {"stacking": Stacking.EXCLUSIVE, "priority": -1},
        ),
        ("app-orders", C(channels=("app",)), times(Fraction(2)), {"priority": 5}),
        (
            "spring-promo",
            C(),
            fixed(30),
            {
                "schedule": Schedule(
                    active_from=START + timedelta(days=10), active_to=START + timedelta(days=20)
                )
            },
        ),
        (
            "student-lifetime",
            C(segments=("students",)),
            fixed(300),
            {"limits": (Limit(Period.LIFETIME, max_awards=1), Limit(Period.YEAR, max_points=300))},
        ),
    ]
    return [
        RuleSpec(
            code=code,
            name=code.replace("-", " "),
            trigger=Trigger.ORDER_PAID,
            event_type=None,
            conditions=conditions,
            award=award,
            **extra,  # type: ignore[arg-type]
        )
        for code, conditions, award, extra in rules
    ]


def line(rng: random.Random, index: int) -> LineFacts:
    return LineFacts(
        line_id=str(index),
        sku=rng.choice(SKUS),
        category=rng.choice(CATEGORIES),
        tags=tuple(rng.sample(TAGS, rng.randint(0, 2))),
        eligible=rng.randint(300, 9_000),
    )


def event(rng: random.Random, number: int) -> EventFacts:
    lines = tuple(line(rng, index) for index in range(rng.randint(1, 6)))
    eligible = sum(item.eligible for item in lines)
    occurred_at = START + timedelta(seconds=rng.randint(0, 30 * 86_400))
    payload: dict[str, object] = {
        "order_id": f"ord-{number}",
        "currency": "USD",
        "total": eligible + 500,
        "lines": [
            {"id": item.line_id, "sku": item.sku, "price": item.eligible, "quantity": 1}
            for item in lines
        ],
        "customer": {"id": f"cust-{number % 997}", "email": f"c{number}@example.com"},
    }
    if rng.random() < 0.3:
        payload["coupon"] = rng.choice(["CLUB10", "CLUB20", "SPRING", "WELCOME"])
    return EventFacts(
        trigger=Trigger.ORDER_PAID,
        event_type=None,
        occurred_at=occurred_at,
        brand=rng.choice(["main", "main", "outlet"]),
        channel=rng.choice(["web", "app", "pos", None]),
        payload=payload,
        order=OrderFacts(
            lines=lines,
            eligible=eligible,
            base_points=eligible // 100,
            first_order=rng.random() < 0.1,
            total=eligible + 500,
        ),
    )


def member(rng: random.Random, occurred_at: datetime) -> MemberFacts:
    tier = rng.choice(TIERS)
    chosen: date | None = None
    if rng.random() < 0.2:
        chosen = occurred_at.astimezone(TZ).date() + timedelta(days=rng.choice([0, 1]))
    return MemberFacts(
        tags=tuple(rng.sample(MEMBER_TAGS, rng.randint(0, 2))),
        tier=tier,
        segments=tuple(rng.sample(SEGMENTS, rng.randint(0, 1))),
        tier_multiplier={None: Fraction(1), "silver": Fraction(1), "gold": Fraction(5, 4)}.get(
            tier, Fraction(3, 2)
        ),
        chosen_day=chosen,
        chosen_day_multiplier=Fraction(3) if chosen else Fraction(1),
        attributes={
            "lifetime_earned": rng.randint(0, 20_000),
            "enrolled_at": "2024-05-01T00:00:00Z",
            "birthday": "1990-04-02",
        },
    )


def usage(rng: random.Random, rules: Sequence[CompiledRule], facts: EventFacts) -> Usage:
    counts = {}
    for window in usage_windows(rules, facts, TZ):
        if rng.random() < 0.5:
            counts[window.key] = Used(awards=rng.randint(0, 2), points=rng.randint(0, 600))
    return Usage(counts=counts, budget_used={rule.rule_id: 10_000 for rule in rules})


def workload(
    count: int, rules: Sequence[CompiledRule]
) -> list[tuple[EventFacts, MemberFacts, Usage]]:
    rng = random.Random(20260301)
    cases = []
    for number in range(count):
        facts = event(rng, number)
        cases.append((facts, member(rng, facts.occurred_at), usage(rng, rules, facts)))
    return cases


def conditions(rules: Sequence[CompiledRule], events: int) -> list[str]:
    kinds = Counter(rule.spec.award.kind.value for rule in rules)
    stacking = Counter(rule.stacking.value for rule in rules)
    features = {
        "line filters": sum(rule.line_filter is not None for rule in rules),
        "CEL expressions": sum(rule.expression is not None for rule in rules),
        "schedules": sum(rule.spec.schedule != Schedule() for rule in rules),
        "limits": sum(bool(rule.limits) for rule in rules),
        "budgets": sum(rule.budget_points is not None for rule in rules),
    }
    return [
        f"python {platform.python_version()} ({platform.python_implementation()}), "
        f"common-expression-language {version('common-expression-language')}, "
        f"{platform.machine()}, one core",
        f"rules: {len(rules)} active order.paid rules, "
        f"passed as {'a plain list' if isinstance(rules, list) else 'a RuleSet'}; kinds: "
        + ", ".join(f"{kind} {count}" for kind, count in sorted(kinds.items())),
        "stacking: " + ", ".join(f"{mode} {count}" for mode, count in sorted(stacking.items())),
        "with: " + ", ".join(f"{name} {count}" for name, count in features.items()),
        f"events: {events} distinct synthetic paid orders (1-6 lines), members and usage",
    ]


def run(
    cases: list[tuple[EventFacts, MemberFacts, Usage]],
    rules: Sequence[CompiledRule],
    seconds: float,
) -> tuple[int, float, float, list[float]]:
    """Evaluate the cases round-robin for about `seconds`, timed per pass over the cases:
    (events, elapsed seconds, CPU seconds, events/s of each pass)."""
    done = 0
    rates = []
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + seconds
    while True:
        before = time.perf_counter()
        for facts, who, used in cases:
            evaluate(rules, facts, who, used, TZ)
        now = time.perf_counter()
        done += len(cases)
        rates.append(len(cases) / (now - before))
        if now >= deadline:
            return done, now - started, time.process_time() - cpu_started, rates


def exercised(
    rules: Sequence[CompiledRule], cases: list[tuple[EventFacts, MemberFacts, Usage]]
) -> str:
    """What the workload makes the rules do (one evaluation of every case)."""
    cel_codes = {rule.code for rule in rules if rule.expression is not None}
    results = [evaluate(rules, facts, who, used, TZ) for facts, who, used in cases]
    applied = sum(len(result.awards) for result in results) / len(results)
    ran_cel = sum(
        any(
            item["rule"] in cel_codes
            and (item["matched"] or item["reason"].startswith("conditions.expression"))
            for item in result.explanation
        )
        for result in results
    )
    return (
        f"per event: {applied:.1f} of {len(rules)} rules applied on average; "
        f"CEL evaluated in {ran_cel / len(results):.0%} of events"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured time (5)")
    parser.add_argument("--events", type=int, default=4_000, help="distinct events (4000)")
    parser.add_argument(
        "--list", action="store_true", help="pass the rules as a plain list, not a RuleSet"
    )
    options = parser.parse_args()

    compiled = [compile_rule(index + 1, 1, spec) for index, spec in enumerate(specs())]
    rules: Sequence[CompiledRule] = compiled if options.list else RuleSet(compiled)
    cases = workload(options.events, rules)
    for line_text in conditions(rules, len(cases)):
        print(line_text)
    print(exercised(rules, cases))  # also the warm-up
    # What set-up made lives as long as the run: keep the collector from re-scanning it,
    # as a server's long-lived objects (compiled rules, caches) sit in the oldest generation.
    gc.collect()
    gc.freeze()
    load = os.getloadavg()[0]
    events, elapsed, cpu, rates = run(cases, rules, options.seconds)
    rate = events / elapsed
    print(
        f"{events} events in {elapsed:.2f} s: {rate:,.0f} events/s, {1e6 / rate:.1f} µs/event; "
        f"per CPU second {events / cpu:,.0f}; passes of {len(cases)}: median "
        f"{statistics.median(rates):,.0f}/s, best {max(rates):,.0f}/s, worst {min(rates):,.0f}/s"
    )
    print(f"load average before the run: {load:.2f} on {os.cpu_count()} CPUs")
    print(
        json.dumps(
            {
                "bench": "rules",
                "events_per_s": round(rate),
                "us_per_event": round(1e6 / rate, 1),
                "cpu_events_per_s": round(events / cpu),
                "median_pass_events_per_s": round(statistics.median(rates)),
                "best_pass_events_per_s": round(max(rates)),
                "rules": len(rules),
                "rule_set": isinstance(rules, RuleSet),
                "events": len(cases),
                "python": platform.python_version(),
                "load_average": round(load, 2),
                "target": TARGET,
                "met": rate >= TARGET,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
