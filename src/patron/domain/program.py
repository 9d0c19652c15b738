"""A program: the rules a tenant runs (points currency, value, base earning, policies)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from patron.domain.expiry import ExpiryPolicy, lot_expires_at
from patron.domain.orders import EarningPolicy
from patron.domain.rounding import Rounding
from patron.domain.tiers import TierLadder

NEVER_EXPIRE = ExpiryPolicy()


class RefundPolicy(StrEnum):
    """What a refund does when the points it reverses were already spent."""

    #: Take back every point; what the member no longer has becomes debt (negative balance).
    CLAWBACK = "clawback"
    #: Take back only what the member still has; the rest is forgiven and recorded so.
    REMAINING = "remaining"


def points_value(points: int, point_value_points: int, point_value_amount: int) -> int:
    """floor(points * amount / per): `point_value_points` points are worth
    `point_value_amount` minor units; a fraction of a minor unit is never paid out."""
    return points * point_value_amount // point_value_points


@dataclass(frozen=True, slots=True)
class Program:
    """A program's configuration, as loaded for one use case."""

    id: int
    tenant_id: int
    code: str
    name: str
    points_name: str
    currency: str
    time_zone: str
    point_value_points: int
    point_value_amount: int
    earn_points: int
    earn_per_amount: int
    rounding: Rounding
    include_shipping: bool
    include_tax: bool
    pending_days: int
    refund_policy: RefundPolicy
    auto_enroll: bool
    expiry: ExpiryPolicy = NEVER_EXPIRE
    tiers: TierLadder | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def earning(self) -> EarningPolicy:
        return EarningPolicy(
            points=self.earn_points,
            per_amount=self.earn_per_amount,
            rounding=self.rounding,
            include_shipping=self.include_shipping,
            include_tax=self.include_tax,
        )

    def pending_until(self, occurred_at: datetime) -> datetime | None:
        """When points of an order placed at `occurred_at` become available (None: at once)."""
        if self.pending_days == 0:
            return None
        return occurred_at + timedelta(days=self.pending_days)

    def lot_expires_at(self, earned_at: datetime) -> datetime | None:
        """When points earned at `earned_at` expire under the program's policy."""
        return lot_expires_at(self.expiry, earned_at, self.zone)

    def money_value(self, points: int) -> int:
        """Money value of `points` in minor units of the program currency (floored)."""
        return points_value(points, self.point_value_points, self.point_value_amount)
