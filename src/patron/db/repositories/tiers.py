"""Members' tier status and the qualifying metrics tiers are decided on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    MetaData,
    Row,
    Select,
    String,
    Table,
    and_,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection

from patron.db.tables import (
    ledger_entries,
    ledger_transactions,
    member_balances,
    member_tiers,
    members,
    orders,
    outbox,
    tier_entry_rewards,
)
from patron.db.types import UTCDateTime
from patron.domain.ledger import TxKind
from patron.domain.program import Program
from patron.domain.tiers import TierMetric


class TierRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def of_members(self, member_ids: Sequence[int]) -> dict[int, Row[Any]]:
        if not member_ids:
            return {}
        query = select(member_tiers).where(member_tiers.c.member_id.in_(list(member_ids)))
        return {row.member_id: row for row in self._c.execute(query)}

    def save(self, program: Program, member_id: int, **fields: Any) -> None:
        """Insert or update the member's status row (the member's balance is locked by the
        caller, so there is no concurrent writer of this row)."""
        changed = self._c.execute(
            update(member_tiers).where(member_tiers.c.member_id == member_id).values(**fields)
        )
        if changed.rowcount == 0:
            self._c.execute(
                insert(member_tiers).values(
                    member_id=member_id,
                    tenant_id=program.tenant_id,
                    program_id=program.id,
                    **fields,
                )
            )

    def entry_reward_granted(self, member_id: int, tier: str, period: str) -> bool:
        query = select(tier_entry_rewards.c.member_id).where(
            tier_entry_rewards.c.member_id == member_id,
            tier_entry_rewards.c.tier == tier,
            tier_entry_rewards.c.period == period,
        )
        return self._c.execute(query).first() is not None

    def record_entry_reward(
        self, tenant_id: int, member_id: int, tier: str, period: str, transaction_id: int
    ) -> None:
        self._c.execute(
            insert(tier_entry_rewards).values(
                member_id=member_id,
                tier=tier,
                period=period,
                tenant_id=tenant_id,
                transaction_id=transaction_id,
            )
        )

    def enrolled_at(self, member_ids: Sequence[int]) -> dict[int, datetime]:
        query = select(members.c.id, members.c.enrolled_at).where(
            members.c.id.in_(list(member_ids))
        )
        return {int(member_id): enrolled for member_id, enrolled in self._c.execute(query)}

    def metrics(
        self,
        program: Program,
        metric: TierMetric,
        member_ids: Sequence[int],
        start: datetime,
        end: datetime,
    ) -> dict[int, int]:
        """Each member's qualifying metric over [start, end); absent members have 0."""
        if not member_ids:
            return {}
        query = _metric_query(program, metric, list(member_ids), start, end)
        return {int(member_id): int(total or 0) for member_id, total in self._c.execute(query)}

    def due_groups(self, program_id: int, at: datetime) -> list[tuple[datetime | None, datetime]]:
        """The distinct period ends of statuses due at `at` (None: re-evaluated daily), each
        with one member's enrolment instant (members sharing an end share their window)."""
        query = (
            select(member_tiers.c.ends_at, func.min(members.c.enrolled_at))
            .join(members, members.c.id == member_tiers.c.member_id)
            .where(_due(program_id, at))
            .group_by(member_tiers.c.ends_at)
            .order_by(member_tiers.c.ends_at)
        )
        return [(ends_at, enrolled) for ends_at, enrolled in self._c.execute(query)]

    def decide_group(
        self,
        program: Program,
        metric: TierMetric,
        table: dict[str, tuple[tuple[int, str], ...]],
        *,
        ends_at: datetime | None,
        at: datetime,
        window: tuple[datetime, datetime],
        new_ends: datetime | None,
        rewarding: frozenset[str] = frozenset(),
    ) -> tuple[int, int, list[tuple[int, str]]]:
        """Decide, in a fixed number of statements, every due status that ended at
        `ends_at`: its metric over `window`, the new level by `table` (see
        `domain.tiers.period_end_table`), the status rows, `tier.changed` outbox events.
        Returns (evaluated, downgraded, [(member, level) kept at a level of `rewarding`]).

        Concurrency: a member write that upgrades a status meanwhile changes its row; the
        UPDATE only writes rows still at the tier and period end it decided on (PostgreSQL
        re-checks that on the row it waited for), so an upgrade is never overwritten. The
        balance rows of members at `rewarding` levels are locked first (member id order,
        as member writes do), because their entry reward is credited after the UPDATE."""
        same_period = (
            member_tiers.c.ends_at.is_(None)
            if ends_at is None
            else member_tiers.c.ends_at == ends_at
        )
        group = and_(_due(program.id, at), same_period)
        in_group = select(member_tiers.c.member_id).where(group)
        if rewarding and self._c.dialect.name == "postgresql":
            rewarded = select(member_tiers.c.member_id).where(
                group, member_tiers.c.tier.in_(sorted(rewarding))
            )
            self._c.execute(
                select(member_balances.c.member_id)
                .where(
                    member_balances.c.asset == "points", member_balances.c.member_id.in_(rewarded)
                )
                .order_by(member_balances.c.member_id)
                .with_for_update()
            )
        tier_due.drop(self._c, checkfirst=True)
        tier_due.create(self._c)
        values = _metric_query(program, metric, in_group, *window).subquery()
        value = func.coalesce(values.c.value, 0)
        self._c.execute(
            insert(tier_due).from_select(
                ["member_id", "tier", "metric", "new_tier"],
                select(
                    member_tiers.c.member_id,
                    member_tiers.c.tier,
                    value,
                    _decision(table, member_tiers.c.tier, value),
                )
                .outerjoin(values, values.c.member_id == member_tiers.c.member_id)
                .where(group),
            )
        )
        changed = tier_due.c.new_tier != tier_due.c.tier
        write = changed if ends_at is None else true()  # daily statuses: only changes
        self._c.execute(
            update(member_tiers)
            .where(
                member_tiers.c.member_id == tier_due.c.member_id,
                member_tiers.c.tier == tier_due.c.tier,
                same_period,
                write,
            )
            .values(
                tier=tier_due.c.new_tier,
                reached_at=case((changed, at), else_=member_tiers.c.reached_at),
                ends_at=new_ends,
                manual_until=None,
                reason=case((changed, "retention not met"), else_="retained"),
                updated_at=at,
            )
        )
        self._announce_changes(program, at)
        evaluated, downgraded = self._c.execute(
            select(func.count(), func.coalesce(func.sum(case((changed, 1), else_=0)), 0))
        ).one()
        kept: list[tuple[int, str]] = []
        if rewarding:
            query = select(tier_due.c.member_id, tier_due.c.tier).where(
                ~changed, tier_due.c.tier.in_(sorted(rewarding))
            )
            kept = [(int(member_id), tier) for member_id, tier in self._c.execute(query)]
        tier_due.drop(self._c)
        return int(evaluated), int(downgraded), kept

    def _announce_changes(self, program: Program, at: datetime) -> None:
        builder = (
            func.jsonb_build_object if self._c.dialect.name == "postgresql" else func.json_object
        )
        payload = builder(
            "customer_id",
            members.c.external_id,
            "from",
            tier_due.c.tier,
            "to",
            tier_due.c.new_tier,
            "cause",
            "downgrade",
        )
        rows = (
            select(
                literal(program.tenant_id),
                literal(program.id),
                literal("tier.changed"),
                payload,
                literal(at, UTCDateTime()),
            )
            .join_from(tier_due, members, members.c.id == tier_due.c.member_id)
            .where(tier_due.c.new_tier != tier_due.c.tier)
        )
        self._c.execute(
            insert(outbox).from_select(
                ["tenant_id", "program_id", "type", "payload", "created_at"], rows
            )
        )


