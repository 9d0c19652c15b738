"""Tiers: the ladder of member levels, the windows they are earned in, and status decisions.

A member reaches a level when a metric (spend, points earned or paid orders) counted over
the ladder's qualification window meets the level's entry threshold; upgrades take effect
at once (`upgrade`). A level reached in a calendar or membership year is kept through the
end of the NEXT such year ("Gold for the rest of this year and all of next year",
`status_ends_at`); when it ends, the metric of the year just ended decides whether the
member keeps it (`evaluate_period_end`), against the level's lower retain threshold.
Rolling windows have no status period: the status is re-evaluated every day.

All instants are aware and returned in UTC; days, months and years are the program's
(`calendar.py`). Windows are half-open [start, end).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from fractions import Fraction
from zoneinfo import ZoneInfo

from patron.domain.calendar import (
    BEGINNING,
    END_OF_TIME,
    Period,
    add_months,
    local_date,
    period_window,
    require_aware,
    start_of_day,
)
from patron.domain.errors import InvalidInput, parse_enum

#: The longest rolling window a ladder may count over (five years).
MAX_WINDOW_MONTHS = 60


class TierMetric(StrEnum):
    """What a ladder counts."""

    #: Eligible spend in minor units, net of refunds.
    SPEND = "spend"
    #: Points earned; spending points never lowers it.
    POINTS = "points"
    #: Number of paid orders.
    ORDERS = "orders"


class WindowKind(StrEnum):
    """The span the metric is counted over."""

    LIFETIME = "lifetime"
    CALENDAR_YEAR = "calendar_year"
    #: The last `window_months` months up to and including today.
    ROLLING_MONTHS = "rolling_months"
    #: The membership year, starting each year on the enrolment's local month and day.
    ANNIVERSARY = "anniversary"


class DowngradeMode(StrEnum):
    """Where a member who did not keep a level at period end lands."""

    #: One level down, whatever the metric.
    ONE_STEP = "one_step"
    #: The highest level (at most the current) whose retain threshold the metric meets.
    RECALCULATE = "recalculate"


class RewardPrices(Mapping[str, int]):
    """An immutable, hashable mapping of reward code to points cost, so a level hashes."""

    __slots__ = ("_prices",)

    def __init__(self, prices: Mapping[str, int] | Iterable[tuple[str, int]] = ()) -> None:
        self._prices: dict[str, int] = dict(prices)

    def __getitem__(self, code: str) -> int:
        return self._prices[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def __hash__(self) -> int:
        return hash(frozenset(self._prices.items()))

    def __repr__(self) -> str:
        return f"RewardPrices({self._prices!r})"


@dataclass(frozen=True, slots=True)
class TierLevel:
    """One rung of a ladder. Checked by its ladder, which knows its position for errors.

    `threshold` is the metric needed to enter the level; `retain_threshold` the metric
    needed in a status period to keep it (None: the same as `threshold`). `multiplier`
    scales earning; `entry_reward_points` are granted once per level and status period on
    upgrade; `reward_prices` override rewards' point costs at this level.
    """

    code: str
    name: str
    threshold: int
    retain_threshold: int | None = None
    multiplier: Fraction = Fraction(1)
    perks: tuple[str, ...] = ()
    entry_reward_points: int = 0
    reward_prices: Mapping[str, int] = field(default_factory=RewardPrices)

    def __post_init__(self) -> None:
        # Storage and JSON give lists, dicts and decimal strings; normalise them so a level
        # is immutable, hashable and exact however it was built.
        object.__setattr__(self, "multiplier", Fraction(self.multiplier))
        object.__setattr__(self, "perks", tuple(self.perks))
        if not isinstance(self.reward_prices, RewardPrices):
            object.__setattr__(self, "reward_prices", RewardPrices(self.reward_prices))

    @property
    def keep_threshold(self) -> int:
        """The metric needed in a status period to keep this level."""
        return self.threshold if self.retain_threshold is None else self.retain_threshold

    def validate(self, prefix: str = "tier") -> None:
        """Raise InvalidInput naming `{prefix}.{field}` for the first broken rule."""
        if not self.code.strip():
            raise InvalidInput("a tier needs a code", field=f"{prefix}.code")
        if self.threshold < 0:
            raise InvalidInput("a threshold cannot be negative", field=f"{prefix}.threshold")
        if self.retain_threshold is not None and not 0 <= self.retain_threshold <= self.threshold:
            raise InvalidInput(
                "a retain threshold is between 0 and the entry threshold",
                field=f"{prefix}.retain_threshold",
            )
        if self.multiplier < 1:
            raise InvalidInput("a multiplier is at least 1", field=f"{prefix}.multiplier")
        if self.entry_reward_points < 0:
            raise InvalidInput(
                "entry reward points cannot be negative", field=f"{prefix}.entry_reward_points"
            )
        for reward, cost in self.reward_prices.items():
            if cost < 0:
                raise InvalidInput(
                    "a reward price cannot be negative", field=f"{prefix}.reward_prices.{reward}"
                )


@dataclass(frozen=True, slots=True)
class TierLadder:
    """A program's levels, lowest first, and how members move between them.

    Checked when built (InvalidInput names a `tiers.*` field): at least one level; codes
    distinct; entry thresholds >= 0 and strictly ascending; each retain threshold at most
    its entry threshold, and retain thresholds never lower than a lower level's (else a
    higher level would be easier to keep than a lower one); multipliers >= 1;
    `window_months` 1..60 for rolling windows (ignored otherwise); `grace_days` >= 0.
    """

    levels: tuple[TierLevel, ...]
    metric: TierMetric
    window: WindowKind
    window_months: int = 12
    grace_days: int = 0
    downgrade: DowngradeMode = DowngradeMode.ONE_STEP

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        object.__setattr__(self, "metric", parse_enum(TierMetric, self.metric, "tiers.metric"))
        object.__setattr__(self, "window", parse_enum(WindowKind, self.window, "tiers.window"))
        object.__setattr__(
            self, "downgrade", parse_enum(DowngradeMode, self.downgrade, "tiers.downgrade")
        )
        self.validate()

    def validate(self) -> None:
        """Raise InvalidInput naming the first field that breaks the rules above."""
        if not self.levels:
            raise InvalidInput("a tier ladder needs at least one level", field="tiers.levels")
        seen: set[str] = set()
        for index, level in enumerate(self.levels):
            prefix = f"tiers.levels.{index}"
            level.validate(prefix)
            if level.code in seen:
                raise InvalidInput(
                    f"tier code {level.code!r} appears twice", field=f"{prefix}.code"
                )
            seen.add(level.code)
            if index > 0:
                _check_above(self.levels[index - 1], level, prefix)
        if self.window is WindowKind.ROLLING_MONTHS and not (
            1 <= self.window_months <= MAX_WINDOW_MONTHS
        ):
            raise InvalidInput(
                f"a rolling window is 1 to {MAX_WINDOW_MONTHS} months", field="tiers.window_months"
            )
        if self.grace_days < 0:
            raise InvalidInput("grace days cannot be negative", field="tiers.grace_days")

    @property
    def lowest(self) -> TierLevel:
        return self.levels[0]

    def index(self, code: str) -> int:
        """The position of level `code`, lowest 0; InvalidInput (field `tier`) if none."""
        for index, level in enumerate(self.levels):
            if level.code == code:
                return index
        raise InvalidInput(f"the ladder has no tier {code!r}", field="tier")

    def level(self, code: str) -> TierLevel:
        """Level `code`; InvalidInput (field `tier`) if the ladder has none."""
        return self.levels[self.index(code)]


def _check_above(below: TierLevel, level: TierLevel, prefix: str) -> None:
    if level.threshold <= below.threshold:
        raise InvalidInput(
            "thresholds must rise strictly from one level to the next", field=f"{prefix}.threshold"
        )
    if level.keep_threshold < below.keep_threshold:
        raise InvalidInput(
            "a level cannot be easier to keep than the level below it",
            field=f"{prefix}.retain_threshold",
        )


# -- windows and status periods ----------------------------------------------------------


def qualification_window(
    ladder: TierLadder, at: datetime, enrolled_at: datetime, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The [start, end) span (UTC) over which the metric counts at instant `at`.

    LIFETIME: (BEGINNING, END_OF_TIME). CALENDAR_YEAR: the local year containing `at`.
    ROLLING_MONTHS: the `window_months` months ending with the local day of `at`, today
    included: [start of (today - n months) + 1 day, start of today + 1 day); on 2026-03-15
    with 12 months that is 2025-03-16 00:00 to 2026-03-16 00:00 local (month-end clamping:
    on 2026-03-31 with 1 month, 2026-03-01 to 2026-04-01). ANNIVERSARY: the membership year
    containing `at` (`membership_year`).
    """
    _aware(at)
    if ladder.window is WindowKind.LIFETIME:
        return BEGINNING, END_OF_TIME
    if ladder.window is WindowKind.CALENDAR_YEAR:
        return period_window(at, Period.YEAR, tz)
    if ladder.window is WindowKind.ROLLING_MONTHS:
        today = local_date(at, tz)
        first = add_months(today, -ladder.window_months) + timedelta(days=1)
        return start_of_day(first, tz), start_of_day(today + timedelta(days=1), tz)
    return membership_year(at, enrolled_at, tz)


