"""Referrals: the program's policy, the referral a friend brings with enrolment or a first
order, what an admin decides, and the views of referrals, codes and statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, EmailStr, Field, StrictInt, model_validator

from patron.schemas.common import Money, Strict

Status = Literal["pending", "qualifying", "held", "rewarded", "rejected", "void"]
Line = Annotated[str, Field(min_length=1, max_length=200)]
Count = Annotated[StrictInt, Field(ge=0, le=1_000_000)]


class ReferralRewardIn(Strict):
    """Points, or the catalogue code (or id) of a reward granted without points."""

    points: Annotated[StrictInt, Field(gt=0, le=100_000_000)] | None = None
    reward: Annotated[str, Field(min_length=1, max_length=64)] | None = None

    @model_validator(mode="after")
    def _one(self) -> ReferralRewardIn:
        if (self.points is None) == (self.reward is None):
            raise ValueError("give either points or reward")
        return self


class ReferralChecksIn(Strict):
    """The fraud checks; each on unless turned off. `velocity_per_day`: the most friends
    an advocate may bring in one day (program time zone) before the next is held."""

    email: bool = True
    phone: bool = True
    address: bool = True
    ip: bool = True
    device: bool = True
    already_customer: bool = True
    velocity_per_day: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None


class ReferralLimitsIn(Strict):
    """Advocate rewards per advocate: per calendar month and in total (null: no limit)."""

    per_month: Count | None = None
    total: Count | None = None


class ReferralPolicyIn(Strict):
    """A program's referral policy (replaces the previous one)."""

    base_url: Annotated[str, Field(max_length=500, pattern=r"^https?://[^\s]+$")]
    friend_reward: ReferralRewardIn | None = None
    advocate_reward: ReferralRewardIn | None = None
    min_order: Money | None = Field(None, description="Smallest qualifying order total")
    checks: ReferralChecksIn = ReferralChecksIn()
    limits: ReferralLimitsIn = ReferralLimitsIn()


class ReferralPolicyView(ReferralPolicyIn):
    pass


class AddressIn(Strict):
    line1: Line
    line2: Line | None = None
    city: Line | None = None
    region: Line | None = None
    postal_code: Annotated[str, Field(max_length=32)] | None = None
    country: Annotated[str, Field(max_length=2, pattern=r"^[A-Za-z]{2}$")] | None = None

    def parts(self) -> list[str | None]:
        return [self.line1, self.line2, self.city, self.region, self.postal_code, self.country]


Ip = Annotated[str, Field(min_length=2, max_length=64, pattern=r"^[0-9A-Fa-f:.]+$")]
DeviceId = Annotated[str, Field(min_length=1, max_length=128)]


class ReferralIn(Strict):
    """The advocate's code a friend enrols with, and what the checks compare."""

    code: Annotated[str, Field(min_length=1, max_length=32)]
    ip: Ip | None = None
    device_id: DeviceId | None = None
    shipping_address: AddressIn | None = None


class DecisionIn(Strict):
    """An admin's approval or rejection of a referral."""

    note: Annotated[str, Field(min_length=1, max_length=500)]


class InviteIn(Strict):
    """A share the advocate made (Patron sends nothing; it counts as `invited`)."""

    email: EmailStr


class FindingView(BaseModel):
    check: str
    reason: str


class DecisionView(BaseModel):
    status: str
    reason: str
    note: str | None = None
    at: datetime


class GivenRewardView(BaseModel):
    """A reward given (points and their ledger transaction, or a granted coupon), or why
    it could not be given (`error`)."""

    points: int = 0
    transaction_id: int | None = None
    reward: str | None = None
    redemption_id: str | None = None
    code: str | None = None
    error: str | None = None


class ReferralView(BaseModel):
    id: str
    advocate_customer_id: str
    friend_customer_id: str
    code: str
    channel: Literal["enrolment", "order"]
    status: Status
    findings: list[FindingView]
    decisions: list[DecisionView]
    order_id: str | None = Field(description="The friend's first qualifying order")
    qualifies_at: datetime | None = Field(description="When its return window ends")
    friend_reward: GivenRewardView | None
    advocate_reward: GivenRewardView | None
    friend_rewarded_at: datetime | None
    advocate_rewarded_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ReferralStatsView(BaseModel):
    """`invited`: shares recorded; `enrolled`: friends referred; `qualified`: friends with a
    qualifying order; `rewarded`: advocate rewards given; the rest count by status."""

    invited: int
    enrolled: int
    qualified: int
    rewarded: int
    friends_rewarded: int
    pending: int
    qualifying: int
    held: int
    rejected: int
    void: int


class InviteView(BaseModel):
    email: str
    created_at: datetime


class MemberReferralView(BaseModel):
    customer_id: str
    code: str | None = Field(description="null while the program has no referral policy")
    link: str | None = Field(description="null while the program has no referral policy")
    referred_by: str | None = Field(description="The referral that brought this member")
    stats: ReferralStatsView
    invites: list[InviteView]
