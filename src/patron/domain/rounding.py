"""Integer division with an explicit rounding mode, for points and money."""

from __future__ import annotations

from enum import StrEnum


class Rounding(StrEnum):
    """How a fractional number of points is turned into a whole one."""

    FLOOR = "floor"
    HALF_UP = "half_up"
    CEIL = "ceil"


def divide(numerator: int, denominator: int, mode: Rounding) -> int:
    """Return numerator / denominator rounded by `mode`, for numerator >= 0 and denominator > 0.

    Half-up rounds exact halves away from zero (2.5 -> 3), the rule merchants expect.
    """
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    if numerator < 0:
        raise ValueError("numerator must not be negative")
    mode = Rounding(mode)  # a plain "floor" from storage compares equal, never by identity
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0 or mode is Rounding.FLOOR:
        return quotient
    if mode is Rounding.CEIL:
        return quotient + 1
    return quotient + 1 if 2 * remainder >= denominator else quotient
