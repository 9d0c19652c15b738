"""`evaluate`: what an event earns under the program's compiled rules, and why.

Which rules are considered: active rules of the event's trigger (and, for custom events,
of its event type). Rules of other triggers are ignored silently; every considered rule
gets an explanation entry, matched or not. They are evaluated by priority, highest first,
then by rule id, so the result is the same whatever order the caller passes them in.

One rule, in this order (the first failure is the reason given):

1. schedule, then the event and member conditions (brands, channels, first order, member
   tags, tiers, segments), then the line filter and minimum subtotal, then the CEL
   expression. Failing any: `matched` false.
2. the award, from the eligible amount (of the matching lines if the rule filters lines,
   else of the whole order). Nothing to give: matched but not applied.
3. limits, in order: a limit whose `max_awards` is reached stops the rule; `max_points`
   caps the points to what is left ("capped by limits.N"), nothing left stops it. Then the
   budget (all members) the same way ("capped by budget").
4. stacking, among the rules that would give something:

   * STACK rules all apply.
   * EXCLUSIVE: the first exclusive rule that would give something applies, and every rule
     after it in evaluation order (any stacking) is not applied ("exclusive rule 'x'
     applied"); rules before it stand. An exclusive rule stopped by its limits, or that
     does not match, excludes nothing. Excluded rules are still evaluated, so the
     explanation shows whether they matched.
   * BEST_OF: of the best_of rules not excluded, only the one giving the most points (then
     store credit) applies; ties go to the higher rule in evaluation order. The others:
     "best_of: rule 'y' gave more" (or "... gave as much and ranks higher").

Points: for `order.paid` the base earning (`order.base_points`) comes first, then the
member's tier multiplier adds base x (m - 1), and its membership plans' multiplier adds
base x (p - 1); then the rules. On the member's chosen day
(the event's local date) the total of base, tier and rules is multiplied. Store credit is
never multiplied. Fractions are rounded with `base_rounding` for the base, tier and chosen
day, and with each rule's own rounding for its award.

The explanation is a list of JSON-ready dicts: {"rule": "base", "points"}, then {"rule":
"tier", "tier", "multiplier", "points"} if the tier multiplies, {"rule": "plan", "plans",
"multiplier", "points"} if the member's plans do, then one entry per
considered rule {"rule": code, "rule_id", "version", "matched", "applied", "points",
"store_credit"} plus "reason" when it gives nothing or is capped (and "uncapped_points"
when capped), then {"rule": "chosen_day", "multiplier", "points"}. Multipliers are exact
text ("1.5", "4/3").

Usage: `usage_windows` names the counts a caller fetches before evaluating (limits count
the member's awards in the period containing the event, per scope), `budgeted_rule_ids`
the budgets; afterwards the caller records each `RuleAward` under its `scopes`.

Nothing here raises for an event: a failing CEL expression is a reason, not an error.
Pass a `RuleSet` rather than a list to plan once per trigger instead of once per event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from functools import lru_cache
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from patron.domain.calendar import Period, period_window
from patron.domain.rounding import Rounding
from patron.domain.rules.compiler import CompiledLimit, CompiledRule, divider
from patron.domain.rules.expression import run_expression
from patron.domain.rules.facts import (
    UNUSED,
    EventFacts,
    MemberFacts,
    Usage,
    UsageKey,
    UsageWindow,
)
from patron.domain.rules.model import Stacking, Trigger
from patron.domain.rules.ruleset import plan_for
from patron.domain.rules.view import EventView

_BEST_OF = Stacking.BEST_OF
_EXCLUSIVE = Stacking.EXCLUSIVE


class RuleAward(NamedTuple):
    """What one rule gave, for the caller to record against its limits (`scopes`) and
    budget.

    A named tuple rather than a frozen dataclass: an event makes several, and on CPython
    3.11 a frozen dataclass costs about four times as much to create."""

    rule_id: int
    version: int
    code: str
    points: int
    store_credit: int
    scopes: tuple[UsageKey, ...]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The event's total points and store credit, the rules that gave them, and the
    explanation (JSON-ready: base, tier, one entry per considered rule, chosen day)."""

    points: int
    store_credit: int
    awards: tuple[RuleAward, ...]
    explanation: list[dict[str, Any]]


