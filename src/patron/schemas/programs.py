"""Program configuration."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import BaseModel, Field, StrictInt, field_validator

from patron.domain.program import RefundPolicy
from patron.domain.rounding import Rounding
from patron.schemas.common import Currency, Strict


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
    time_zone: str = "UTC"
    point_value: PointValue = PointValue()
    earn_rate: EarnRate = EarnRate()
    rounding: Rounding = Rounding.FLOOR
    include_shipping: bool = False
    include_tax: bool = False
    pending_days: Annotated[StrictInt, Field(ge=0, le=365)] = 0
    refund_policy: RefundPolicy = RefundPolicy.CLAWBACK
    auto_enroll: bool = True

    @field_validator("time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        if value not in available_timezones() and value != "UTC":
            raise ValueError(f"unknown time zone {value!r}")
        return value


class ProgramView(ProgramIn):
    """A program as stored (same fields as when it was created)."""

    model_config = {"extra": "ignore"}


class ProgramSummary(BaseModel):
    code: str
    name: str
    currency: str
