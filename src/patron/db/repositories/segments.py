"""Segments: the saved filters, and the SQL that evaluates a filter over members.

`member_query` turns a domain `SegmentFilter` into one SELECT of member ids (a subquery
anywhere a set of members is wanted). Criteria become WHERE conditions on `members`;
order statistics and referral counts are grouped subqueries joined once, so the statement
is evaluated set-based (one pass over orders, not one query per member). RFM scores rank
the whole program, so the daily `rfm` job stores them (`refresh_rfm`, from `rfm_scores`)
and criteria read `member_rfm`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    FromClause,
    Row,
    Select,
    String,
    and_,
    any_,
    bindparam,
    case,
    delete,
    exists,
    extract,
    func,
    insert,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, array
from sqlalchemy.engine import Connection

from patron.db.repositories.tiers import net_spend
from patron.db.tables import (
    brands,
    member_rfm,
    member_tiers,
    members,
    membership_plans,
    orders,
    referrals,
    segments,
    subscriptions,
)
from patron.db.types import UTCDateTime
from patron.domain.program import Program
from patron.domain.segments import RFM_BUCKETS, Range, Rfm, SegmentFilter, days_before

#: The referral status that counts: the advocate was rewarded.
REWARDED = "rewarded"


class SegmentRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add(self, **fields: Any) -> None:
        self._c.execute(insert(segments).values(**fields))

    def replace(self, segment_id: int, **fields: Any) -> None:
        self._c.execute(update(segments).where(segments.c.id == segment_id).values(**fields))

    def get(self, program_id: int, code: str) -> Row[Any] | None:
        query = select(segments).where(segments.c.program_id == program_id, segments.c.code == code)
        return self._c.execute(query).first()

    def by_codes(self, program_id: int, codes: Sequence[str]) -> list[Row[Any]]:
        query = select(segments).where(
            segments.c.program_id == program_id, segments.c.code.in_(sorted(set(codes)))
        )
        return list(self._c.execute(query.order_by(segments.c.code)))

    def all(self, program_id: int) -> list[Row[Any]]:
        query = select(segments).where(segments.c.program_id == program_id)
        return list(self._c.execute(query.order_by(segments.c.code)))

    def known_brands(self, tenant_id: int, codes: Sequence[str]) -> set[str]:
        query = select(brands.c.code).where(
            brands.c.tenant_id == tenant_id, brands.c.code.in_(codes)
        )
        return set(self._c.scalars(query))

    def known_plans(self, program_id: int, codes: Sequence[str]) -> set[str]:
        query = select(membership_plans.c.code).where(
            membership_plans.c.program_id == program_id, membership_plans.c.code.in_(codes)
        )
        return set(self._c.scalars(query))

    def refresh_rfm(self, program: Program, at: datetime) -> int:
        """Replace the program's RFM scores by those of its members as of `at`; returns how
        many members were scored."""
        self._c.execute(delete(member_rfm).where(member_rfm.c.program_id == program.id))
        scores = rfm_scores(program, at).subquery()
        self._c.execute(
            insert(member_rfm).from_select(
                [
                    "member_id",
                    "tenant_id",
                    "program_id",
                    "recency",
                    "frequency",
                    "monetary",
                    "computed_at",
                ],
                select(
                    scores.c.member_id,
                    literal(program.tenant_id),
                    literal(program.id),
                    scores.c.r,
                    scores.c.f,
                    scores.c.m,
                    literal(at, UTCDateTime),
                ),
            )
        )
        scored = select(func.count()).where(member_rfm.c.program_id == program.id)
        return int(self._c.scalar(scored) or 0)

    def count(self, query: Select[Any]) -> int:
        inner = query.subquery()
        return int(self._c.scalar(select(func.count()).select_from(inner)) or 0)

    def members_page(
        self, query: Select[Any], *, after_id: int | None, limit: int
    ) -> list[Row[Any]]:
        """Members of `query` in id order after `after_id`, with their tier."""
        page = (
            select(members, member_tiers.c.tier)
            .outerjoin(member_tiers, member_tiers.c.member_id == members.c.id)
            .where(members.c.id.in_(query))
        )
        if after_id is not None:
            page = page.where(members.c.id > after_id)
        return list(self._c.execute(page.order_by(members.c.id).limit(limit)))

    def membership(self, tagged: Sequence[tuple[str, Select[Any]]]) -> list[tuple[str, int]]:
        """(code, member id) for each of the tagged member queries, in one statement."""
        if not tagged:
            return []
        parts = [
            select(literal(code, String).label("code"), sub.c.member_id)
            for code, sub in ((code, query.subquery()) for code, query in tagged)
        ]
        statement = parts[0] if len(parts) == 1 else union_all(*parts)
        return [(code, int(member_id)) for code, member_id in self._c.execute(statement)]


def member_query(
    program: Program,
    spec: SegmentFilter,
    at: datetime,
    dialect: str,
    *,
    only: Sequence[int] | None = None,
) -> Select[Any]:
    """SELECT member_id of the program's members that `spec` holds for at `at` (restricted
    to `only` when given). Unknown tier, brand or plan codes match nobody."""
    conditions: list[ColumnElement[bool]] = [
        members.c.program_id == program.id,
        members.c.tenant_id == program.tenant_id,
    ]
    source: FromClause = members
    among = _among_members(only, dialect)
    if among is not None:
        conditions.append(among(members.c.id))
    conditions += _attributes(program, spec, dialect, among)
    if spec.uses_orders:
        stats = _order_stats(program, at, among).subquery("order_stats")
        source = source.outerjoin(stats, stats.c.member_id == members.c.id)
        conditions += _order_conditions(spec, stats, at)
    if spec.referrals.is_set:
        counts = _referral_counts(program, among).subquery("referral_counts")
        source = source.outerjoin(counts, counts.c.member_id == members.c.id)
        conditions += _within(func.coalesce(counts.c.value, 0), spec.referrals)
    if spec.rfm is not None and spec.rfm.is_set:
        # the scores of the last `rfm` job run; a member without any matches no criterion
        source = source.join(member_rfm, member_rfm.c.member_id == members.c.id)
        conditions += _rfm_conditions(spec.rfm)
    if spec.brands:
        buyers = _ordered_at_brands(program, spec.brands, at)
        conditions.append(members.c.id.in_(_among(buyers, orders.c.member_id, among)))
    if spec.membership is not None:
        subscribers = _subscribed(program, spec)
        conditions.append(members.c.id.in_(_among(subscribers, subscriptions.c.member_id, among)))
    return select(members.c.id.label("member_id")).select_from(source).where(and_(*conditions))


#: A condition that a member id column is one of the members asked about.
Among = Callable[[Any], ColumnElement[bool]]


def _among_members(only: Sequence[int] | None, dialect: str) -> Among | None:
    """The restriction to `only` (None: every member). On PostgreSQL one array parameter
    serves every use (`= ANY`), so many members do not make the statement long."""
    if only is None:
        return None
    ids = sorted(set(only))
    if dialect == "postgresql":
        shared = bindparam("segment_members", ids, type_=ARRAY(BigInteger))
        return lambda column: column == any_(shared)
    return lambda column: column.in_(ids)


def _among(query: Select[Any], member_id: Any, among: Among | None) -> Select[Any]:
    """`query` restricted to the members asked about (when given): a subquery over a few
    members' rows reads them by index instead of the whole program's."""
    return query if among is None else query.where(among(member_id))


def _attributes(
    program: Program, spec: SegmentFilter, dialect: str, among: Among | None
) -> list[ColumnElement[bool]]:
    """Conditions on the member row itself (and its tier)."""
    found: list[ColumnElement[bool]] = []
    if spec.status:
        found.append(members.c.status.in_(spec.status))
    if spec.enrolled is not None:
        if spec.enrolled.after is not None:
            found.append(members.c.enrolled_at >= spec.enrolled.after)
        if spec.enrolled.before is not None:
            found.append(members.c.enrolled_at < spec.enrolled.before)
    if spec.birthday_months:
        found.append(extract("month", members.c.birthday).in_(spec.birthday_months))
    if spec.tiers:
        tiered = select(member_tiers.c.member_id).where(
            member_tiers.c.program_id == program.id, member_tiers.c.tier.in_(spec.tiers)
        )
        found.append(members.c.id.in_(_among(tiered, member_tiers.c.member_id, among)))
    if spec.tags is not None:
        if spec.tags.any:
            found.append(_tags(dialect, spec.tags.any, every=False))
        if spec.tags.all:
            found.append(_tags(dialect, spec.tags.all, every=True))
    return found


def _tags(dialect: str, wanted: Sequence[str], *, every: bool) -> ColumnElement[bool]:
    """The member's tags (a JSON list) hold any / every one of `wanted`."""
    tags = sorted(set(wanted))
    if dialect == "postgresql":
        jsonb = type_coerce(members.c.tags, JSONB)
        values = array(tags, type_=String)
        held: ColumnElement[bool] = jsonb.has_all(values) if every else jsonb.has_any(values)
        return held
    each = func.json_each(members.c.tags).table_valued("value")
    matching = select(func.count(func.distinct(each.c.value))).where(each.c.value.in_(tags))
    if every:
        return matching.scalar_subquery() == len(tags)
    return exists(select(each.c.value).where(each.c.value.in_(tags)))