#: A rule that would give something, before stacking decides whether it applies:
#: (rule, its explanation entry, points, store credit, usage keys).
_Offer = tuple[CompiledRule, dict[str, Any], int, int, tuple[UsageKey, ...]]


def considered(rules: Sequence[CompiledRule], event: EventFacts) -> tuple[CompiledRule, ...]:
    """The active rules listening to `event`, in evaluation order."""
    return plan_for(rules, event).rules


def evaluate(
    rules: Sequence[CompiledRule],
    event: EventFacts,
    member: MemberFacts,
    usage: Usage,
    tz: ZoneInfo,
    *,
    base_rounding: Rounding = Rounding.FLOOR,
) -> Evaluation:
    """What `event` earns `member` under `rules` (see the module docstring). Pass a
    `RuleSet` to reuse the per-trigger work across events."""
    plan = plan_for(rules, event)
    view = EventView(event, member, tz, plan.cel_needs)
    explanation: list[dict[str, Any]] = []
    points = _base(event, member, base_rounding, explanation)
    offers: list[_Offer] = []
    best_of: list[_Offer] = []
    exclusive: str | None = None
    for rule in plan.rules:
        offer = _assess(rule, view, usage, explanation)
        if offer is None:
            continue
        if exclusive is not None:
            _not_applied(offer[1], f"exclusive rule {exclusive!r} applied")
            continue
        offers.append(offer)
        if rule.stacking is _BEST_OF:
            best_of.append(offer)
        elif rule.stacking is _EXCLUSIVE:
            exclusive = rule.code
    if len(best_of) > 1:
        _keep_best(best_of, offers)
    store_credit = 0
    awards = []
    for rule, _, rule_points, rule_credit, scopes in offers:
        points += rule_points
        store_credit += rule_credit
        awards.append(
            RuleAward(rule.rule_id, rule.version, rule.code, rule_points, rule_credit, scopes)
        )
    if member.chosen_day is not None:
        points += _chosen_day(points, view, base_rounding, explanation)
    return Evaluation(max(points, 0), store_credit, tuple(awards), explanation)


def _base(
    event: EventFacts, member: MemberFacts, rounding: Rounding, explanation: list[dict[str, Any]]
) -> int:
    """The base earning of an order and the tier's share of it, explained."""
    order = event.order
    if order is None or event.trigger is not Trigger.ORDER_PAID:
        return 0
    base = order.base_points
    explanation.append({"rule": "base", "points": base})
    multiplier = member.tier_multiplier
    extra = 0
    if multiplier != 1:
        extra = _times(base, multiplier, rounding) - base
        explanation.append(
            {
                "rule": "tier",
                "tier": member.tier or "",
                "multiplier": fraction_text(multiplier),
                "points": extra,
            }
        )
    return base + extra + _plan(base, member, rounding, explanation)


def _plan(
    base: int, member: MemberFacts, rounding: Rounding, explanation: list[dict[str, Any]]
) -> int:
    """The membership plans' share of the base earning (base x (m - 1)), explained."""
    multiplier = member.plan_multiplier
    if multiplier == 1:
        return 0
    extra = _times(base, multiplier, rounding) - base
    explanation.append(
        {
            "rule": "plan",
            "plans": list(member.plans),
            "multiplier": fraction_text(multiplier),
            "points": extra,
        }
    )
    return extra


