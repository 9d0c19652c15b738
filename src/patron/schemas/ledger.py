"""Manual adjustments."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt

from patron.domain.money import MAX_AMOUNT
from patron.schemas.common import Strict


class AdjustmentIn(Strict):
    """Add (positive) or remove (negative) points by hand; the reason is kept in the ledger."""

    points: Annotated[StrictInt, Field(ge=-MAX_AMOUNT, le=MAX_AMOUNT)]
    reason: Annotated[str, Field(min_length=3, max_length=500)]