def _order_stats(program: Program, at: datetime, among: Among | None) -> Select[Any]:
    """(member_id, orders, spend, last) over the program's orders that occurred by `at`;
    spend is net of refunds exactly as tiers count it."""
    query = select(
        orders.c.member_id,
        func.count().label("orders"),
        func.sum(net_spend(program)).label("spend"),
        func.max(orders.c.occurred_at).label("last"),
    ).where(orders.c.program_id == program.id, orders.c.occurred_at <= at)
    return _among(query, orders.c.member_id, among).group_by(orders.c.member_id)


def _order_conditions(spec: SegmentFilter, stats: Any, at: datetime) -> list[ColumnElement[bool]]:
    found = _within(func.coalesce(stats.c.spend, 0), spec.spend)
    found += _within(func.coalesce(stats.c.orders, 0), spec.orders)
    last = spec.last_order
    if last is not None:
        if last.within_days is not None:
            found.append(stats.c.last >= days_before(at, last.within_days))
        if last.none_for_days is not None:
            cutoff = days_before(at, last.none_for_days)
            found.append(or_(stats.c.last.is_(None), stats.c.last < cutoff))
        if last.after is not None:
            found.append(stats.c.last >= last.after)
        if last.before is not None:
            found.append(stats.c.last < last.before)
    return found


