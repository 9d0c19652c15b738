"""Paid memberships: plans, subscriptions the store reports, and checkout benefits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, StrictBool, StrictInt

from patron.domain.memberships import PlanPeriod, Status
from patron.schemas.common import ExternalId, Money, Strict

PlanCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Label = Annotated[str, Field(min_length=1, max_length=128)]
Labels = Annotated[list[Label], Field(max_length=200)]
Percent = Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)]
Reference = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s]+$")]
Days = Annotated[StrictInt, Field(ge=0, le=3650)]


class PercentOffIn(Strict):
    """Percent off at checkout: on every line, or only on lines whose sku, category or tag
    is listed (any of them)."""

    percent: Percent
    skus: Labels = []
    categories: Labels = []
    tags: Labels = []


class PerksIn(Strict):
    """What holding the plan gives while its perks apply (trialing, active, in grace)."""

    percent_off: PercentOffIn | None = None
    free_shipping: StrictBool = False
    points_multiplier: Annotated[Decimal, Field(ge=1, le=100, decimal_places=2)] | None = Field(
        None, description="Multiplies the base earning of orders (e.g. 2: double points)"
    )
    monthly_credit: Money | None = Field(
        None, description="Store credit given at the start of each month held"
    )
    yearly_dividend_percent: Percent | None = Field(
        None,
        description="Percent of a calendar year's eligible spend, net of refunds, given "
        "back as store credit after the year ends",
    )
    tier: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        None, description="The holder is at least at this tier while the perks apply"
    )


class PlanIn(Strict):
    code: PlanCode
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    price: Money
    period: PlanPeriod
    trial_days: Days = 0
    grace_days: Days = Field(7, description="Days past due before the subscription lapses")
    perks: PerksIn = PerksIn()
    active: StrictBool = True


class PlanUpdateIn(Strict):
    """Replace a plan's terms (its code and period stay). Running subscriptions keep their
    periods; perks change for everyone at once."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    price: Money
    trial_days: Days = 0
    grace_days: Days = 7
    perks: PerksIn = PerksIn()
    active: StrictBool = True


class PlanView(BaseModel):
    code: str
    name: str
    description: str | None
    price: Money
    period: PlanPeriod
    trial_days: int
    grace_days: int
    perks: PerksIn
    active: bool
    created_at: datetime
    updated_at: datetime


class SubscriptionStartIn(Strict):
    """The store reports a new subscription: paid (`payment_reference` and `amount`) or a
    trial (`trial: true`, no payment)."""

    plan: PlanCode
    payment_reference: Reference | None = None
    amount: Money | None = Field(None, description="What was paid (default: the plan's price)")
    trial: StrictBool = False


class RenewalIn(Strict):
    """A payment for the next period (a trial's first payment, a renewal, or the missed
    payment of a past-due subscription)."""

    payment_reference: Reference
    amount: Money | None = Field(None, description="What was paid (default: the plan's price)")


class PaymentFailureIn(Strict):
    """A failed payment, with why (e.g. "card declined") and the attempt's reference."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    reference: Reference | None = None


class CancellationIn(Strict):
    """Cancel at the period end, or now (`at_period_end: false`) with the amount refunded."""

    at_period_end: StrictBool
    refund: Money | None = None
    refund_reference: Reference | None = None


class PaymentView(BaseModel):
    kind: str
    reference: str | None
    amount: Money
    period_start: datetime | None
    period_end: datetime | None
    created_at: datetime


class SubscriptionView(BaseModel):
    id: str
    customer_id: str
    plan: str
    status: Status
    perks_apply: bool = Field(description="Whether the plan's perks apply now")
    started_at: datetime
    period_start: datetime
    period_end: datetime | None
    trial_end: datetime | None
    grace_until: datetime | None
    cancel_at_period_end: bool
    cancelled_at: datetime | None
    ended_at: datetime | None
    refund: Money | None
    payments: list[PaymentView]


class MembershipsView(BaseModel):
    """The member's plans whose perks apply now (for the member view)."""

    plans: list[str]
    points_multiplier: str
    free_shipping: bool
    subscriptions: list[SubscriptionView]


class CartLineIn(Strict):
    line_id: ExternalId
    sku: Label | None = None
    category: Label | None = None
    tags: Labels = []
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)] = 1
    unit_price: Money


class CartIn(Strict):
    """A checkout to price the member's membership benefits for."""

    currency: Annotated[str, Field(min_length=3, max_length=3)]
    lines: Annotated[list[CartLineIn], Field(min_length=1, max_length=500)]
    shipping: Money | None = None


class LineDiscountView(BaseModel):
    line_id: str
    plan: str
    percent: str
    amount: int


class BenefitsView(BaseModel):
    """The discounts the member's plans give on a cart; the store applies them."""

    customer_id: str
    currency: str
    plans: list[str]
    lines: list[LineDiscountView]
    discount: Money
    free_shipping: bool
    shipping_discount: Money
