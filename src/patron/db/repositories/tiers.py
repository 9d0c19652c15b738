"""Members' tier status and the qualifying metrics tiers are decided on."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import (
    ledger_entries,
    ledger_transactions,
    member_tiers,
    members,
    orders,
    tier_entry_rewards,
)
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

    def due(self, program_id: int, at: datetime) -> list[Row[Any]]:
        """Statuses whose period ended by `at`, or that are re-evaluated daily (no end),
        except those an admin holds until after `at`."""
        query = select(member_tiers).where(
            member_tiers.c.program_id == program_id,
            (member_tiers.c.ends_at.is_(None)) | (member_tiers.c.ends_at <= at),
            (member_tiers.c.manual_until.is_(None)) | (member_tiers.c.manual_until <= at),
        )
        return list(self._c.execute(query.order_by(member_tiers.c.member_id)))

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
        ids = list(member_ids)
        if metric is TierMetric.POINTS:
            query = (
                select(ledger_transactions.c.member_id, func.sum(ledger_entries.c.amount))
                .join(ledger_entries, ledger_entries.c.transaction_id == ledger_transactions.c.id)
                .where(
                    ledger_transactions.c.member_id.in_(ids),
                    ledger_transactions.c.kind == TxKind.EARN.value,
                    ledger_entries.c.member_id == ledger_transactions.c.member_id,
                    ledger_entries.c.asset == "points",
                    ledger_entries.c.amount > 0,
                    and_(
                        ledger_transactions.c.occurred_at >= start,
                        ledger_transactions.c.occurred_at < end,
                    ),
                )
                .group_by(ledger_transactions.c.member_id)
            )
        else:
            value = func.count() if metric is TierMetric.ORDERS else func.sum(_net_spend(program))
            query = (
                select(orders.c.member_id, value)
                .where(
                    orders.c.member_id.in_(ids),
                    orders.c.occurred_at >= start,
                    orders.c.occurred_at < end,
                )
                .group_by(orders.c.member_id)
            )
        return {int(member_id): int(total or 0) for member_id, total in self._c.execute(query)}


def _net_spend(program: Program) -> Any:
    """An order's eligible spend less what was refunded of it (as the program counts it)."""
    refunded: Any = orders.c.merchandise_refunded
    if program.include_shipping:
        refunded = refunded + orders.c.shipping_refunded
    if program.include_tax:
        refunded = refunded + orders.c.tax_refunded
    return orders.c.eligible_amount - refunded
