"""Money as integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from babel.numbers import get_currency_precision, list_currencies

from patron.domain.errors import CurrencyMismatch, InvalidInput

#: Amounts above this are rejected as absurd (10^12 minor units).
MAX_AMOUNT = 10**12


@lru_cache(maxsize=1)
def _iso_currencies() -> frozenset[str]:
    return frozenset(code for code in list_currencies() if len(code) == 3 and code.isalpha())


def validate_currency(code: str) -> str:
    """Return `code` if it is a known ISO 4217 currency code, else raise InvalidInput."""
    if code not in _iso_currencies():
        raise InvalidInput(f"unknown currency {code!r}", field="currency")
    return code


@lru_cache(maxsize=512)
def minor_units_per_major(currency: str) -> int:
    """How many minor units make one major unit (USD 100, JPY 1, KWD 1000)."""
    return int(10 ** get_currency_precision(currency))


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in minor units of one currency."""

    amount: int
    currency: str

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"cannot combine {self.currency} with {other.currency}")
