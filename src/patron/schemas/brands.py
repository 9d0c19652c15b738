"""Brands: the stores or partners of a tenant; every event names its brand."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from patron.schemas.common import Strict


class BrandIn(Strict):
    code: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: Annotated[str, Field(min_length=1, max_length=200)]


class BrandView(BaseModel):
    code: str
    name: str
    created_at: datetime
    #: Coalitions: the brand's own currency (null: the program's), when it left.
    currency: str | None = None
    left_at: datetime | None = None
