"""Rewards, redemptions and coupon checks."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from patron.domain.calendar import Period
from patron.schemas.common import ExternalId, Money, Points, Strict


class RewardKind(StrEnum):
    """What a reward gives. Every kind but `gift` yields a code; a gift is fulfilled."""

    FIXED_DISCOUNT = "fixed_discount"
    PERCENT_DISCOUNT = "percent_discount"
    FREE_SHIPPING = "free_shipping"
    FREE_PRODUCT = "free_product"
    GIFT = "gift"
    STORE_CREDIT = "store_credit"
    EVENT_TICKET = "event_ticket"
    CUSTOM = "custom"


class CodeSource(StrEnum):
    """Where a reward's codes come from: made by Patron, or imported from the store."""

    GENERATED = "generated"
    POOL = "pool"


class Fulfilment(StrEnum):
    """A gift's fulfilment: requested -> shipped -> delivered, or cancelled before delivery."""

    REQUESTED = "requested"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


#: The catalogue code of a reward (tier `reward_prices` are keyed by it), unique per program.
RewardCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][\w.-]*$")]
Sku = Annotated[str, Field(min_length=1, max_length=128)]
#: A coupon code as the store knows it; it travels in URLs, so no spaces, `/`, `?` or `#`.
CouponCode = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\s/?#]+$")]
TierCode = Annotated[str, Field(min_length=1, max_length=64)]
Count = Annotated[StrictInt, Field(gt=0, le=1_000_000)]


class RewardIn(Strict):
    """A catalogue item. Which fields apply depends on `kind`; a field that does not apply,
    or a missing one that does, is a 422 naming it (see docs/api.md, *Reward catalogue*)."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: RewardKind = RewardKind.FIXED_DISCOUNT
    code: RewardCode | None = Field(
        None, description="Catalogue code, unique per program (default: the reward's id)"
    )
    description: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    points_cost: Points | None = Field(None, description="Price in points (not for variable)")
    value: Money | None = Field(None, description="fixed_discount: the amount off")
    percent: Annotated[StrictInt, Field(ge=1, le=100)] | None = None
    max_discount: Money | None = Field(None, description="percent/free_shipping: cap")
    min_order: Money | None = Field(None, description="Minimum cart subtotal to use the code")
    applicable_skus: Annotated[list[Sku], Field(min_length=1, max_length=1000)] | None = None
    sku: Sku | None = Field(None, description="free_product: the product given")
    quantity: Count | None = Field(None, description="free_product: how many (default 1)")
    event_starts_at: AwareDatetime | None = Field(None, description="event_ticket: when")
    points_step: Points | None = Field(None, description="Variable: points per step")
    value_step: Money | None = Field(None, description="Variable: amount off per step")
    min_points: Points | None = None
    max_points: Points | None = None
    stock: Annotated[StrictInt, Field(ge=0, le=10**12)] | None = Field(
        None, description="Units available (absent: unlimited; required for gifts)"
    )
    per_member_limit: Count | None = None
    limit_period: Period | None = Field(None, description="Period of the per-member limit")
    tiers: Annotated[list[TierCode], Field(min_length=1, max_length=50)] | None = Field(
        None, description="Tier codes allowed to redeem (absent: everyone)"
    )
    segments: Annotated[list[TierCode], Field(min_length=1, max_length=50)] | None = Field(
        None, description="Segment codes allowed to redeem: a member of any (absent: everyone)"
    )
    plans: Annotated[list[TierCode], Field(min_length=1, max_length=50)] | None = Field(
        None, description="Membership plan codes whose holders may redeem (absent: everyone)"
    )
    active_from: AwareDatetime | None = None
    active_to: AwareDatetime | None = None
    usable_from: AwareDatetime | None = Field(
        None, description="Codes cannot be used at checkout before this instant"
    )
    code_source: CodeSource = CodeSource.GENERATED
    code_prefix: Annotated[str, Field(max_length=16, pattern=r"^[A-Z0-9-]*$")] = ""
    code_length: Annotated[StrictInt, Field(ge=8, le=32)] = 12
    validity_days: Annotated[StrictInt, Field(gt=0, le=3650)] | None = 90


class RewardView(BaseModel):
    id: str
    name: str
    kind: str
    code: str
    description: str | None
    points_cost: int | None
    value: Money | None
    percent: int | None
    max_discount: Money | None
    min_order: Money | None
    applicable_skus: list[str] | None
    sku: str | None
    quantity: int | None
    event_starts_at: datetime | None
    points_step: int | None
    value_step: Money | None
    min_points: int | None
    max_points: int | None
    stock: int | None = Field(description="Units left; null: unlimited")
    per_member_limit: int | None
    limit_period: str | None
    tiers: list[str] | None
    segments: list[str] | None = None
    plans: list[str] | None = None
    active_from: datetime | None
    active_to: datetime | None
    usable_from: datetime | None
    code_source: str
    code_prefix: str
    code_length: int
    validity_days: int | None
    codes_available: int | None = Field(description="Unused imported codes (pool rewards)")
    active: bool


class RedeemIn(Strict):
    reward_id: Annotated[str, Field(min_length=1, max_length=32)]
    points: Points | None = Field(
        None, description="Variable rewards: points to spend, a multiple of `points_step`"
    )
    brand: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Coalitions: the brand that honours it (a brand key's own brand)"
    )


class FulfilmentView(BaseModel):
    status: Fulfilment
    note: str | None
    updated_at: datetime


class RedemptionView(BaseModel):
    id: str
    customer_id: str
    reward_id: str
    kind: str
    points: int
    code: str | None = Field(description="null for gifts (see `fulfilment`)")
    value: Money | None
    status: Literal["issued", "consumed", "cancelled", "expired"]
    expires_at: datetime | None
    created_at: datetime
    consumed_at: datetime | None
    consumed_order_id: str | None
    cancelled_at: datetime | None
    fulfilment: FulfilmentView | None


class FulfilmentIn(Strict):
    """Move a gift on: `shipped`, `delivered`, or `cancelled` (the points come back)."""

    status: Literal["shipped", "delivered", "cancelled"]
    note: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        None, description="e.g. the carrier's tracking number"
    )


class CodesIn(Strict):
    """Coupon codes made by the store platform, for a reward with `code_source: pool`."""

    codes: Annotated[list[CouponCode], Field(min_length=1, max_length=10_000)]


class CodesImportView(BaseModel):
    imported: int
    duplicates: list[str] = Field(description="Codes skipped: repeated or already known")
    available: int = Field(description="Unused codes of the reward after the import")


class CartLineIn(Strict):
    sku: Sku
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    unit_price: Money


class CartIn(Strict):
    subtotal: Money
    lines: Annotated[list[CartLineIn], Field(max_length=1000)] = []
    shipping: Money | None = None


class ValidateIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    cart: CartIn | None = None


class ValidationView(BaseModel):
    """Whether the code can be used now; `reason` says why not (stable code). `discount`
    (what the code takes off the cart) is present only when a cart was sent."""

    valid: bool
    reason: str | None
    code: str
    value: Money | None
    expires_at: datetime | None
    discount: Money | None = Field(default=None, exclude_if=lambda value: value is None)


class ConsumeIn(Strict):
    order_id: ExternalId
