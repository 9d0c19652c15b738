"""What rules are evaluated against: the event, its member, and usage counted so far.

The caller (a service) builds these from the database and the request; the rules engine
never reads anything else. Instants are aware; amounts are minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from fractions import Fraction
from types import MappingProxyType
from typing import Any

from patron.domain.calendar import Period
from patron.domain.rules.model import Trigger

#: An empty read-only mapping, the default of every mapping field here.
EMPTY: Mapping[Any, Any] = MappingProxyType({})


def _empty() -> Mapping[Any, Any]:
    # dataclasses refuse an unhashable default, even a read-only one; a factory is fine.
    return EMPTY


@dataclass(frozen=True, slots=True)
class LineFacts:
    """One order line: what line filters look at, and its eligible amount (net of discounts)."""

    line_id: str
    sku: str | None
    category: str | None
    tags: tuple[str, ...]
    eligible: int


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """A paid order. `eligible` is the whole order's eligible amount (with shipping and tax
    if the program counts them); `base_points` is the program's base earning for it."""

    lines: tuple[LineFacts, ...]
    eligible: int
    base_points: int
    first_order: bool = False
    total: int = 0


@dataclass(frozen=True, slots=True)
class EventFacts:
    """An event that may earn. `order` is required for `order.paid` (ignored otherwise);
    `payload` is the event's JSON as the store sent it (read by CEL and `Limit.per`)."""

    trigger: Trigger
    event_type: str | None
    occurred_at: datetime
    brand: str
    channel: str | None = None
    payload: Mapping[str, Any] = field(default_factory=_empty)
    order: OrderFacts | None = None

    def __post_init__(self) -> None:
        # A plain "order.paid" read from storage becomes the enum, compared by identity later.
        object.__setattr__(self, "trigger", Trigger(self.trigger))
        # Programming errors of the caller, not input errors: the facts are built by code.
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be aware")
        if self.trigger is Trigger.ORDER_PAID and self.order is None:
            raise ValueError("an order.paid event carries its order")


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """The member an event earns for.

    `tier_multiplier` multiplies the base earning (adds base x (m - 1)). On `chosen_day` (a
    local date the member picked) every point of the event, base, rules and tier, is
    multiplied by `chosen_day_multiplier`. `attributes` is extra JSON for CEL.
    """

    tags: tuple[str, ...] = ()
    tier: str | None = None
    segments: tuple[str, ...] = ()
    tier_multiplier: Fraction = Fraction(1)
    chosen_day: date | None = None
    chosen_day_multiplier: Fraction = Fraction(1)
    attributes: Mapping[str, Any] = field(default_factory=_empty)
    #: Membership plans whose perks apply, and the product of their points multipliers:
    #: it multiplies the base earning like the tier's (adds base x (m - 1)).
    plans: tuple[str, ...] = ()
    plan_multiplier: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        if self.tier_multiplier < 0 or self.chosen_day_multiplier < 0 or self.plan_multiplier < 0:
            raise ValueError("multipliers must not be negative")


@dataclass(frozen=True, slots=True)
class UsageKey:
    """What a limit counts: a rule's awards to this member in the current `period`, for one
    value (`scope`) of the limit's `per` field ("" when the limit has no `per`)."""

    rule_id: int
    period: Period
    scope: str


@dataclass(frozen=True, slots=True)
class Used:
    """Awards made and points given under one `UsageKey` so far."""

    awards: int = 0
    points: int = 0


#: Nothing used yet: what a missing `UsageKey` counts as.
UNUSED = Used()


@dataclass(frozen=True, slots=True)
class Usage:
    """The counts `evaluate` checks limits and budgets against.

    `counts` holds the member's usage for the windows `usage_windows` asked for (a missing
    key is nothing used); `budget_used` the points each rule gave so far, all members.
    """

    counts: Mapping[UsageKey, Used] = field(default_factory=_empty)
    budget_used: Mapping[int, int] = field(default_factory=_empty)


@dataclass(frozen=True, slots=True)
class UsageWindow:
    """The caller counts the member's awards of `key` that occurred in [start, end)."""

    key: UsageKey
    start: datetime
    end: datetime
