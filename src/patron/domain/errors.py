"""Domain errors. Each carries a stable `code` that the API turns into a problem type.

Entry points map these to HTTP statuses (see `patron.api.errors`); the domain only says
what went wrong, never how it is transported.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

_E = TypeVar("_E", bound=StrEnum)


class DomainError(Exception):
    """A rule of the program was broken; nothing must be written.

    `code` is stable and machine-readable (kebab-case); `field` names the input at fault
    when there is one (a JSON pointer-ish dotted path such as ``lines.0.quantity``).
    """

    code: str = "domain-error"
    status: int = 422

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class NotFound(DomainError):
    code = "not-found"
    status = 404


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InsufficientPoints(DomainError):
    code = "insufficient-points"
    status = 422


class MemberBlocked(DomainError):
    code = "member-blocked"
    status = 422


class InvalidInput(DomainError):
    code = "invalid-input"
    status = 422


class CurrencyMismatch(DomainError):
    code = "currency-mismatch"
    status = 422


class RefundExceedsOrder(DomainError):
    code = "refund-exceeds-order"
    status = 422


class CouponNotUsable(DomainError):
    code = "coupon-not-usable"
    status = 422


def parse_enum(kind: type[_E], value: str, field: str) -> _E:
    """`value` as a member of `kind`; InvalidInput naming `field` and the allowed values."""
    try:
        return kind(value)
    except ValueError as error:
        allowed = ", ".join(member.value for member in kind)
        raise InvalidInput(f"{value!r} is not one of {allowed}", field=field) from error
