"""Campaigns as the API takes and shows them.

A campaign is stored in this API form (`CampaignIn.model_dump`), so what was configured is
what is shown; `domain.campaigns.CampaignSpec.check` decides what fits together.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, Field, StrictInt

from patron.domain.campaigns import BirthdayTiming, CampaignKind
from patron.schemas.common import Money, Points, Strict
from patron.schemas.rewards import RedemptionView, RewardCode

#: Campaign codes leave room for the `campaign-` prefix of a bonus's managed rule code.
CampaignCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,54}$")]
SegmentCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Days = Annotated[StrictInt, Field(ge=1, le=3650)]


class OfferIn(Strict):
    """What a member gets: `points`, or the catalogue reward `reward` for 0 points."""

    points: Points | None = None
    reward: RewardCode | None = None


class CampaignIn(Strict):
    """A campaign's settings. Each kind takes its own:

    - `birthday`: `offer`, `timing` (`month`: on the first of the birthday month; `day`: on
      the birthday), `min_days_set` (the birthday must have been set that many days before);
    - `anniversary`: `offer`, on the local date of the member's enrolment, every year;
    - `welcome`: `offer`, once, on enrolment;
    - `bonus`: `multiplier` between `starts_at` and `ends_at` (both needed);
    - `win_back`: `offer` to members without an order for `lapse_days`, once per lapse;
    - `appreciation`: `offer` to the first `capacity` members of the segment.

    `segment` restricts any kind to a segment's members; `starts_at`/`ends_at` to a window.
    """

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: CampaignKind
    active: bool = True
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    segment: SegmentCode | None = None
    offer: OfferIn | None = None
    timing: BirthdayTiming = BirthdayTiming.MONTH
    min_days_set: Annotated[StrictInt, Field(ge=0, le=3650)] = 0
    catch_up_days: Annotated[StrictInt, Field(ge=1, le=31)] = 7
    lapse_days: Days | None = None
    capacity: Annotated[StrictInt, Field(ge=1, le=10**7)] | None = None
    multiplier: Annotated[Decimal, Field(gt=1, le=100, decimal_places=2)] | None = None


class NewCampaignIn(CampaignIn):
    code: CampaignCode


class CampaignView(BaseModel):
    code: str
    name: str
    kind: CampaignKind
    active: bool
    spec: dict[str, object]
    #: The earning rule a bonus campaign manages (`campaign-<code>`); null for other kinds.
    rule: str | None
    created_at: datetime
    updated_at: datetime


class RunResult(BaseModel):
    """What a run granted: members, points, coupons; `stopped` says why it stopped early
    (`capacity`, `out-of-stock`...) or is null."""

    campaign: str
    members: int
    points: int
    coupons: int
    stopped: str | None = None


class GrantView(BaseModel):
    customer_id: str
    key: str
    points: int
    redemption: RedemptionView | None
    granted_at: datetime


class CampaignReport(BaseModel):
    """A campaign's results. `redeemed` counts the granted coupons consumed at checkout
    (points cannot be told apart from the member's other points once in the wallet);
    `revenue` is what those members paid in the `days` after each grant, net of refunds,
    in the program's currency."""

    campaign: str
    days: int
    targeted: int
    rewards_issued: int
    points_issued: int
    coupons_issued: int
    redeemed: int
    revenue: Money
