"""Segments as the API takes and shows them.

A segment's filter is stored in this API form (`SegmentFilterIn.model_dump`), so what was
configured is what is shown; `to_domain` translates it for evaluation. Bounds that need no
context are checked here; the rest (inverted ranges, unknown tiers, brands, plans) by
`services.segments`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from patron.domain.member import MemberStatus
from patron.domain.memberships import Status
from patron.domain.money import MAX_AMOUNT
from patron.domain.segments import (
    HOLDING,
    Interval,
    LastOrder,
    Membership,
    Range,
    Rfm,
    SegmentFilter,
    Tags,
)
from patron.schemas.common import Strict

Code = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Labels = Annotated[list[Label], Field(max_length=200)]
Bound = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
Days = Annotated[StrictInt, Field(ge=1, le=36500)]
Score = Annotated[StrictInt, Field(ge=1, le=5)]
Total = Annotated[StrictInt, Field(ge=3, le=15)]


class RangeIn(Strict):
    """Inclusive bounds; either may be left out."""

    min: Bound | None = None
    max: Bound | None = None

    def to_domain(self) -> Range:
        return Range(self.min, self.max)


class TagsIn(Strict):
    """`any`: at least one of these tags; `all`: every one of them."""

    any: Labels = []
    all: Labels = []


class LastOrderIn(Strict):
    """`within_days`: an order in the last N days; `none_for_days`: none in the last N days
    (members who never ordered included); `after`/`before`: the last order's instant in
    [after, before)."""

    within_days: Days | None = None
    none_for_days: Days | None = None
    after: AwareDatetime | None = None
    before: AwareDatetime | None = None


class RfmIn(Strict):
    """Bounds on the recency, frequency and monetary scores (1-5, quintiles over the
    program's members, scored by the daily `rfm` job) and on their sum `score` (3-15)."""

    r_min: Score | None = None
    r_max: Score | None = None
    f_min: Score | None = None
    f_max: Score | None = None
    m_min: Score | None = None
    m_max: Score | None = None
    score_min: Total | None = None
    score_max: Total | None = None

    def to_domain(self) -> Rfm:
        return Rfm(
            recency=Range(self.r_min, self.r_max),
            frequency=Range(self.f_min, self.f_max),
            monetary=Range(self.m_min, self.m_max),
            total=Range(self.score_min, self.score_max),
        )


class MembershipIn(Strict):
    """A subscription to one of `plans` (any plan when empty) in one of `statuses`."""

    statuses: Annotated[list[Status], Field(min_length=1, max_length=6)] = list(HOLDING)
    plans: Labels = []


class IntervalIn(Strict):
    """Instants in [after, before)."""

    after: AwareDatetime | None = None
    before: AwareDatetime | None = None


class SegmentFilterIn(Strict):
    """Every criterion that is set must hold. Amounts are minor units of the program's
    currency; order criteria count the orders that occurred by the evaluation instant."""

    tiers: Labels = []
    tags: TagsIn | None = None
    spend: RangeIn | None = Field(None, description="Total spend net of refunds")
    orders: RangeIn | None = Field(None, description="Number of orders")
    last_order: LastOrderIn | None = None
    rfm: RfmIn | None = None
    birthday_months: Annotated[
        list[Annotated[StrictInt, Field(ge=1, le=12)]], Field(max_length=12)
    ] = []
    membership: MembershipIn | None = None
    referrals: RangeIn | None = Field(None, description="Rewarded referrals as advocate")
    brands: Labels = Field([], description="At least one order at one of these brands")
    status: Annotated[list[MemberStatus], Field(max_length=2)] = []
    enrolled: IntervalIn | None = None

    def to_domain(self) -> SegmentFilter:
        tags = self.tags
        last = self.last_order
        return SegmentFilter(
            tiers=tuple(self.tiers),
            tags=Tags(tuple(tags.any), tuple(tags.all)) if tags else None,
            spend=self.spend.to_domain() if self.spend else Range(),
            orders=self.orders.to_domain() if self.orders else Range(),
            last_order=(
                LastOrder(last.within_days, last.none_for_days, last.after, last.before)
                if last
                else None
            ),
            rfm=self.rfm.to_domain() if self.rfm else None,
            birthday_months=tuple(self.birthday_months),
            membership=(
                Membership(tuple(self.membership.statuses), tuple(self.membership.plans))
                if self.membership
                else None
            ),
            referrals=self.referrals.to_domain() if self.referrals else Range(),
            brands=tuple(self.brands),
            status=tuple(status.value for status in self.status),
            enrolled=Interval(self.enrolled.after, self.enrolled.before) if self.enrolled else None,
        )


class SegmentIn(Strict):
    """Replace a segment's name and filter (PUT)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=1000)] | None = None
    filter: SegmentFilterIn


class NewSegmentIn(SegmentIn):
    code: Code


class PreviewIn(Strict):
    """An unsaved filter: its count and first page of members."""

    filter: SegmentFilterIn
    limit: Annotated[StrictInt, Field(ge=1, le=200)] = 50


class SegmentView(BaseModel):
    code: str
    name: str
    description: str | None
    filter: SegmentFilterIn
    created_at: datetime
    updated_at: datetime


class SegmentMemberView(BaseModel):
    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    status: str
    tier: str | None
    enrolled_at: datetime


class SegmentCount(BaseModel):
    code: str | None
    count: int
    at: datetime


class PreviewView(BaseModel):
    count: int
    at: datetime
    data: list[SegmentMemberView]
