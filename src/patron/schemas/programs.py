"""Program configuration."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import AfterValidator, BaseModel, Field, StrictInt

from patron.domain.calendar import Period
from patron.domain.expiry import ExpiryKind
from patron.domain.program import RefundPolicy
from patron.domain.rounding import Rounding
from patron.domain.tiers import DowngradeMode, TierMetric, WindowKind
from patron.schemas.common import Currency, Strict


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    if value not in available_timezones() and value != "UTC":
        raise ValueError(f"unknown time zone {value!r}")
    return value


#: An IANA time zone name such as "Asia/Taipei".
TimeZone = Annotated[str, AfterValidator(_time_zone)]
DaysBefore = Annotated[StrictInt, Field(ge=1, le=365)]
RewardCode = Annotated[str, Field(min_length=1, max_length=64)]
TierCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]


class ExpiryIn(Strict):
    """When points expire: `never`; `fixed` (each lot `months` after it was earned,
    rounded up to the end of `round_to`); `activity` (the whole balance, after `months`
    without earning). `remind_days`: send `points.expiring` that many days before."""

    kind: ExpiryKind = ExpiryKind.NEVER
    months: Annotated[StrictInt, Field(ge=0, le=120)] = 0
    round_to: Period | None = None
    remind_days: Annotated[
        list[Annotated[StrictInt, Field(ge=1, le=365)]], Field(max_length=5)
    ] = []


class TierLevelIn(Strict):
    """A level: reached at `threshold` of the ladder's metric, kept at `retain_threshold`."""

    code: TierCode
    name: Annotated[str, Field(min_length=1, max_length=100)]
    threshold: Annotated[StrictInt, Field(ge=0, le=10**12)]
    retain_threshold: Annotated[StrictInt, Field(ge=0, le=10**12)] | None = None
    multiplier: Annotated[Decimal, Field(ge=1, le=100, decimal_places=2)] = Decimal(1)
    perks: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=50)] = []
    entry_reward_points: Annotated[StrictInt, Field(ge=0, le=10**9)] = 0
    reward_prices: dict[
        Annotated[str, Field(max_length=64)], Annotated[StrictInt, Field(gt=0)]
    ] = {}


class TiersIn(Strict):
    """A tier ladder, lowest level first. `metric` over `window` decides the level."""

    levels: Annotated[list[TierLevelIn], Field(min_length=1, max_length=20)]
    metric: TierMetric
    window: WindowKind
    window_months: Annotated[StrictInt, Field(ge=1, le=60)] = 12
    grace_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    downgrade: DowngradeMode = DowngradeMode.ONE_STEP


class PointValue(Strict):
    """`points` points are worth `amount` minor units (100 points = 100 cents = 1.00)."""

    points: Annotated[StrictInt, Field(gt=0, le=10**9)] = 100
    amount: Annotated[StrictInt, Field(gt=0, le=10**9)] = 100


class EarnRate(Strict):
    """`points` points per `per_amount` minor units of eligible spend (1 per 100 = 1 per 1.00)."""

    points: Annotated[StrictInt, Field(ge=0, le=10**6)] = 1
    per_amount: Annotated[StrictInt, Field(gt=0, le=10**9)] = 100


class ProgramIn(Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    points_name: Annotated[str, Field(min_length=1, max_length=64)] = "points"
    currency: Currency
    time_zone: TimeZone = "UTC"
    point_value: PointValue = PointValue()
    earn_rate: EarnRate = EarnRate()
    rounding: Rounding = Rounding.FLOOR
    include_shipping: bool = False
    include_tax: bool = False
    pending_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    refund_policy: RefundPolicy = RefundPolicy.CLAWBACK
    auto_enroll: bool = True
    expiry: ExpiryIn = ExpiryIn()
    tiers: TiersIn | None = None


class ProgramView(ProgramIn):
    """A program as stored (same fields as when it was created)."""

    model_config = {"extra": "ignore"}


class ProgramUpdate(Strict):
    """Fields of a program that may change after it runs (absent: unchanged)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    pending_days: Annotated[StrictInt, Field(ge=0, le=365)] | None = None
    auto_enroll: bool | None = None
    expiry: ExpiryIn | None = None
    tiers: TiersIn | None = None


class TemplateIn(Strict):
    """Create a program from a template (`GET /v1/program-templates` lists them)."""

    template: Annotated[str, Field(min_length=1, max_length=64)]
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    currency: Currency
    time_zone: TimeZone = "UTC"


class TemplateView(BaseModel):
    name: str
    description: str


class ProgramSummary(BaseModel):
    code: str
    name: str
    currency: str
