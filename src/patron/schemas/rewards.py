"""Rewards, redemptions and coupon checks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StrictInt

from patron.schemas.common import ExternalId, Money, Points, Strict


class RewardIn(Strict):
    """A fixed-amount discount for a number of points."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["fixed_discount"] = "fixed_discount"
    points_cost: Points
    value: Money
    code_prefix: Annotated[str, Field(max_length=16, pattern=r"^[A-Z0-9-]*$")] = ""
    code_length: Annotated[StrictInt, Field(ge=8, le=32)] = 12
    validity_days: Annotated[StrictInt, Field(gt=0, le=3650)] | None = 90


class RewardView(BaseModel):
    id: str
    name: str
    kind: str
    points_cost: int
    value: Money
    code_prefix: str
    validity_days: int | None
    active: bool


class RedeemIn(Strict):
    reward_id: Annotated[str, Field(min_length=1, max_length=32)]


class RedemptionView(BaseModel):
    id: str
    customer_id: str
    reward_id: str
    points: int
    code: str
    value: Money
    status: Literal["issued", "consumed", "cancelled", "expired"]
    expires_at: datetime | None
    created_at: datetime
    consumed_at: datetime | None
    consumed_order_id: str | None
    cancelled_at: datetime | None


class CartIn(Strict):
    subtotal: Money


class ValidateIn(Strict):
    code: Annotated[str, Field(min_length=1, max_length=64)]
    cart: CartIn | None = None


class ValidationView(BaseModel):
    """Whether the code can be used now; `reason` says why not (stable code)."""

    valid: bool
    reason: str | None
    code: str
    value: Money | None
    expires_at: datetime | None


class ConsumeIn(Strict):
    order_id: ExternalId
