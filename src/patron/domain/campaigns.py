"""Campaigns: what each kind needs, and who is due a grant when — pure dates, no I/O.

A grant is keyed per member by the period it belongs to (see `campaign_grants`): a
birthday or an anniversary by the year it is celebrated in, a win-back offer by the last
order before the lapse, a welcome or an invitation once. The key is what makes a campaign
once per period however often (or late) its job runs.

Catch-up: a job run late (after downtime) looks back `catch_up_days` local days for
birthdays on the day and anniversaries, and over the whole birthday month for birthdays in
the month; a lapse is offered as long as it lasts (a new order ends it); an invitation is
given until the campaign's capacity is reached.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from patron.domain.errors import InvalidInput


class CampaignKind(StrEnum):
    BIRTHDAY = "birthday"
    ANNIVERSARY = "anniversary"
    WELCOME = "welcome"
    BONUS = "bonus"
    WIN_BACK = "win_back"
    APPRECIATION = "appreciation"


class BirthdayTiming(StrEnum):
    """`month`: on the first day of the birthday month; `day`: on the birthday itself."""

    MONTH = "month"
    DAY = "day"


#: Kinds granted by the `campaigns` job (welcome is granted on enrolment; a bonus is a
#: managed earning rule).
SCHEDULED = (
    CampaignKind.BIRTHDAY,
    CampaignKind.ANNIVERSARY,
    CampaignKind.WIN_BACK,
    CampaignKind.APPRECIATION,
)
WELCOME_KEY = "welcome"
INVITE_KEY = "invite"
#: Prefix of the earning rule a bonus campaign manages: rule codes starting with it are
#: reserved for campaigns.
BONUS_RULE_PREFIX = "campaign-"


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """A campaign's settings, as the domain checks them (see `check`)."""

    kind: CampaignKind
    points: int | None = None
    reward: str | None = None
    multiplier: str | None = None
    lapse_days: int | None = None
    capacity: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def check(self) -> None:
        """InvalidInput naming the field when the kind's settings do not fit together."""
        if self.starts_at and self.ends_at and self.starts_at >= self.ends_at:
            raise InvalidInput("starts_at must be before ends_at", field="ends_at")
        if self.kind is CampaignKind.BONUS:
            self._check_bonus()
            return
        if (self.points is None) == (self.reward is None):
            raise InvalidInput("the offer gives either points or a reward", field="offer")
        if self.multiplier is not None:
            raise InvalidInput("only a bonus campaign has a multiplier", field="multiplier")
        self._need(CampaignKind.WIN_BACK, "lapse_days", self.lapse_days)
        self._need(CampaignKind.APPRECIATION, "capacity", self.capacity)

    def _check_bonus(self) -> None:
        if self.points is not None or self.reward is not None:
            raise InvalidInput("a bonus multiplies earning; it has no offer", field="offer")
        if self.multiplier is None:
            raise InvalidInput("a bonus campaign needs a multiplier", field="multiplier")
        if self.starts_at is None or self.ends_at is None:
            field = "starts_at" if self.starts_at is None else "ends_at"
            raise InvalidInput("a bonus campaign is time-boxed: give both ends", field=field)

    def _need(self, kind: CampaignKind, name: str, value: int | None) -> None:
        if (self.kind is kind) != (value is not None):
            verb = "needs" if self.kind is kind else "does not take"
            raise InvalidInput(f"a {self.kind.value} campaign {verb} {name}", field=name)


def bonus_rule_code(campaign_code: str) -> str:
    return f"{BONUS_RULE_PREFIX}{campaign_code}"


def celebrated_on(anchor: date, year: int) -> date:
    """The date in `year` on which `anchor` (a birthday, an enrolment date) is celebrated:
    29 February is celebrated on 28 February in years without one."""
    if (anchor.month, anchor.day) == (2, 29) and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, anchor.month, anchor.day)


def annual_due(anchor: date, today: date, catch_up_days: int) -> date | None:
    """The celebration of `anchor` that is due on `today`: the one in the last
    `catch_up_days` days (today included), or None. Never the anchor's own date."""
    years = [year for year in (today.year, today.year - 1) if year > anchor.year]
    return _celebrated_within(anchor, today, catch_up_days, years)


def _celebrated_within(
    anchor: date, today: date, catch_up_days: int, years: Iterable[int]
) -> date | None:
    """The celebration of `anchor` in one of `years` that fell in the last `catch_up_days`
    days (today included), or None."""
    for year in years:
        day = celebrated_on(anchor, year)
        if 0 <= (today - day).days < catch_up_days:
            return day
    return None


def birthday_due(
    birthday: date, today: date, timing: BirthdayTiming, catch_up_days: int
) -> date | None:
    """The date a birthday grant is due for on `today` (the first of the birthday month,
    or the birthday), or None. In the month: any day of that month (a late run still
    grants); on the day: within the last `catch_up_days` days."""
    if timing is BirthdayTiming.MONTH:
        return today.replace(day=1) if birthday.month == today.month else None
    return _celebrated_within(birthday, today, catch_up_days, (today.year, today.year - 1))


def month_days(days: list[date]) -> list[str]:
    """`MM-DD` of each date, with 02-29 added for 28 February of a year without one: the
    month-days whose birthdays fall on `days` (to filter members in SQL)."""
    found: list[str] = []
    for day in days:
        found.append(f"{day.month:02d}-{day.day:02d}")
        if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
            found.append("02-29")
    return sorted(set(found))


def window_days(today: date, timing: BirthdayTiming, catch_up_days: int) -> list[date]:
    """The dates whose birthdays may be due on `today`."""
    if timing is BirthdayTiming.MONTH:
        last = calendar.monthrange(today.year, today.month)[1]
        return [today.replace(day=day) for day in range(1, last + 1)]
    return [today - timedelta(days=back) for back in range(catch_up_days)]


def set_long_enough(set_at: datetime, due_at: datetime, min_days: int) -> bool:
    """Whether a birthday set at `set_at` was set at least `min_days` days before the
    instant its grant falls due (`due_at`, the start of the due date)."""
    return set_at <= due_at - timedelta(days=min_days)


def year_key(due: date) -> str:
    return f"{due.year}"


def lapse_key(last_order_id: int) -> str:
    """A lapse is named by the last order before it: a new order then a new lapse is a
    new key, so a new offer."""
    return f"order:{last_order_id}"


def lapsed(last_order_at: datetime, at: datetime, lapse_days: int) -> bool:
    return at - last_order_at >= timedelta(days=lapse_days)


def places_left(capacity: int, granted: int) -> int:
    """How many more invitations an appreciation campaign may give."""
    return max(capacity - granted, 0)
