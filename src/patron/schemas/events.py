"""Action events: what a member did in the store besides paying (signup, review, ...)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field

from patron.domain.rules import Trigger
from patron.schemas.common import ExternalId, Strict
from patron.schemas.members import MemberProfile
from patron.schemas.rules import Code


class ActionEventIn(Strict):
    """An action of a member. `event_id` is the source's id for it: recorded once.

    `type` is one of the action triggers; `custom` names the tenant's `event_type`, whose
    JSON schema the `payload` must satisfy."""

    event_id: ExternalId
    type: Trigger
    event_type: Code | None = None
    customer_id: ExternalId
    customer: MemberProfile | None = None
    brand: Annotated[str, Field(max_length=64)] | None = None
    source: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")] = "api"
    channel: Annotated[str, Field(max_length=64)] | None = None
    occurred_at: AwareDatetime
    payload: dict[str, Any] = {}


class ActionResult(BaseModel):
    """What recording an action did (also returned, unchanged, on a replay)."""

    event_id: int
    type: str
    source_id: str
    customer_id: str
    member_enrolled: bool
    points: int
    transaction_id: int | None
    explanation: dict[str, object]
