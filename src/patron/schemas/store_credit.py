"""Store credit (cashback wallet): money a member can spend at checkout."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from patron.schemas.common import ExternalId, Money, Strict


class StoreCreditView(BaseModel):
    """A member's store credit, in minor units of the program's currency."""

    currency: str
    available: int
    pending: int = Field(description="Earned, issued after the return window or period end")
    lifetime_earned: int


class SpendIn(Strict):
    """Spend store credit at checkout (the store takes `amount` off the order)."""

    amount: Money
    order_id: ExternalId | None = None
    note: Annotated[str, Field(max_length=500)] | None = None


class SpendRefundIn(Strict):
    """Give back (part of) a spend, e.g. when the order it paid for is refunded."""

    amount: Money


class SpendView(BaseModel):
    id: str
    customer_id: str
    amount: int
    refunded: int
    currency: str
    order_id: str | None
    transaction_id: int
    created_at: datetime
    balance: StoreCreditView
