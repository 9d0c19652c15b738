"""Members: enrolment, updates and what the API shows of them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, EmailStr, Field, field_validator

from patron.schemas.common import ExternalId, Strict
from patron.schemas.memberships import MembershipsView
from patron.schemas.referrals import ReferralIn
from patron.schemas.store_credit import StoreCreditView

Tag = Annotated[str, Field(min_length=1, max_length=64)]
Phone = Annotated[str, Field(max_length=32, pattern=r"^\+?[0-9 ()-]{3,32}$")]
Locale = Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")]
Name = Annotated[str, Field(max_length=200)]


class MemberProfile(Strict):
    """The member's profile fields; all optional."""

    email: EmailStr | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    birthday: date | None = None
    locale: Locale | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] = []
    marketing_consent: bool = False


class EnrollMember(MemberProfile):
    """Enrol a customer of the store, known by its own id there."""

    external_id: ExternalId
    referral: ReferralIn | None = Field(
        None, description="An advocate's referral code the customer enrols with"
    )


class UpdateMember(Strict):
    """Change some fields of a member; fields left out stay as they are."""

    email: EmailStr | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Phone | None = None
    birthday: date | None = None
    locale: Locale | None = None
    tags: Annotated[list[Tag], Field(max_length=50)] | None = None
    marketing_consent: bool | None = None
    status: Literal["active", "blocked"] | None = None
    chosen_day: date | None = Field(
        None, description="The member's day of the year on which a tier perk multiplies points"
    )

    @field_validator("status", "tags", "marketing_consent", "chosen_day")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # Leave a field out to keep it; these cannot be cleared.
        if value is None:
            raise ValueError("may be left out, but not null")
        return value


class BalanceView(BaseModel):
    """Points now spendable, points waiting for the return window, and debt from clawbacks."""

    available: int
    pending: int
    debt: int
    lifetime_earned: int


class EntryView(BaseModel):
    account: str
    amount: int
    lot_id: int | None


class LedgerTransactionView(BaseModel):
    id: int
    kind: str
    points: int = Field(description="Net change of the member's points (available + pending)")
    reason: str | None
    details: dict[str, object]
    entries: list[EntryView]
    occurred_at: datetime
    created_at: datetime


class TierView(BaseModel):
    """Where the member stands on the program's tier ladder."""

    current: str
    name: str
    multiplier: str
    perks: list[str]
    metric: str = Field(description="spend (minor units), points or orders")
    metric_value: int = Field(description="The metric in the current qualification window")
    next: str | None
    missing_for_next: int | None = Field(description="What is missing to reach `next`")
    needed_to_keep: int = Field(description="What is still needed to keep `current`")
    ends_at: datetime | None = Field(description="When the status is next re-evaluated")
    manual_until: datetime | None = Field(description="Set by an admin until then")


class TierAssignIn(Strict):
    """An admin's tier assignment: held until `until` whatever the metric says."""

    tier: Annotated[str, Field(min_length=1, max_length=64)]
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    until: AwareDatetime


class MemberView(BaseModel):
    external_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    birthday: date | None
    locale: str | None
    tags: list[str]
    marketing_consent: bool
    status: str
    enrolled_at: datetime
    updated_at: datetime
    balance: BalanceView
    tier: TierView | None = Field(None, description="Tier and progress (programs with tiers)")
    chosen_day: date | None = None
    store_credit: StoreCreditView | None = None
    memberships: MembershipsView | None = Field(
        None, description="Paid memberships: plans whose perks apply, subscriptions"
    )
    recent_ledger: list[LedgerTransactionView] = []
