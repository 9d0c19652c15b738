"""API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from patron.schemas.common import Strict


class KeyIn(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    scopes: Annotated[list[Literal["read", "write", "admin"]], Field(min_length=1, max_length=3)]
    brand: Annotated[str, Field(max_length=64)] | None = Field(
        None, description="Limit the key to one brand (coalition partners)"
    )


class KeyView(BaseModel):
    key_id: str
    name: str
    scopes: list[str]
    brand: str | None
    created_at: datetime
    revoked_at: datetime | None


class NewKeyView(KeyView):
    secret: str = Field(description="The full key. Shown once; only its hash is stored.")
