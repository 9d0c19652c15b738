"""Who a campaign is due to, and when: the members each scheduled kind selects at an
instant, in SQL (batches of `BATCH`), with the dates decided by `domain.campaigns`.

Each finder returns (member id, key) pairs in member order; the key names the period
(year, lapse, invitation), so `campaigns.grant_all` gives each at most once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Row,
    Select,
    and_,
    exists,
    func,
    not_,
    or_,
    select,
    true,
)

from patron.db.tables import campaign_grants, campaigns, members, orders
from patron.db.uow import UnitOfWork
from patron.domain import campaigns as domain
from patron.domain.calendar import local_date, start_of_day
from patron.domain.campaigns import CampaignKind
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.schemas.campaigns import CampaignIn
from patron.services import segments

#: Members granted per query batch by a run.
BATCH = 500


@dataclass(frozen=True, slots=True)
class Campaign:
    """A saved campaign, parsed."""

    id: int
    code: str
    spec: CampaignIn

    @classmethod
    def of(cls, row: Row[Any]) -> Campaign:
        return cls(int(row.id), row.code, CampaignIn.model_validate(row.spec))

    def open_at(self, at: datetime) -> bool:
        spec = self.spec
        started = spec.starts_at is None or spec.starts_at <= at
        return spec.active and started and (spec.ends_at is None or at < spec.ends_at)


def open_campaigns(
    uow: UnitOfWork, program: Program, kinds: Iterable[CampaignKind], at: datetime
) -> list[Campaign]:
    """The program's active campaigns of `kinds` whose window contains `at`."""
    query = (
        select(campaigns)
        .where(
            campaigns.c.program_id == program.id,
            campaigns.c.active == true(),
            campaigns.c.kind.in_([kind.value for kind in kinds]),
        )
        .order_by(campaigns.c.id)
    )
    found = (Campaign.of(row) for row in uow.connection.execute(query))
    return [campaign for campaign in found if campaign.open_at(at)]


def in_segment(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime
) -> ColumnElement[bool] | None:
    """The condition a member must meet to be in the campaign's segment (None: anyone)."""
    if campaign.spec.segment is None:
        return None
    ids: Select[Any] = segments.member_ids(uow, program, campaign.spec.segment, at)
    return members.c.id.in_(ids)


def not_granted(
    uow: UnitOfWork, campaign: Campaign, due: list[tuple[int, str]]
) -> list[tuple[int, str]]:
    """`due` without the keys granted before, looked up a batch at a time: a birthday
    month is re-read every day of the month, and its grants must not be re-tried one by
    one. (The claim in `_grant` still decides: a concurrent run may have granted since.)"""
    left: list[tuple[int, str]] = []
    for start in range(0, len(due), BATCH):
        batch = due[start : start + BATCH]
        query = select(campaign_grants.c.member_id, campaign_grants.c.key).where(
            campaign_grants.c.campaign_id == campaign.id,
            campaign_grants.c.member_id.in_(sorted({member_id for member_id, _ in batch})),
            campaign_grants.c.key.in_(sorted({key for _, key in batch})),
        )
        granted = {(int(member_id), str(key)) for member_id, key in uow.connection.execute(query)}
        left.extend(item for item in batch if item not in granted)
    return left


def candidates(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime, *where: Any
) -> Select[Any]:
    """Active members of the program (and of the campaign's segment) matching `where`."""
    conditions = [
        members.c.program_id == program.id,
        members.c.status == MemberStatus.ACTIVE.value,
        *where,
    ]
    segment = in_segment(uow, program, campaign, at)
    if segment is not None:
        conditions.append(segment)
    return select(members).where(*conditions).order_by(members.c.id)


def month_day(uow: UnitOfWork, column: Any) -> Any:
    """`MM-DD` of a date or timestamp column, in SQL (to match `domain.month_days`)."""
    if uow.dialect == "postgresql":
        return func.to_char(column, "MM-DD")
    return func.strftime("%m-%d", column)


def _rows(uow: UnitOfWork, query: Select[Any]) -> Iterator[Row[Any]]:
    """The rows of `query`, fetched in batches (a program may have many members due)."""
    result = uow.connection.execute(query)
    while batch := result.fetchmany(BATCH):
        yield from batch


def birthdays_due(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime
) -> list[tuple[int, str]]:
    spec = campaign.spec
    today = local_date(at, program.zone)
    days = domain.month_days(domain.window_days(today, spec.timing, spec.catch_up_days))
    query = candidates(
        uow,
        program,
        campaign,
        at,
        members.c.birthday.is_not(None),
        month_day(uow, members.c.birthday).in_(days),
    )
    due = []
    for member in _rows(uow, query):
        day = domain.birthday_due(member.birthday, today, spec.timing, spec.catch_up_days)
        if day is None:
            continue
        set_at = member.birthday_set_at or member.enrolled_at
        if domain.set_long_enough(set_at, start_of_day(day, program.zone), spec.min_days_set):
            due.append((int(member.id), domain.year_key(day)))
    return due


def anniversaries_due(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime
) -> list[tuple[int, str]]:
    catch_up = campaign.spec.catch_up_days
    today = local_date(at, program.zone)
    # UTC month-days a day either side of the local window: the local date is exact below.
    span = [today + timedelta(days=1 - back) for back in range(catch_up + 2)]
    days = domain.month_days(span)
    query = candidates(uow, program, campaign, at, month_day(uow, members.c.enrolled_at).in_(days))
    due = []
    for member in _rows(uow, query):
        enrolled = local_date(member.enrolled_at, program.zone)
        day = domain.annual_due(enrolled, today, catch_up)
        if day is not None:
            due.append((int(member.id), domain.year_key(day)))
    return due


def lapses_due(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime
) -> list[tuple[int, str]]:
    """Members whose last order is at least `lapse_days` old, keyed by that order."""
    lapse_days = campaign.spec.lapse_days
    assert lapse_days is not None
    later = orders.alias("later")
    newer = exists().where(
        later.c.member_id == orders.c.member_id,
        or_(
            later.c.occurred_at > orders.c.occurred_at,
            and_(later.c.occurred_at == orders.c.occurred_at, later.c.id > orders.c.id),
        ),
    )
    last = (
        select(orders.c.member_id, orders.c.id)
        .where(orders.c.program_id == program.id, not_(newer))
        .where(orders.c.occurred_at <= at - timedelta(days=lapse_days))
        .subquery()
    )
    query = (
        candidates(uow, program, campaign, at)
        .join(last, last.c.member_id == members.c.id)
        .add_columns(last.c.id.label("last_order_id"))
    )
    return [(int(row.id), domain.lapse_key(int(row.last_order_id))) for row in _rows(uow, query)]


def invitees(
    uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime, limit: int
) -> list[int]:
    """The first `limit` members of the segment not invited yet, in enrolment order (then
    id): the order is deterministic, so capacity goes to the same members however run."""
    invited = exists().where(
        campaign_grants.c.campaign_id == campaign.id,
        campaign_grants.c.member_id == members.c.id,
    )
    query = candidates(uow, program, campaign, at, not_(invited))
    query = query.order_by(None).order_by(members.c.enrolled_at, members.c.id).limit(limit)
    return [int(row.id) for row in uow.connection.execute(query)] if limit else []


def granted_count(uow: UnitOfWork, campaign: Campaign) -> int:
    query = select(func.count()).where(campaign_grants.c.campaign_id == campaign.id)
    return int(uow.connection.execute(query).scalar_one())
