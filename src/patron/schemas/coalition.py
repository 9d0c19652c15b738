"""Coalition programs: brand join/leave, exchange rates per period, settlement statements."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, RootModel

from patron.schemas.common import Currency, Strict

#: A period key: a year, a quarter or a month in the program's time zone.
PeriodKey = Annotated[str, Field(min_length=4, max_length=7, examples=["2026-Q1", "2026-01"])]
#: A rate as an exact decimal string: units of the currency per unit of the program's.
RateText = Annotated[str, Field(min_length=1, max_length=32, examples=["0.92"])]


class BrandUpdate(Strict):
    """Change a coalition brand: its name, its own currency (null: the program's), and
    whether it has left the coalition (`left: true`; `false` re-joins it)."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    currency: Currency | None = None
    left: bool | None = None


CurrencyKey = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class RatesIn(RootModel[Annotated[dict[CurrencyKey, RateText], Field(min_length=1)]]):
    """`{currency: rate}`: 1 unit of the program's currency is `rate` units of `currency`
    (at least one currency; the set replaces the period's)."""


class RatesView(BaseModel):
    period: str
    #: The program's currency, which every rate converts from.
    currency: str
    rates: dict[str, str]
    updated_at: datetime | None


class SignedMoney(BaseModel):
    """An amount in minor units that may be negative (a net to pay)."""

    amount: int
    currency: str


class FiguresView(BaseModel):
    funding: SignedMoney = Field(description="What the brand owes for the points it issued")
    payments: SignedMoney = Field(description="What it is owed for the rewards it honoured")
    breakage: SignedMoney = Field(description="Funding returned for its points that expired")
    net: SignedMoney = Field(description="payments + breakage - funding; negative: it pays")


class BrandLineView(BaseModel):
    brand: str
    currency: str = Field(description="The brand's own currency")
    issued: int = Field(description="Points issued at the brand, net of refunds' reversals")
    redeemed: int = Field(description="Points redeemed at the brand, net of cancellations")
    expired: int = Field(description="Points the brand issued that expired (breakage)")
    program_currency: FiguresView
    own_currency: FiguresView


class PoolView(BaseModel):
    outstanding_change: int = Field(
        description="Points the brands issued minus redeemed minus expired: the change of "
        "the liability the program holds"
    )
    net: SignedMoney


class TransferView(BaseModel):
    payer: str | None = Field(description="A brand code; null: the coalition pool")
    payee: str | None = Field(description="A brand code; null: the coalition pool")
    amount: SignedMoney


class StatementView(BaseModel):
    period: str
    starts_at: datetime
    ends_at: datetime
    currency: str
    point_value: SignedMoney = Field(description="The money value of `point_value_points`")
    point_value_points: int
    rates: dict[str, str]
    brands: list[BrandLineView]
    pool: PoolView
    transfers: list[TransferView]
    total: SignedMoney = Field(description="Sum of every party's net: always 0")