def _due(program_id: int, at: datetime) -> Any:
    """Statuses whose period ended by `at` or that are re-evaluated daily (no end), except
    those an admin holds until after `at`."""
    return and_(
        member_tiers.c.program_id == program_id,
        (member_tiers.c.ends_at.is_(None)) | (member_tiers.c.ends_at <= at),
        (member_tiers.c.manual_until.is_(None)) | (member_tiers.c.manual_until <= at),
    )


def _decision(table: dict[str, tuple[tuple[int, str], ...]], tier: Any, value: Any) -> Any:
    """The new level as SQL: the first step of the current level's table that `value`
    reaches (an unknown level stays as it is)."""
    whens = [
        (and_(tier == level, value >= least), result)
        for level, steps in table.items()
        for least, result in steps
    ]
    return case(*whens, else_=tier)


def _metric_query(
    program: Program, metric: TierMetric, members_in: Any, start: datetime, end: datetime
) -> Select[Any]:
    """(member_id, value) of the members in `members_in` (ids or a subquery) over
    [start, end)."""
    if metric is TierMetric.POINTS:
        return (
            select(
                ledger_transactions.c.member_id,
                func.sum(ledger_entries.c.amount).label("value"),
            )
            .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            .where(
                ledger_transactions.c.member_id.in_(members_in),
                ledger_transactions.c.kind == TxKind.EARN.value,
                ledger_entries.c.member_id == ledger_transactions.c.member_id,
                ledger_entries.c.asset == "points",
                ledger_entries.c.amount > 0,
                ledger_transactions.c.occurred_at >= start,
                ledger_transactions.c.occurred_at < end,
            )
            .group_by(ledger_transactions.c.member_id)
        )
    value = func.count() if metric is TierMetric.ORDERS else func.sum(net_spend(program))
    return (
        select(orders.c.member_id, value.label("value"))
        .where(
            orders.c.member_id.in_(members_in),
            orders.c.occurred_at >= start,
            orders.c.occurred_at < end,
        )
        .group_by(orders.c.member_id)
    )


#: Scratch table of one group's decisions (temporary: per connection, dropped after use).
tier_due = Table(
    "tier_due",
    MetaData(),
    Column("member_id", BigInteger, primary_key=True),
    Column("tier", String(64), nullable=False),
    Column("metric", BigInteger, nullable=False),
    Column("new_tier", String(64), nullable=False),
    prefixes=["TEMPORARY"],
)


def net_spend(program: Program) -> Any:
    """An order's eligible spend less what was refunded of it (as the program counts it)."""
    refunded: Any = orders.c.merchandise_refunded
    if program.include_shipping:
        refunded = refunded + orders.c.shipping_refunded
    if program.include_tax:
        refunded = refunded + orders.c.tax_refunded
    return orders.c.eligible_amount - refunded
