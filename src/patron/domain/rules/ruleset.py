"""`RuleSet`: a program's compiled rules, with what each kind of event needs precomputed.

`evaluate` accepts any sequence of compiled rules. Given a `RuleSet` (build one when the
rules are loaded and keep it with them), the rules an event's trigger considers, in
evaluation order, and what their CEL expressions read are worked out once per trigger
instead of once per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import overload

from patron.domain.rules.compiler import CompiledRule
from patron.domain.rules.expression import CelNeeds, cel_needs
from patron.domain.rules.facts import EventFacts
from patron.domain.rules.model import Trigger

_ORDER = attrgetter("sort_key")

#: What selects rules: the trigger, and the custom event type for custom events.
MatchKey = tuple[Trigger, str | None]

_MAX_PLANS = 256


@dataclass(frozen=True, slots=True)
class Plan:
    """The rules an event considers, in evaluation order, and what their CEL reads."""

    rules: tuple[CompiledRule, ...]
    cel_needs: CelNeeds | None


class RuleSet(Sequence[CompiledRule]):
    """An immutable sequence of compiled rules that caches a `Plan` per trigger."""

    __slots__ = ("_plans", "_rules")

    def __init__(self, rules: Iterable[CompiledRule] = ()) -> None:
        self._rules = tuple(rules)
        # Filled lazily; a race only computes the same plan twice.
        self._plans: dict[MatchKey, Plan] = {}

    @overload
    def __getitem__(self, index: int) -> CompiledRule: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[CompiledRule, ...]: ...
    def __getitem__(self, index: int | slice) -> CompiledRule | tuple[CompiledRule, ...]:
        return self._rules[index]

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[CompiledRule]:
        return iter(self._rules)

    def plan(self, event: EventFacts) -> Plan:
        """The plan for `event`'s trigger (and custom event type)."""
        trigger = event.trigger
        key = (trigger, event.event_type if trigger is Trigger.CUSTOM else None)
        plan = self._plans.get(key)
        if plan is None:
            plan = make_plan(self._rules, key)
            # Custom event types come from requests: cache a bounded number of them.
            if len(self._plans) < _MAX_PLANS:
                self._plans[key] = plan
        return plan


def match_key(event: EventFacts) -> MatchKey:
    return (event.trigger, event.event_type if event.trigger is Trigger.CUSTOM else None)


def make_plan(rules: Iterable[CompiledRule], key: MatchKey) -> Plan:
    """The active rules of `key` by priority (highest first), then rule id."""
    found = sorted((rule for rule in rules if rule.active and rule.match_key == key), key=_ORDER)
    expressions = [rule.expression for rule in found if rule.expression is not None]
    return Plan(tuple(found), cel_needs(expressions))


def plan_for(rules: Sequence[CompiledRule], event: EventFacts) -> Plan:
    """The plan for `event`: cached if `rules` is a RuleSet, else computed now."""
    if isinstance(rules, RuleSet):
        return rules.plan(event)
    return make_plan(rules, match_key(event))