def _chosen_day(
    points: int, view: EventView, rounding: Rounding, explanation: list[dict[str, Any]]
) -> int:
    """The extra points of the member's chosen day, explained; 0 on other days."""
    member = view.member
    multiplier = member.chosen_day_multiplier
    if multiplier == 1 or view.local.date() != member.chosen_day:
        return 0
    points = max(points, 0)
    extra = _times(points, multiplier, rounding) - points
    explanation.append(
        {"rule": "chosen_day", "multiplier": fraction_text(multiplier), "points": extra}
    )
    return extra


def _times(points: int, multiplier: Fraction, rounding: Rounding) -> int:
    return divider(rounding)(points * multiplier.numerator, multiplier.denominator)


def _assess(
    rule: CompiledRule, view: EventView, usage: Usage, explanation: list[dict[str, Any]]
) -> _Offer | None:
    """Explain `rule` for the event; its offer if it would give something.

    Conditions first (the first failing one is the reason), then the award from the
    eligible amount: the matching lines' if the rule filters lines, else the whole
    order's (0 for other events); then limits and budget. The conditions are inline, not
    a function, as they run for every rule of every event."""
    reason = None
    for check in rule.checks:
        reason = check(view)
        if reason is not None:
            break
    order = view.order
    amount = 0 if order is None else order.eligible
    if reason is None and rule.line_filter is not None:
        lines = None if order is None else rule.line_filter.amount(order.lines)
        if lines is None:
            reason = "conditions.lines: no line matches"
        else:
            amount = lines
    minimum = rule.min_subtotal
    if reason is None and minimum is not None and amount < minimum:
        reason = f"conditions.min_subtotal: eligible {amount} < {minimum}"
    if reason is None and rule.expression is not None:
        reason = run_expression(rule.expression, view)
    if reason is not None:
        explanation.append(dict(rule.unmatched_entry, reason=reason))
        return None
    points, store_credit = rule.award(view, amount)
    if points <= 0 and store_credit <= 0:
        _refuse(rule, f"award: nothing to give for eligible {amount}", explanation)
        return None
    uncapped = points
    capped_by = None
    scopes: tuple[UsageKey, ...] = ()
    if rule.limits or rule.budget_points is not None:
        reason, points, capped_by, scopes = _within_limits(rule, view.event, usage, points)
        if reason is not None:
            _refuse(rule, reason, explanation)
            return None
    entry = dict(rule.applied_entry, points=points, store_credit=store_credit)
    if capped_by is not None:
        entry["reason"] = f"capped by {capped_by}"
        entry["uncapped_points"] = uncapped
    explanation.append(entry)
    return rule, entry, points, store_credit, scopes


def _refuse(rule: CompiledRule, reason: str, explanation: list[dict[str, Any]]) -> None:
    """Explain a rule that matched but gives nothing."""
    explanation.append(dict(rule.unmatched_entry, matched=True, reason=reason))


def _within_limits(
    rule: CompiledRule, event: EventFacts, usage: Usage, points: int
) -> tuple[str | None, int, str | None, tuple[UsageKey, ...]]:
    """Apply the rule's limits, then its budget, to `points`: (why nothing is left or None,
    the points left to give, the label of the tightest cap or None, the usage keys)."""
    keys: list[UsageKey] = []
    capped_by = None
    for limit in rule.limits:
        key = limit.key if limit.per is None else _scoped_key(limit, event)
        if key not in keys:
            keys.append(key)
        used = usage.counts.get(key, UNUSED)
        if limit.max_awards is not None and used.awards >= limit.max_awards:
            reason = _limit_reason(limit, key, f"{used.awards} of {limit.max_awards} awards")
            return reason, 0, None, ()
        if limit.max_points is not None:
            left = limit.max_points - used.points
            if left <= 0:
                reason = _limit_reason(limit, key, f"{used.points} of {limit.max_points} points")
                return reason, 0, None, ()
            if points > left:  # the tightest cap names itself
                points, capped_by = left, limit.label
    budget = rule.budget_points
    if budget is not None:
        spent = usage.budget_used.get(rule.rule_id, 0)
        if spent >= budget:
            return f"budget: {spent} of {budget} points used", 0, None, ()
        if points > budget - spent:
            points, capped_by = budget - spent, "budget"
    return None, points, capped_by, tuple(keys)