def membership_year(at: datetime, enrolled_at: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The membership year containing `at`, [start, end) in UTC.

    Years start at local midnight on the enrolment's local month and day; a member enrolled
    on Feb 29 starts the year on Feb 28 in years without one (and on Feb 29 again in leap
    years). An instant before enrolment falls in an earlier year counted the same way.
    """
    enrolled = local_date(_aware(enrolled_at), tz)
    today = local_date(_aware(at), tz)
    years = today.year - enrolled.year
    if _anniversary(enrolled, years) > today:
        years -= 1
    start, end = _anniversary(enrolled, years), _anniversary(enrolled, years + 1)
    return start_of_day(start, tz), start_of_day(end, tz)


def _anniversary(enrolled: date, years: int) -> date:
    # Counted from enrolment, never from the previous anniversary, so a Feb 29 enrolment
    # comes back to Feb 29 in leap years instead of sticking at Feb 28.
    return add_months(enrolled, 12 * years)


def status_period(
    ladder: TierLadder, at: datetime, enrolled_at: datetime, tz: ZoneInfo
) -> tuple[datetime, datetime]:
    """The status period containing `at`, [start, end) in UTC: the span whose metric decides,
    at its end, whether a status running out then is kept.

    CALENDAR_YEAR and ANNIVERSARY: the qualification window. LIFETIME: all time (a status is
    never re-evaluated). ROLLING_MONTHS: the local day containing `at`, since the status is
    re-evaluated daily against the rolling window.
    """
    if ladder.window is WindowKind.ROLLING_MONTHS:
        return period_window(_aware(at), Period.DAY, tz)
    return qualification_window(ladder, at, enrolled_at, tz)


def status_ends_at(
    ladder: TierLadder, reached_at: datetime, enrolled_at: datetime, tz: ZoneInfo
) -> datetime | None:
    """When a level reached (or kept) at `reached_at` runs out, in UTC; None if it does not.

    CALENDAR_YEAR and ANNIVERSARY: the end of the status period AFTER the one containing
    `reached_at` (Gold reached in 2026 is Gold through 2027, ending 2028-01-01 00:00
    local). LIFETIME and ROLLING_MONTHS: None (a lifetime status never ends; a rolling
    status is re-evaluated daily). For the level decided when a status ends, see `kept_until`.
    """
    if ladder.window in (WindowKind.LIFETIME, WindowKind.ROLLING_MONTHS):
        return None
    current_end = status_period(ladder, reached_at, enrolled_at, tz)[1]
    return kept_until(ladder, current_end, enrolled_at, tz)


def kept_until(
    ladder: TierLadder, period_end: datetime, enrolled_at: datetime, tz: ZoneInfo
) -> datetime | None:
    """When the level decided by `evaluate_period_end` at `period_end` runs out, in UTC.

    `period_end` is the end of the status period whose metric was evaluated; the level
    kept (or downgraded to) is held through the next status period, like a level reached
    during the period just ended: Gold kept on 2027's metric is Gold through 2028. None for
    LIFETIME and ROLLING_MONTHS, as in `status_ends_at`.
    """
    if ladder.window in (WindowKind.LIFETIME, WindowKind.ROLLING_MONTHS):
        return None
    return status_period(ladder, period_end, enrolled_at, tz)[1]


def grace_ends_at(ladder: TierLadder, lapsed_at: datetime, tz: ZoneInfo) -> datetime:
    """When a downgrade decided at `lapsed_at` (a status end, a local midnight) takes effect.

    `grace_days` whole local days later, at local midnight, whatever daylight saving does
    in between; `lapsed_at` itself when there is no grace.
    """
    if ladder.grace_days == 0:
        return _aware(lapsed_at)
    return start_of_day(local_date(_aware(lapsed_at), tz) + timedelta(days=ladder.grace_days), tz)


# -- decisions ---------------------------------------------------------------------------


def reached(ladder: TierLadder, metric_value: int) -> TierLevel | None:
    """The highest level whose entry threshold `metric_value` meets; None if it meets none."""
    found: TierLevel | None = None
    for level in ladder.levels:
        if level.threshold > metric_value:
            break
        found = level
    return found


def level_for(ladder: TierLadder, metric_value: int) -> TierLevel:
    """The highest level whose entry threshold `metric_value` meets; the lowest if none."""
    return reached(ladder, metric_value) or ladder.lowest


def upgrade(ladder: TierLadder, current: str | None, metric_value: int) -> TierLevel | None:
    """The level a member at `current` (None: no level yet) moves up to, or None.

    The highest level `metric_value` has reached, if it is above `current`; never a
    downgrade. A member without a level gets the lowest level only once its threshold is met.
    """
    target = reached(ladder, metric_value)
    if target is None:
        return None
    if current is not None and ladder.index(target.code) <= ladder.index(current):
        return None
    return target


def evaluate_period_end(
    ladder: TierLadder, current: str, metric_value_in_ended_period: int
) -> TierLevel:
    """The level a member at `current` holds after a status period ends.

    Kept if the ended period's metric meets `current`'s retain threshold. Otherwise
    ONE_STEP: one level down (the lowest level stays the lowest), whatever the metric:
    the metric is below `current`'s entry threshold, so one step down is never below
    `level_for(metric)`. RECALCULATE: the highest level at or below `current` whose retain
    threshold the metric meets (a member coming down keeps a level on its retain threshold,
    as if they had held it), the lowest level if none. Never an upgrade: that is `upgrade`'s.
    """
    index = ladder.index(current)
    value = metric_value_in_ended_period
    if value >= ladder.levels[index].keep_threshold:
        return ladder.levels[index]
    if ladder.downgrade is DowngradeMode.ONE_STEP:
        return ladder.levels[max(index - 1, 0)]
    for level in reversed(ladder.levels[:index]):
        if value >= level.keep_threshold:
            return level
    return ladder.lowest


def period_end_table(ladder: TierLadder) -> dict[str, tuple[tuple[int, str], ...]]:
    """`evaluate_period_end` as a table, for set-based evaluation in SQL: for each current
    level, (least metric, resulting level) steps, highest first — the result for a metric
    is the first step whose least metric it reaches.

    Built by evaluating `evaluate_period_end` itself at every threshold (the only points
    where its result can change), so the table and the function cannot disagree.
    """
    points = sorted(
        {0}
        | {level.threshold for level in ladder.levels}
        | {level.keep_threshold for level in ladder.levels}
    )
    table: dict[str, tuple[tuple[int, str], ...]] = {}
    for level in ladder.levels:
        steps: list[tuple[int, str]] = []
        for value in points:
            result = evaluate_period_end(ladder, level.code, value).code
            if not steps or steps[-1][1] != result:
                steps.append((value, result))
        table[level.code] = tuple(reversed(steps))
    return table


@dataclass(frozen=True, slots=True)
class TierProgress:
    """Where a member stands: what is missing for the next level and to keep this one.

    `missing_for_next` is None at the top level and 0 when the next threshold is already
    met (the upgrade is due). `needed_to_keep` is 0 when the level is already kept.
    """

    current: str
    next: str | None
    missing_for_next: int | None
    needed_to_keep: int
    metric: str


def progress(
    ladder: TierLadder, current: str, metric_value: int, retain_value: int
) -> TierProgress:
    """A member's progress at level `current`.

    `metric_value` counts towards the next level (the qualification window's metric);
    `retain_value` towards keeping `current` (the current status period's metric; the same
    number for rolling and lifetime windows). `next` is the level directly above `current`.
    """
    index = ladder.index(current)
    level = ladder.levels[index]
    above = ladder.levels[index + 1] if index + 1 < len(ladder.levels) else None
    return TierProgress(
        current=level.code,
        next=above.code if above else None,
        missing_for_next=max(0, above.threshold - metric_value) if above else None,
        needed_to_keep=max(0, level.keep_threshold - retain_value),
        metric=ladder.metric.value,
    )


def _aware(instant: datetime) -> datetime:
    return require_aware(instant, "tiers")
