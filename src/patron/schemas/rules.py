"""Earning rules and custom event types, as the API takes and shows them.

The shapes here are translated to the domain's `RuleSpec` by `services.rules`; the domain
checks what depends on more than one field (e.g. order-only conditions on a signup rule).
A rule version is stored in this API form, so what was configured is what is shown.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from patron.domain.calendar import Period
from patron.domain.rounding import Rounding
from patron.domain.rules import AwardKind, Stacking, Trigger
from patron.schemas.common import Money, Points, Strict

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Labels = Annotated[list[Label], Field(max_length=200)]
Count = Annotated[StrictInt, Field(gt=0, le=10**9)]


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


class LineFilterIn(Strict):
    """Lines whose sku, category or one of whose tags is listed (an empty list: any)."""

    skus: Labels = []
    categories: Labels = []
    tags: Labels = []


class ConditionsIn(Strict):
    """Every condition set must hold. `expression` is CEL over `event` and `member`."""

    min_subtotal: Money | None = None
    lines: LineFilterIn | None = None
    brands: Labels = []
    channels: Labels = []
    first_order: bool | None = None
    member_tags: Labels = []
    tiers: Labels = []
    segments: Labels = []
    expression: Annotated[str, Field(min_length=1, max_length=4000)] | None = None


class CreditSchedule(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class AwardIn(Strict):
    """What a matching event earns.

    - `fixed_points`: `points`;
    - `points_per_amount`: `points` per `per_amount` of the matching lines' eligible spend;
    - `multiplier`: the base earning times `multiplier` (2 = double points);
    - `percent_back`: `percent` of the matching lines' eligible spend as store credit.
    """

    kind: AwardKind
    points: Annotated[StrictInt, Field(ge=0, le=10**9)] = 0
    per_amount: Money | None = None
    multiplier: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] | None = None
    percent: Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)] | None = None
    rounding: Rounding = Rounding.FLOOR
    #: percent_back only: when the store credit is issued — after the order's return
    #: window (None), or accumulated and issued at the end of the local `month`,
    #: `quarter` or `year` (and never before the return window ends).
    issue: CreditSchedule | None = None


class LimitIn(Strict):
    """At most `max_awards` awards and/or `max_points` points per member per `period`,
    counted separately for each value of the payload field `per` when it is set."""

    period: Period
    max_awards: Count | None = None
    max_points: Count | None = None
    per: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")] | None = None


class HoursIn(Strict):
    """Local hours [start, end): 9 to 17 is from 09:00 to 16:59."""

    start: Annotated[StrictInt, Field(ge=0, le=23)]
    end: Annotated[StrictInt, Field(ge=1, le=24)]


class ScheduleIn(Strict):
    """When the rule is active; days and hours are in the program's time zone."""

    active_from: AwareDatetime | None = None
    active_to: AwareDatetime | None = None
    days_of_week: Annotated[list[Weekday], Field(max_length=7)] = []
    hours: HoursIn | None = None


class RuleExpiryIn(Strict):
    """The points of this rule expire `months` after they are earned (rounded up to the end
    of `round_to`), instead of by the program's policy."""

    months: Annotated[StrictInt, Field(ge=1, le=120)]
    round_to: Period | None = None


class RuleIn(Strict):
    """A rule version. Saving a rule that exists makes its next version."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    trigger: Trigger
    event_type: Code | None = None
    conditions: ConditionsIn = ConditionsIn()
    award: AwardIn
    limits: Annotated[list[LimitIn], Field(max_length=10)] = []
    budget_points: Points | None = None
    schedule: ScheduleIn = ScheduleIn()
    priority: Annotated[StrictInt, Field(ge=-1000, le=1000)] = 0
    stacking: Stacking = Stacking.STACK
    active: bool = True
    expiry: RuleExpiryIn | None = None
    #: When this version takes effect (default: now). Events that occurred earlier are
    #: evaluated with the version in force then.
    effective_from: AwareDatetime | None = None


class NewRuleIn(RuleIn):
    code: Code


class RuleVersionView(BaseModel):
    version: int
    effective_from: datetime
    created_at: datetime
    spec: dict[str, Any]


class RuleView(BaseModel):
    code: str
    current: RuleVersionView | None
    versions: list[RuleVersionView]


class EventTypeIn(Strict):
    """A custom event type: its name and the JSON schema its payload must satisfy."""

    name: Code
    description: Annotated[str, Field(max_length=1000)] | None = None
    payload_schema: dict[str, Any] = {"type": "object"}


class EventTypeView(BaseModel):
    name: str
    description: str | None
    payload_schema: dict[str, Any]
