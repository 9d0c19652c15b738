"""Segments: saved filters over a program's members, and the RFM score arithmetic.

A segment's filter is a conjunction: a member is in the segment when every criterion that
is set holds. Criteria (all optional):

* `tiers`: the member's current tier is one of these codes (members without a status
  are in none);
* `tags`: `any` (at least one of) and/or `all` (every one of) the member's tags;
* `spend`: total spend net of refunds, in minor units of the program's currency, counted
  as tiers count it (eligible amount less refunded merchandise, plus shipping and tax
  when the program earns on them), over the orders that occurred by the instant `at`;
* `orders`: number of orders by `at`;
* `last_order`: `within_days` (an order in the last N days before `at`), `none_for_days`
  (no order in the last N days; members who never ordered included), and absolute
  `after` / `before` bounds on the last order's instant (members without orders fail
  both);
* `rfm`: recency, frequency and monetary scores (see `rfm_score`; computed for the whole
  program by a daily job, as of its run) and their sum;
* `birthday_months`: month of the member's birthday (a date: no time zone involved);
* `membership`: a subscription to one of `plans` (any plan if empty) whose status is one
  of `statuses` (default: the statuses that hold perks: trialing, active, past_due);
* `referrals`: number of the member's referrals (as advocate) that were `rewarded`;
* `brands`: at least one order at one of these brands;
* `status`: the member's status (`active`, `blocked`);
* `enrolled`: enrolment instant `after` (inclusive) / `before` (exclusive).

Ranges are inclusive on both ends; an interval of instants is [after, before).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from patron.domain.errors import InvalidInput
from patron.domain.memberships import LIVE, Status

#: RFM scores run from 1 (the lowest fifth of the program's members) to 5 (the top fifth).
RFM_BUCKETS = 5

#: The statuses in which a subscription's perks apply (`memberships.LIVE`, in their
#: order): the default of `membership`.
HOLDING = tuple(status for status in Status if status in LIVE)


@dataclass(frozen=True, slots=True)
class Range:
    """Inclusive bounds on a whole number; None: unbounded."""

    min: int | None = None
    max: int | None = None

    def check(self, field: str) -> None:
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and bound < 0:
                raise InvalidInput(f"{name} cannot be negative", field=f"{field}.{name}")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidInput("max is below min", field=f"{field}.max")

    @property
    def is_set(self) -> bool:
        return self.min is not None or self.max is not None


@dataclass(frozen=True, slots=True)
class Interval:
    """Instants in [after, before); None: unbounded."""

    after: datetime | None = None
    before: datetime | None = None

    def check(self, field: str) -> None:
        if self.after is not None and self.before is not None and self.after >= self.before:
            raise InvalidInput("before must be later than after", field=f"{field}.before")


@dataclass(frozen=True, slots=True)
class Tags:
    any: tuple[str, ...] = ()
    all: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class LastOrder:
    within_days: int | None = None
    none_for_days: int | None = None
    after: datetime | None = None
    before: datetime | None = None

    def check(self, field: str) -> None:
        for name, days in (
            ("within_days", self.within_days),
            ("none_for_days", self.none_for_days),
        ):
            if days is not None and days < 1:
                raise InvalidInput("days must be at least 1", field=f"{field}.{name}")
        Interval(self.after, self.before).check(field)


@dataclass(frozen=True, slots=True)
class Rfm:
    """Bounds on each score (1-5) and on their sum (3-15)."""

    recency: Range = Range()
    frequency: Range = Range()
    monetary: Range = Range()
    total: Range = Range()

    def check(self, field: str) -> None:
        for name, bounds, top in (
            ("r", self.recency, RFM_BUCKETS),
            ("f", self.frequency, RFM_BUCKETS),
            ("m", self.monetary, RFM_BUCKETS),
            ("score", self.total, 3 * RFM_BUCKETS),
        ):
            low = 3 if name == "score" else 1
            for end, value in (("min", bounds.min), ("max", bounds.max)):
                if value is not None and not low <= value <= top:
                    raise InvalidInput(
                        f"must be between {low} and {top}", field=f"{field}.{name}_{end}"
                    )
            if bounds.min is not None and bounds.max is not None and bounds.min > bounds.max:
                raise InvalidInput("max is below min", field=f"{field}.{name}_max")

    @property
    def is_set(self) -> bool:
        return any(r.is_set for r in (self.recency, self.frequency, self.monetary, self.total))


@dataclass(frozen=True, slots=True)
class Membership:
    statuses: tuple[Status, ...] = HOLDING
    plans: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    """Every criterion that is set must hold (see the module docstring)."""

    tiers: tuple[str, ...] = ()
    tags: Tags | None = None
    spend: Range = Range()
    orders: Range = Range()
    last_order: LastOrder | None = None
    rfm: Rfm | None = None
    birthday_months: tuple[int, ...] = ()
    membership: Membership | None = None
    referrals: Range = Range()
    brands: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    enrolled: Interval | None = None

    def check(self, tier_codes: frozenset[str]) -> None:
        """Refuse what cannot be right whatever the database holds (InvalidInput naming
        the field): negative or inverted bounds, months outside 1-12, scores outside 1-5,
        tiers the program's ladder does not have."""
        for index, tier in enumerate(self.tiers):
            if tier not in tier_codes:
                raise InvalidInput(f"the program has no tier {tier!r}", field=f"tiers.{index}")
        for name in ("spend", "orders", "referrals"):
            bounds: Range = getattr(self, name)
            bounds.check(name)
        if self.last_order is not None:
            self.last_order.check("last_order")
        if self.rfm is not None:
            self.rfm.check("rfm")
        for index, month in enumerate(self.birthday_months):
            if not 1 <= month <= 12:
                raise InvalidInput("a month is 1 to 12", field=f"birthday_months.{index}")
        if self.enrolled is not None:
            self.enrolled.check("enrolled")

    @property
    def uses_orders(self) -> bool:
        """Whether evaluating needs each member's order statistics."""
        return self.spend.is_set or self.orders.is_set or self.last_order is not None


def rfm_score(lower: int, population: int) -> int:
    """A member's score on one RFM dimension: 1 + floor(5 * lower / population), where
    `lower` is how many of the program's `population` members have a strictly worse value.

    Members with equal values get equal scores; the best value always scores
    1 + floor(5 * (n - k) / n) for k tied at the top; a program of one member scores 1.
    Recency is the last order's instant (later is better; no order is worst), frequency
    the number of orders, monetary the net spend (both: more is better)."""
    if population <= 0 or not 0 <= lower < population:
        raise ValueError("lower must be in [0, population)")
    return 1 + RFM_BUCKETS * lower // population


def days_before(at: datetime, days: int) -> datetime:
    """The instant `days` whole days (of 24 hours) before `at`: the start of "the last
    N days"."""
    return at - timedelta(days=days)