def _limit_reason(limit: CompiledLimit, key: UsageKey, used: str) -> str:
    """ "limits.0: 5 of 5 awards this month already", with the scope of a `per` limit."""
    scope = "" if limit.per is None else f" for {limit.per} {key.scope!r}"
    return f"{limit.label}: {used} {limit.phrase} already{scope}"


def _scoped_key(limit: CompiledLimit, event: EventFacts) -> UsageKey:
    return UsageKey(limit.key.rule_id, limit.period, scope_of(event, limit.per))


def scope_of(event: EventFacts, per: str | None) -> str:
    """The usage scope of an event for a limit counted `per` a payload field: the field's
    value as a string; "" without `per`, or when the payload lacks the field (or it is
    null)."""
    if per is None:
        return ""
    value = event.payload.get(per)
    return "" if value is None else str(value)


def _not_applied(entry: dict[str, Any], reason: str) -> None:
    entry["applied"] = False
    entry["points"] = 0
    entry["store_credit"] = 0
    entry["reason"] = reason
    entry.pop("uncapped_points", None)


def _keep_best(best_of: list[_Offer], offers: list[_Offer]) -> None:
    """Keep only the best of the best_of offers: most points, then store credit; the
    first wins ties, as it ranks higher."""
    best = best_of[0]
    for offer in best_of[1:]:
        if (offer[2], offer[3]) > (best[2], best[3]):
            best = offer
    for offer in best_of:
        if offer is not best:
            tie = (offer[2], offer[3]) == (best[2], best[3])
            how = "gave as much and ranks higher" if tie else "gave more"
            _not_applied(offer[1], f"best_of: rule {best[0].code!r} {how}")
            offers.remove(offer)


def usage_windows(
    rules: Sequence[CompiledRule], event: EventFacts, tz: ZoneInfo
) -> list[UsageWindow]:
    """The usage counts `evaluate` needs for `event`: one window per distinct key of the
    considered rules' limits, in evaluation order."""
    windows: list[UsageWindow] = []
    seen: set[UsageKey] = set()
    spans: dict[Period, tuple[datetime, datetime]] = {}
    for rule in considered(rules, event):
        for limit in rule.limits:
            key = limit.key if limit.per is None else _scoped_key(limit, event)
            if key in seen:
                continue
            seen.add(key)
            if limit.period not in spans:
                spans[limit.period] = period_window(event.occurred_at, limit.period, tz)
            start, end = spans[limit.period]
            windows.append(UsageWindow(key, start, end))
    return windows


def budgeted_rule_ids(rules: Sequence[CompiledRule], event: EventFacts) -> list[int]:
    """The ids of the considered rules with a budget: the `Usage.budget_used` to fetch."""
    return [rule.rule_id for rule in considered(rules, event) if rule.budget_points is not None]


def fraction_text(value: Fraction) -> str:
    """A fraction as an exact decimal when it has one ("1.5", "3"), else "n/d" ("4/3")."""
    # Cached by the pair: hashing a Fraction itself is slow, and a program has few.
    return _fraction_text(value.numerator, value.denominator)


@lru_cache(maxsize=256)
def _fraction_text(numerator: int, denominator: int) -> str:
    if denominator == 1:
        return str(numerator)
    twos = fives = 0
    rest = denominator
    while rest % 2 == 0:
        rest //= 2
        twos += 1
    while rest % 5 == 0:
        rest //= 5
        fives += 1
    if rest != 1:
        return f"{numerator}/{denominator}"
    places = max(twos, fives)
    scaled = abs(numerator) * 10**places // denominator
    whole, fraction = divmod(scaled, 10**places)
    sign = "-" if numerator < 0 else ""
    return f"{sign}{whole}.{fraction:0{places}d}"
