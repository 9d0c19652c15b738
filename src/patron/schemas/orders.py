"""Order events: paid and refunded."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from patron.schemas.common import Currency, ExternalId, Money, Strict
from patron.schemas.members import MemberProfile
from patron.schemas.referrals import AddressIn, DeviceId, Ip


class OrderLineIn(Strict):
    line_id: ExternalId
    sku: Annotated[str, Field(max_length=128)] | None = None
    category: Annotated[str, Field(max_length=128)] | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=128)]], Field(max_length=50)] = []
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]
    unit_price: Money
    discount: Money | None = Field(None, description="Total discount on this line")


class CustomerIn(MemberProfile):
    """Profile used to enrol the customer if it is not a member yet (auto-enrolment)."""


class OrderPaidIn(Strict):
    """A paid order. `order_id` is the store's id and the event's source id."""

    order_id: ExternalId
    customer_id: ExternalId
    customer: CustomerIn | None = None
    brand: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "api"
    channel: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Where the order was placed (web, pos, app...); rules may use it"
    )
    currency: Currency
    lines: Annotated[list[OrderLineIn], Field(min_length=1, max_length=1000)]
    discount: Money | None = Field(None, description="Order-level discount not on lines")
    shipping: Money | None = None
    tax: Money | None = None
    total: Money
    discount_codes: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = []
    occurred_at: AwareDatetime
    # Referrals (single orders only, not batches): an advocate's code on the customer's
    # first order, and what the referral fraud checks compare.
    referral_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    ip: Ip | None = None
    device_id: DeviceId | None = None
    shipping_address: AddressIn | None = None

    def amounts(self) -> list[tuple[str, Money | None]]:
        """Every amount with its field path (all must be in the order's currency)."""
        found: list[tuple[str, Money | None]] = [
            ("total", self.total),
            ("discount", self.discount),
            ("shipping", self.shipping),
            ("tax", self.tax),
        ]
        for index, line in enumerate(self.lines):
            found += [(f"lines.{index}.unit_price", line.unit_price)]
            found += [(f"lines.{index}.discount", line.discount)]
        return found


class RefundLineIn(Strict):
    line_id: ExternalId
    quantity: Annotated[StrictInt, Field(gt=0, le=1_000_000)]


class OrderRefundedIn(Strict):
    """A refund of (part of) an order: by lines, by amount of merchandise, or both."""

    refund_id: ExternalId
    order_id: ExternalId
    brand: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "api"
    currency: Currency
    lines: Annotated[list[RefundLineIn], Field(max_length=1000)] = []
    amount: Money | None = Field(
        None, description="Merchandise refunded without naming lines (after discounts)"
    )
    shipping: Money | None = None
    tax: Money | None = None
    occurred_at: AwareDatetime

    def amounts(self) -> list[tuple[str, Money | None]]:
        """Every amount with its field path (all must be in the refund's currency)."""
        return [("amount", self.amount), ("shipping", self.shipping), ("tax", self.tax)]


class OrderResult(BaseModel):
    """What recording a paid order did (also returned, unchanged, on a replay)."""

    event_id: int
    order_id: str
    customer_id: str
    member_enrolled: bool
    eligible_amount: int
    currency: str
    points: int
    points_status: str = Field(description="available, pending, or none")
    pending_until: str | None
    transaction_id: int | None
    explanation: dict[str, object]
    store_credit: int = Field(0, description="Store credit earned (minor units)")


class RefundResult(BaseModel):
    """What recording a refund did (also returned, unchanged, on a replay)."""

    event_id: int
    refund_id: str
    order_id: str
    customer_id: str
    eligible_refunded: int
    points_reversed: int
    points_forgiven: int
    debt_created: int
    store_credit_reversed: int = 0
    transaction_id: int | None


class OrderLineView(BaseModel):
    line_id: str
    sku: str | None
    category: str | None
    quantity: int
    unit_price: int
    discount: int
    refunded_quantity: int


class OrderView(BaseModel):
    """A recorded order, what it earned, and what has been refunded of it."""

    order_id: str
    customer_id: str
    brand: str
    currency: str
    total: int
    eligible_amount: int
    points_awarded: int
    points_reversed: int
    merchandise_refunded: int
    shipping_refunded: int
    tax_refunded: int
    lines: list[OrderLineView]
    occurred_at: datetime


class OrderBatchIn(Strict):
    """Up to 1,000 paid orders recorded in one transaction (bulk import)."""

    orders: Annotated[list[OrderPaidIn], Field(min_length=1, max_length=1000)]


class BatchItemResult(BaseModel):
    index: int
    status: str = Field(description="created, replayed or rejected")
    result: OrderResult | None = None
    problem: dict[str, object] | None = None
    referral_problem: dict[str, object] | None = Field(
        None,
        description="A created order whose referral code was refused (the order stands)",
    )


class OrderBatchResult(BaseModel):
    created: int
    replayed: int
    rejected: int
    results: list[BatchItemResult]