def _within(value: Any, bounds: Range) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = []
    if bounds.min is not None:
        found.append(value >= bounds.min)
    if bounds.max is not None:
        found.append(value <= bounds.max)
    return found


def _referral_counts(program: Program, among: Among | None) -> Select[Any]:
    query = select(
        referrals.c.advocate_member_id.label("member_id"), func.count().label("value")
    ).where(referrals.c.program_id == program.id, referrals.c.status == REWARDED)
    return _among(query, referrals.c.advocate_member_id, among).group_by(
        referrals.c.advocate_member_id
    )


def rfm_scores(program: Program, at: datetime) -> Select[Any]:
    """(member_id, r, f, m) for every member of the program: `domain.segments.rfm_score`
    in SQL, with `rank() - 1` as the number of members with a strictly lower value."""
    stats = _order_stats(program, at, None).subquery("rfm_orders")
    population = func.count().over()
    never = case((stats.c.last.is_(None), 0), else_=1)
    recency = func.rank().over(order_by=(never, stats.c.last))
    frequency = func.rank().over(order_by=func.coalesce(stats.c.orders, 0))
    monetary = func.rank().over(order_by=func.coalesce(stats.c.spend, 0))

    def score(rank: Any) -> Any:
        return 1 + (RFM_BUCKETS * (rank - 1)) // population

    return (
        select(
            members.c.id.label("member_id"),
            score(recency).label("r"),
            score(frequency).label("f"),
            score(monetary).label("m"),
        )
        .select_from(members.outerjoin(stats, stats.c.member_id == members.c.id))
        .where(members.c.program_id == program.id)
    )


def _rfm_conditions(rfm: Rfm) -> list[ColumnElement[bool]]:
    scores = member_rfm.c
    found = _within(scores.recency, rfm.recency)
    found += _within(scores.frequency, rfm.frequency)
    found += _within(scores.monetary, rfm.monetary)
    found += _within(scores.recency + scores.frequency + scores.monetary, rfm.total)
    return found


def _ordered_at_brands(program: Program, codes: Sequence[str], at: datetime) -> Select[Any]:
    return (
        select(orders.c.member_id)
        .join(brands, brands.c.id == orders.c.brand_id)
        .where(
            orders.c.program_id == program.id,
            orders.c.occurred_at <= at,
            brands.c.tenant_id == program.tenant_id,
            brands.c.code.in_(sorted(set(codes))),
        )
    )


def _subscribed(program: Program, spec: SegmentFilter) -> Select[Any]:
    assert spec.membership is not None
    query = select(subscriptions.c.member_id).where(
        subscriptions.c.program_id == program.id,
        subscriptions.c.status.in_([status.value for status in spec.membership.statuses]),
    )
    if spec.membership.plans:
        query = query.join(
            membership_plans, membership_plans.c.id == subscriptions.c.plan_id
        ).where(membership_plans.c.code.in_(sorted(set(spec.membership.plans))))
    return query
