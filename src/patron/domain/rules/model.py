"""Earning rules as configured: one `RuleSpec` is one version of a rule.

These are plain values with no behaviour; `compile_rule` (in `compiler.py`) checks them and
turns them into the form `evaluate` runs. All amounts are integer minor units of the
program's currency, all points whole points.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from fractions import Fraction

from patron.domain.calendar import Period
from patron.domain.rounding import Rounding


class Trigger(StrEnum):
    """The kind of event a rule listens to."""

    ORDER_PAID = "order.paid"
    SIGNUP = "signup"
    NEWSLETTER = "newsletter.subscribed"
    REVIEW = "review.written"
    BIRTHDAY = "birthday"
    SOCIAL_FOLLOW = "social.follow"
    SHARE = "share"
    #: A tenant-defined event; the rule names its type in `RuleSpec.event_type`.
    CUSTOM = "custom"


class Stacking(StrEnum):
    """How a rule combines with the other rules an event matches (see `evaluate`)."""

    STACK = "stack"
    EXCLUSIVE = "exclusive"
    BEST_OF = "best_of"


class AwardKind(StrEnum):
    """What a rule gives. Only FIXED_POINTS makes sense outside `order.paid`."""

    FIXED_POINTS = "fixed_points"
    POINTS_PER_AMOUNT = "points_per_amount"
    MULTIPLIER = "multiplier"
    PERCENT_BACK = "percent_back"


@dataclass(frozen=True, slots=True)
class LineFilter:
    """Which order lines a rule looks at.

    A line matches if its sku is in `skus`, or its category in `categories`, or one of its
    tags in `tags` (any non-empty list may match). An empty filter matches every line.
    """

    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Conditions:
    """What an event and its member must satisfy for a rule to match; all must hold.

    Empty tuples and None mean "no condition". `min_subtotal`, `lines` and `first_order`
    are about an order and are only valid for `order.paid` rules. `min_subtotal` is compared
    with the eligible amount of the lines matching `lines` when it is set, else with the
    whole order's eligible amount. `expression` is CEL over the variables `event` and
    `member` (see `expression.py`) and must yield a bool.
    """

    min_subtotal: int | None = None
    lines: LineFilter | None = None
    brands: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    first_order: bool | None = None
    member_tags: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    expression: str | None = None


@dataclass(frozen=True, slots=True)
class Award:
    """What a matching rule gives. Only the fields of its `kind` are used.

    * FIXED_POINTS: `points`.
    * POINTS_PER_AMOUNT: `points` per `per_amount` minor units of the eligible amount (of
      the matching lines when the rule has a line filter, else of the whole order).
    * MULTIPLIER: `multiplier` times the base earning, so the rule adds base x (m - 1); with
      a line filter, only the matching lines' share of the base is multiplied.
    * PERCENT_BACK: `percent_back_bp` basis points (200 = 2%) of the eligible amount, as
      store credit in minor units, not points.

    `rounding` turns fractional points (or store credit) into whole ones.
    """

    kind: AwardKind
    points: int = 0
    per_amount: int = 0
    multiplier: Fraction = Fraction(1)
    percent_back_bp: int = 0
    rounding: Rounding = Rounding.FLOOR


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `max_awards` awards and/or `max_points` points per member per `period`.

    `per` names an event payload field: usage is counted separately for each of its values
    (per="network": a follow on each network is awarded once).
    """

    period: Period
    max_awards: int | None = None
    max_points: int | None = None
    per: str | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a rule is active. Empty fields mean "always".

    `active_from`/`active_to` are aware instants, half-open [from, to). `days_of_week`
    (0 = Monday .. 6 = Sunday) and `hours` ([start, end) with 0 <= start < end <= 24, no
    wrap past midnight) are read in the program's time zone.
    """

    active_from: datetime | None = None
    active_to: datetime | None = None
    days_of_week: tuple[int, ...] = ()
    hours: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """One version of an earning rule, as configured.

    `event_type` is the tenant's custom event type for CUSTOM rules and None otherwise.
    Higher `priority` is evaluated first. `budget_points` caps the points the rule gives
    across all members.
    """

    code: str
    name: str
    trigger: Trigger
    event_type: str | None
    conditions: Conditions
    award: Award
    limits: tuple[Limit, ...] = ()
    budget_points: int | None = None
    schedule: Schedule = Schedule()
    priority: int = 0
    stacking: Stacking = Stacking.STACK
    active: bool = True
