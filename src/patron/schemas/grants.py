"""A reward granted to a member without points (goodwill, a campaign, a referral)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from patron.schemas.common import Strict


class GrantIn(Strict):
    reward: Annotated[str, Field(min_length=1, max_length=64)] = Field(
        description="The reward's catalogue code or public id (`rwd_…`)"
    )
    reason: Annotated[str, Field(min_length=1, max_length=500)]
