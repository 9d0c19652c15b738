"""Charities, donations, receipts and payout reports."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictInt

from patron.schemas.common import Money, Points, Strict

CharityCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
LogoUrl = Annotated[str, Field(max_length=2048, pattern=r"^https?://\S+$")]


class CharityUpdate(Strict):
    """A charity's details and donation terms (`PUT` replaces all of them)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=5000)] | None = None
    logo_url: LogoUrl | None = None
    active: StrictBool = True
    points_step: Annotated[StrictInt, Field(ge=1, le=10**9)] = Field(
        default=1, description="Donations are multiples of this many points"
    )
    min_points: Annotated[StrictInt, Field(ge=0, le=10**12)] = Field(
        default=0, description="The smallest donation"
    )
    matching_percent: Annotated[StrictInt, Field(ge=0, le=100)] = Field(
        default=0, description="The brand adds this percent of each donation's value"
    )


class CharityIn(CharityUpdate):
    code: CharityCode


class CharityView(BaseModel):
    id: str
    code: str
    name: str
    description: str | None
    logo_url: str | None
    active: bool
    points_step: int
    min_points: int
    matching_percent: int
    created_at: datetime
    updated_at: datetime


class DonationIn(Strict):
    """Donate `points` of the member's available points to a charity."""

    charity_id: Annotated[str, Field(min_length=1, max_length=32)]
    points: Points


class CharityRef(BaseModel):
    id: str
    code: str
    name: str


class DonationView(BaseModel):
    """A donation receipt: its money value and the brand's matching, fixed when donated."""

    id: str
    customer_id: str
    charity: CharityRef
    points: int
    value: Money
    matching: Money
    total: Money
    donated_at: datetime
    local_date: date = Field(description="The day of the donation in the program's time zone")
    transaction_id: int


class DonationTotals(BaseModel):
    donations: int
    points: int
    value: Money
    matching: Money
    total: Money


class CharityYear(DonationTotals):
    charity: CharityRef


class DonationSummary(BaseModel):
    """A member's donations in one calendar year of the program's time zone."""

    customer_id: str
    year: int
    charities: list[CharityYear]
    totals: DonationTotals


class PayoutLineView(DonationTotals):
    charity: CharityRef
    donors: int = Field(description="Distinct members who donated to this charity")


class PayoutTotals(DonationTotals):
    donors: int = Field(description="Distinct members who donated to any charity")


class PayoutReport(BaseModel):
    """What each charity is owed for a period of local days [from, to]."""

    period: str
    time_zone: str
    from_date: date = Field(serialization_alias="from")
    to_date: date = Field(serialization_alias="to", description="The last day, included")
    starts_at: datetime
    ends_at: datetime = Field(description="Exclusive")
    currency: str
    charities: list[PayoutLineView]
    totals: PayoutTotals
