"""Building blocks: money, bounded integers, identifiers, pages."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from patron.domain.money import MAX_AMOUNT, validate_currency

#: A non-negative amount in minor units, at most 10^12.
Amount = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT)]
#: A positive whole number of points, at most 10^12.
Points = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT)]
#: An identifier from the store (customer id, order id, line id...).
ExternalId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$")]


def _iso_currency(value: str) -> str:
    try:
        return validate_currency(value)
    except Exception as error:
        raise ValueError(str(error)) from None


#: An ISO 4217 currency code such as "USD".
Currency = Annotated[
    str, Field(min_length=3, max_length=3, examples=["USD"]), AfterValidator(_iso_currency)
]


class Strict(BaseModel):
    """Base for inputs: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Money(Strict):
    """An amount in minor units of an ISO 4217 currency (e.g. 1999 USD = $19.99)."""

    amount: Amount
    currency: Currency


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list; pass `next_cursor` as `cursor` to get the next one."""

    data: list[Item]
    next_cursor: str | None = None
