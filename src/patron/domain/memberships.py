"""Paid memberships, pure: plans and their perks, the subscription state machine, period
arithmetic in the program's time zone, and the monthly-credit and dividend arithmetic.

A subscription's perks apply while it is trialing or active (until its period end) or
past due within its grace; `perks_until` says until when. Periods move by calendar months
from the subscription's anchor (the start of its first paid period) in the program's time
zone, so a plan started on 31 January renews on 28/29 February, then on 31 March.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from zoneinfo import ZoneInfo

from patron.domain.calendar import add_months, local_date, start_of_day
from patron.domain.errors import Conflict, InvalidInput


class PlanPeriod(StrEnum):
    MONTH = "month"
    YEAR = "year"
    LIFETIME = "lifetime"


_MONTHS = {PlanPeriod.MONTH: 1, PlanPeriod.YEAR: 12}


class Status(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    PAST_DUE = "past_due"
    LAPSED = "lapsed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


#: Statuses a subscription never leaves.
ENDED = frozenset({Status.LAPSED, Status.CANCELLED, Status.EXPIRED})
#: Statuses whose perks may apply (subject to the period end or the grace).
LIVE = frozenset({Status.TRIALING, Status.ACTIVE, Status.PAST_DUE})


@dataclass(frozen=True, slots=True)
class Discount:
    """Percent off at checkout, on every line or only on lines matching any filter."""

    percent: Fraction
    skus: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return not (self.skus or self.categories or self.tags)

    def applies_to(self, sku: str | None, category: str | None, tags: tuple[str, ...]) -> bool:
        return (
            self.everything
            or (sku is not None and sku in self.skus)
            or (category is not None and category in self.categories)
            or any(tag in self.tags for tag in tags)
        )

    def off(self, amount: int) -> int:
        """The discount on `amount` minor units (floored: never more than promised)."""
        return amount * self.percent.numerator // (100 * self.percent.denominator)


@dataclass(frozen=True, slots=True)
class PlanPerks:
    percent_off: Discount | None = None
    free_shipping: bool = False
    points_multiplier: Fraction = Fraction(1)
    #: Store credit (minor units) given at the start of each month the perks apply.
    monthly_credit: int = 0
    #: Percent of a calendar year's eligible spend (net of refunds) given back after it.
    yearly_dividend_percent: Fraction = Fraction(0)
    #: Tier code the holder is at least at while the perks apply.
    tier: str | None = None


def validate_perks(perks: PlanPerks, tier_codes: frozenset[str] | None) -> None:
    """Refuse perks that make no sense (InvalidInput naming the `perks.*` field)."""
    if perks.percent_off is not None and not 0 < perks.percent_off.percent <= 100:
        raise InvalidInput("percent must be in (0, 100]", field="perks.percent_off.percent")
    if perks.points_multiplier < 1 or perks.points_multiplier > 100:
        raise InvalidInput("must be between 1 and 100", field="perks.points_multiplier")
    if not 0 <= perks.yearly_dividend_percent <= 100:
        raise InvalidInput("must be between 0 and 100", field="perks.yearly_dividend_percent")
    if perks.tier is not None and (tier_codes is None or perks.tier not in tier_codes):
        raise InvalidInput(f"no tier {perks.tier!r} in the program", field="perks.tier")


# -- period arithmetic ----------------------------------------------------------------


def shift_months(instant: datetime, months: int, tz: ZoneInfo) -> datetime:
    """`instant` moved by calendar months at the same local time in `tz` (clamped to the
    month's last day)."""
    local = instant.astimezone(tz)
    day = add_months(local.date(), months)
    moved = datetime.combine(day, local.timetz().replace(tzinfo=None), tzinfo=tz)
    return moved.astimezone(instant.tzinfo)


def shift_days(instant: datetime, days: int, tz: ZoneInfo) -> datetime:
    """`instant` moved by local days in `tz` (same local time of day)."""
    local = instant.astimezone(tz)
    moved = datetime.combine(
        local.date() + timedelta(days=days), local.timetz().replace(tzinfo=None), tzinfo=tz
    )
    return moved.astimezone(instant.tzinfo)


def period_end(
    anchor: datetime, start: datetime, period: PlanPeriod, tz: ZoneInfo
) -> datetime | None:
    """The end of the paid period starting at `start` (a period boundary from `anchor`):
    the first boundary after it; None for lifetime."""
    if period is PlanPeriod.LIFETIME:
        return None
    step = _MONTHS[period]
    count = 1
    while (end := shift_months(anchor, count * step, tz)) <= start:
        count += 1
    return end


def month_starts(anchor: datetime, tz: ZoneInfo) -> Iterator[tuple[int, datetime]]:
    """(number, start) of the subscription's months: anchor, anchor + 1 month, ..."""
    number = 0
    while True:
        yield number, shift_months(anchor, number, tz)
        number += 1


def year_window(year: int, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """A calendar year in `tz`, as [start, end) instants."""
    return start_of_day(date(year, 1, 1), tz), start_of_day(date(year + 1, 1, 1), tz)


def completed_years(since: datetime, at: datetime, tz: ZoneInfo) -> range:
    """The calendar years (in `tz`) from the one containing `since` that ended by `at`."""
    first = local_date(since, tz).year
    current = local_date(at, tz).year
    return range(first, current)


def dividend(percent: Fraction, net_spend: int) -> int:
    """The dividend on a year's net eligible spend (floored minor units, never negative)."""
    if net_spend <= 0:
        return 0
    return net_spend * percent.numerator // (100 * percent.denominator)


# -- the state machine ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscription:
    """A subscription's state (instants in UTC)."""

    status: Status
    started_at: datetime
    #: Start of the first paid period: paid periods are counted from it.
    anchor_at: datetime
    period_start: datetime
    #: End of the current period (the trial's end while trialing); None: lifetime.
    period_end: datetime | None
    trial_end: datetime | None = None
    grace_until: datetime | None = None
    cancel_at_period_end: bool = False
    ended_at: datetime | None = None
    #: The plan's grace days (a past-due subscription's grace, and how late the store may
    #: report the renewal of one that ran out).
    grace_days: int = 0

    def perks_until(self) -> datetime | None:
        """Until when the perks apply (None: with no end). For an ended subscription, when
        it ended."""
        if self.status in ENDED:
            return self.ended_at
        if self.status is Status.PAST_DUE:
            return self.grace_until
        return self.period_end

    def perks_at(self, at: datetime) -> bool:
        if at < self.started_at:
            return False
        until = self.perks_until()
        return until is None or at < until


def start(
    period: PlanPeriod, trial_days: int, tz: ZoneInfo, at: datetime, *, trial: bool
) -> Subscription:
    """A new subscription: a trial of the plan's trial days, or a first paid period."""
    if trial:
        if trial_days <= 0:
            raise InvalidInput("the plan has no trial", field="trial")
        end = shift_days(at, trial_days, tz)
        return Subscription(Status.TRIALING, at, end, at, end, trial_end=end)
    return Subscription(Status.ACTIVE, at, at, at, period_end(at, at, period, tz))


def renew(sub: Subscription, period: PlanPeriod, tz: ZoneInfo, at: datetime) -> Subscription:
    """A payment for the next period: from the current period's end (a trial's end, or the
    missed period of a past-due subscription), one plan period long. It also resumes a
    subscription set to cancel at period end. A subscription whose perks ended (past its
    period end, or its grace) has ended, even before the job says so: 409."""
    sub = settle(sub, at, tz)
    if sub.status in ENDED:
        raise Conflict(f"the subscription is {sub.status.value}; start a new one", field="status")
    if sub.period_end is None:
        raise Conflict("a lifetime membership has nothing to renew", field="status")
    new_start = sub.period_end
    return replace(
        sub,
        status=Status.ACTIVE,
        period_start=new_start,
        period_end=period_end(sub.anchor_at, new_start, period, tz),
        grace_until=None,
        cancel_at_period_end=False,
    )


def fail_payment(sub: Subscription, tz: ZoneInfo, at: datetime) -> Subscription:
    """A failed payment: past due, perks kept until the grace ends (counted from the
    period end, or from now if that is later)."""
    sub = settle(sub, at, tz)
    if sub.status not in (Status.TRIALING, Status.ACTIVE) or sub.period_end is None:
        raise Conflict(f"a {sub.status.value} subscription has no payment to fail", field="status")
    base = max(sub.period_end, at)
    return replace(sub, status=Status.PAST_DUE, grace_until=shift_days(base, sub.grace_days, tz))


def cancel_at_period_end(sub: Subscription, at: datetime, tz: ZoneInfo) -> Subscription:
    sub = settle(sub, at, tz)
    if sub.status not in (Status.TRIALING, Status.ACTIVE):
        raise Conflict(f"a {sub.status.value} subscription cannot be cancelled", field="status")
    if sub.period_end is None:
        raise InvalidInput(
            "a lifetime membership has no period end; cancel it now", field="at_period_end"
        )
    return replace(sub, cancel_at_period_end=True)


def cancel_now(sub: Subscription, at: datetime, tz: ZoneInfo) -> Subscription:
    sub = settle(sub, at, tz)
    if sub.status in ENDED:
        raise Conflict(f"the subscription is already {sub.status.value}", field="status")
    return replace(sub, status=Status.CANCELLED, ended_at=at)


def settle(sub: Subscription, at: datetime, tz: ZoneInfo) -> Subscription:
    """What the `memberships` job makes of a subscription at `at`: past due beyond its
    grace lapses; trialing or active past its period end expires — at once when cancelled
    at period end; when simply not renewed, once the plan's grace days after the period
    end have passed too, since the store may report the renewal (or its failure) a little
    late. Either way it ends at its period end. Anything else is unchanged."""
    if sub.status is Status.PAST_DUE and sub.grace_until is not None and sub.grace_until <= at:
        return replace(sub, status=Status.LAPSED, ended_at=sub.grace_until)
    if sub.status in (Status.TRIALING, Status.ACTIVE) and sub.period_end is not None:
        days = 0 if sub.cancel_at_period_end else sub.grace_days
        if shift_days(sub.period_end, days, tz) <= at:
            return replace(sub, status=Status.EXPIRED, ended_at=sub.period_end)
    return sub


def paid_from(sub: Subscription) -> datetime:
    """When the subscription's paid time starts: after its trial, if it had one. Credits
    and dividends are for paid time only, so a trial that lapses unpaid costs nothing."""
    return sub.trial_end or sub.started_at


def credit_months(sub: Subscription, tz: ZoneInfo, at: datetime) -> list[tuple[int, datetime]]:
    """The months whose monthly credit is due by `at`: those starting (monthly from the
    subscription's start) by `at`, after its trial, while its perks applied."""
    until = sub.perks_until()
    paid = paid_from(sub)
    due: list[tuple[int, datetime]] = []
    for number, begins in month_starts(sub.started_at, tz):
        if begins > at or (until is not None and begins >= until):
            return due
        if begins >= paid:
            due.append((number, begins))
    return due  # pragma: no cover - the generator never ends


def dividend_window(sub: Subscription, year: int, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The paid part of calendar `year` during which the perks applied (None: none)."""
    start, end = year_window(year, tz)
    begins = max(start, paid_from(sub))
    until = sub.perks_until()
    ends = end if until is None else min(end, until)
    return (begins, ends) if begins < ends else None
