"""Builders shared by the `test_rules_*` modules (this module holds no tests).

Defaults make the smallest valid thing: an `order.paid` rule giving 10 fixed points, a
paid order at T0 (a Wednesday, noon UTC) of one line, a member with no tags or tier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from fractions import Fraction
from typing import Any
from zoneinfo import ZoneInfo

from patron.domain.rounding import Rounding
from patron.domain.rules import (
    Award,
    AwardKind,
    CompiledRule,
    Conditions,
    Evaluation,
    EventFacts,
    Limit,
    LineFacts,
    MemberFacts,
    OrderFacts,
    RuleSpec,
    Schedule,
    Stacking,
    Trigger,
    Usage,
    UsageKey,
    Used,
    compile_rule,
    evaluate,
)

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # Wednesday
UTC_ZONE = ZoneInfo("UTC")
TAIPEI = ZoneInfo("Asia/Taipei")
NEW_YORK = ZoneInfo("America/New_York")


def fixed(points: int) -> Award:
    return Award(AwardKind.FIXED_POINTS, points=points)


def per_amount(points: int, amount: int, rounding: Rounding = Rounding.FLOOR) -> Award:
    return Award(AwardKind.POINTS_PER_AMOUNT, points=points, per_amount=amount, rounding=rounding)


def times(multiplier: Fraction | int) -> Award:
    return Award(AwardKind.MULTIPLIER, multiplier=Fraction(multiplier))


def percent_back(basis_points: int) -> Award:
    return Award(AwardKind.PERCENT_BACK, percent_back_bp=basis_points)


def spec(
    code: str = "r",
    *,
    trigger: Trigger = Trigger.ORDER_PAID,
    event_type: str | None = None,
    award: Award | None = None,
    limits: tuple[Limit, ...] = (),
    budget_points: int | None = None,
    schedule: Schedule | None = None,
    priority: int = 0,
    stacking: Stacking = Stacking.STACK,
    active: bool = True,
    **conditions: Any,
) -> RuleSpec:
    """A rule spec; keyword arguments not named here are `Conditions` fields."""
    return RuleSpec(
        code=code,
        name=f"rule {code}",
        trigger=trigger,
        event_type=event_type,
        conditions=Conditions(**conditions),
        award=award or fixed(10),
        limits=limits,
        budget_points=budget_points,
        schedule=schedule or Schedule(),
        priority=priority,
        stacking=stacking,
        active=active,
    )


def rule(rule_id: int = 1, code: str | None = None, *, version: int = 1, **kw: Any) -> CompiledRule:
    """A compiled rule; `code` defaults to "r<rule_id>"."""
    return compile_rule(rule_id, version, spec(code or f"r{rule_id}", **kw))


def line(
    line_id: str,
    eligible: int,
    *,
    sku: str | None = None,
    category: str | None = None,
    tags: tuple[str, ...] = (),
) -> LineFacts:
    return LineFacts(line_id, sku, category, tags, eligible)


def order(
    *lines: LineFacts,
    eligible: int | None = None,
    base: int | None = None,
    first_order: bool = False,
    at: datetime = T0,
    brand: str = "main",
    channel: str | None = "web",
    payload: Mapping[str, Any] | None = None,
) -> EventFacts:
    """A paid order; `eligible` defaults to the lines' sum, `base` to 1 point per 100."""
    lines = lines or (line("L1", 10_000),)
    amount = sum(item.eligible for item in lines) if eligible is None else eligible
    return EventFacts(
        trigger=Trigger.ORDER_PAID,
        event_type=None,
        occurred_at=at,
        brand=brand,
        channel=channel,
        payload=payload or {},
        order=OrderFacts(
            lines=tuple(lines),
            eligible=amount,
            base_points=amount // 100 if base is None else base,
            first_order=first_order,
            total=amount,
        ),
    )


def event(
    trigger: Trigger,
    *,
    event_type: str | None = None,
    at: datetime = T0,
    brand: str = "main",
    channel: str | None = None,
    payload: Mapping[str, Any] | None = None,
) -> EventFacts:
    return EventFacts(trigger, event_type, at, brand, channel, payload or {})


def member(
    *,
    tags: tuple[str, ...] = (),
    tier: str | None = None,
    segments: tuple[str, ...] = (),
    tier_multiplier: Fraction = Fraction(1),
    chosen_day: date | None = None,
    chosen_day_multiplier: Fraction = Fraction(1),
    **attributes: Any,
) -> MemberFacts:
    return MemberFacts(
        tags=tags,
        tier=tier,
        segments=segments,
        tier_multiplier=tier_multiplier,
        chosen_day=chosen_day,
        chosen_day_multiplier=chosen_day_multiplier,
        attributes=attributes,
    )


def usage(
    counts: Mapping[UsageKey, Used] | None = None, budget: Mapping[int, int] | None = None
) -> Usage:
    return Usage(counts=counts or {}, budget_used=budget or {})


def run(
    rules: Sequence[CompiledRule],
    facts: EventFacts | None = None,
    who: MemberFacts | None = None,
    used: Usage | None = None,
    tz: ZoneInfo = UTC_ZONE,
    **kw: Any,
) -> Evaluation:
    return evaluate(rules, facts or order(), who or member(), used or usage(), tz, **kw)


def entry(evaluation: Evaluation, code: str) -> dict[str, Any]:
    """The explanation entry of the rule `code` (exactly one must exist)."""
    found = [item for item in evaluation.explanation if item["rule"] == code]
    assert len(found) == 1, evaluation.explanation
    return found[0]
