"""Lots: the points of one award, consumed oldest-expiry-first.

A lot that never expires is spent after every lot that does; among equals the older lot
(lower id) goes first, so the order is total and deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from patron.domain.errors import InsufficientPoints


@dataclass(frozen=True, slots=True)
class Lot:
    """A lot as the domain sees it: how much is left of it and when it expires."""

    id: int
    remaining: int
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Take:
    """Take `amount` points from lot `lot_id`."""

    lot_id: int
    amount: int


def spending_order(lots: Iterable[Lot]) -> list[Lot]:
    """Lots in the order they are spent: expiring first, never-expiring last, older first."""
    return sorted(
        lots,
        key=lambda lot: (lot.expires_at is None, lot.expires_at or datetime.min, lot.id),
    )


def plan_spend(lots: Sequence[Lot], amount: int, *, field: str | None = None) -> list[Take]:
    """Which lots pay for `amount` points. Raises InsufficientPoints (naming `field`, the
    input that asked for the points) if they cannot."""
    takes = take_up_to(spending_order(lots), amount)
    taken = sum(take.amount for take in takes)
    if taken < amount:
        raise InsufficientPoints(f"needs {amount} points, {taken} available", field=field)
    return takes


def take_up_to(ordered_lots: Iterable[Lot], amount: int) -> list[Take]:
    """Take up to `amount` points from lots in the given order; may take less."""
    takes: list[Take] = []
    left = amount
    for lot in ordered_lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            takes.append(Take(lot.id, take))
            left -= take
    return takes


@dataclass(frozen=True, slots=True)
class ReversalPlan:
    """How a reversal of points is covered: lots taken, debt created, points forgiven."""

    takes: list[Take]
    debt: int
    forgiven: int

    @property
    def reversed(self) -> int:
        """Points actually taken back from the member (lots plus new debt)."""
        return sum(take.amount for take in self.takes) + self.debt


def plan_reversal(
    points: int,
    own_lot: Lot | None,
    available: Sequence[Lot],
    pending: Sequence[Lot],
    *,
    allow_negative: bool,
) -> ReversalPlan:
    """Cover a reversal of `points`: the award's own lot first, then available lots in
    spending order, then other pending lots. Whatever is still uncovered becomes debt (a
    negative balance) when `allow_negative`, else it is forgiven.
    """
    others_available = [lot for lot in available if own_lot is None or lot.id != own_lot.id]
    others_pending = [lot for lot in pending if own_lot is None or lot.id != own_lot.id]
    ordered = ([own_lot] if own_lot else []) + spending_order(others_available)
    ordered += spending_order(others_pending)
    takes = take_up_to(ordered, points)
    uncovered = points - sum(take.amount for take in takes)
    if allow_negative:
        return ReversalPlan(takes, debt=uncovered, forgiven=0)
    return ReversalPlan(takes, debt=0, forgiven=uncovered)
