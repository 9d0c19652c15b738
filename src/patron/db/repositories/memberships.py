"""Membership plans, subscriptions, their payments and the credits given for them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, exists, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from patron.db.insert_or_nothing import insert_or_nothing
from patron.db.tables import (
    members,
    membership_credits,
    membership_payments,
    membership_plans,
    orders,
    subscriptions,
)
from patron.domain.memberships import LIVE

_LIVE = [status.value for status in LIVE]


class MembershipRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # -- plans ------------------------------------------------------------------------

    def has_plans(self, program_id: int) -> bool:
        query = select(exists().where(membership_plans.c.program_id == program_id))
        return bool(self._c.execute(query).scalar())

    def plan(self, program_id: int, code: str) -> Row[Any] | None:
        query = select(membership_plans).where(
            membership_plans.c.program_id == program_id, membership_plans.c.code == code
        )
        return self._c.execute(query).first()

    def plans(self, program_id: int, after_id: int | None, limit: int) -> list[Row[Any]]:
        query = select(membership_plans).where(membership_plans.c.program_id == program_id)
        if after_id is not None:
            query = query.where(membership_plans.c.id > after_id)
        return list(self._c.execute(query.order_by(membership_plans.c.id).limit(limit)))

    def add_plan(self, **fields: Any) -> bool:
        """Insert a plan; False if its code is taken in the program."""
        statement = insert_or_nothing(membership_plans, tuple(fields), ("program_id", "code"), "id")
        return self._c.execute(statement, fields).first() is not None

    def update_plan(self, plan_id: int, **fields: Any) -> None:
        self._c.execute(
            update(membership_plans).where(membership_plans.c.id == plan_id).values(**fields)
        )

    # -- subscriptions ----------------------------------------------------------------

    def _subscriptions(self) -> Any:
        return select(
            subscriptions,
            members.c.external_id.label("customer_id"),
            membership_plans.c.code.label("plan_code"),
            membership_plans.c.grace_days.label("plan_grace_days"),
        ).select_from(
            subscriptions.join(members, members.c.id == subscriptions.c.member_id).join(
                membership_plans, membership_plans.c.id == subscriptions.c.plan_id
            )
        )

    def subscription(
        self, program_id: int, public_id: str, *, lock: bool = False
    ) -> Row[Any] | None:
        query = self._subscriptions().where(
            subscriptions.c.program_id == program_id, subscriptions.c.public_id == public_id
        )
        if lock and self._c.dialect.name == "postgresql":
            query = query.with_for_update(of=subscriptions)
        return self._c.execute(query).first()

    def of_member(
        self, program_id: int, member_id: int, before_id: int | None = None, limit: int = 1000
    ) -> list[Row[Any]]:
        """The member's subscriptions, newest first."""
        query = self._subscriptions().where(
            subscriptions.c.program_id == program_id, subscriptions.c.member_id == member_id
        )
        if before_id is not None:
            query = query.where(subscriptions.c.id < before_id)
        return list(self._c.execute(query.order_by(subscriptions.c.id.desc()).limit(limit)))

    def live_of_members(
        self, program_id: int, member_ids: list[int], at: datetime
    ) -> list[Row[Any]]:
        """Subscriptions (with their plan's code and perks) whose perks may apply at `at`:
        live statuses, started by `at`, before their period end or grace end."""
        query = (
            select(
                subscriptions.c.member_id,
                membership_plans.c.code,
                membership_plans.c.perks,
            )
            .select_from(
                subscriptions.join(
                    membership_plans, membership_plans.c.id == subscriptions.c.plan_id
                )
            )
            .where(
                subscriptions.c.program_id == program_id,
                subscriptions.c.member_id.in_(member_ids),
                subscriptions.c.status.in_(_LIVE),
                subscriptions.c.started_at <= at,
                or_(
                    and_(
                        subscriptions.c.status == "past_due",
                        subscriptions.c.grace_until > at,
                    ),
                    and_(
                        subscriptions.c.status != "past_due",
                        or_(subscriptions.c.period_end.is_(None), subscriptions.c.period_end > at),
                    ),
                ),
            )
            .order_by(subscriptions.c.member_id, membership_plans.c.code)
        )
        return list(self._c.execute(query))

    def had_plan(self, member_id: int, plan_id: int) -> bool:
        """Whether the member ever subscribed to the plan (trial or paid)."""
        query = select(subscriptions.c.id).where(
            subscriptions.c.member_id == member_id, subscriptions.c.plan_id == plan_id
        )
        return self._c.execute(query.limit(1)).first() is not None

    def live_for_plan(self, member_id: int, plan_id: int) -> Row[Any] | None:
        """The member's subscription to the plan in a live status (with its plan code)."""
        query = self._subscriptions().where(
            subscriptions.c.member_id == member_id,
            subscriptions.c.plan_id == plan_id,
            subscriptions.c.status.in_(_LIVE),
        )
        return self._c.execute(query).first()

    def add_subscription(self, **fields: Any) -> int:
        key = self._c.execute(insert(subscriptions).values(**fields)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def update_subscription(self, subscription_id: int, **fields: Any) -> None:
        self._c.execute(
            update(subscriptions).where(subscriptions.c.id == subscription_id).values(**fields)
        )

    def of_program(self, program_id: int, statuses: list[str]) -> list[Row[Any]]:
        """The program's subscriptions in `statuses` (as `subscription` reads them), with
        their plan's perks."""
        query = (
            self._subscriptions()
            .add_columns(membership_plans.c.perks)
            .where(subscriptions.c.program_id == program_id, subscriptions.c.status.in_(statuses))
            .order_by(subscriptions.c.id)
        )
        return list(self._c.execute(query))

    # -- payments ---------------------------------------------------------------------

    def reference_seen(self, program_id: int, reference: str) -> bool:
        query = select(
            exists().where(
                membership_payments.c.program_id == program_id,
                membership_payments.c.reference == reference,
            )
        )
        return bool(self._c.execute(query).scalar())

    def add_payment(self, **fields: Any) -> bool:
        """Record a payment, failure or refund; False if its reference was seen before."""
        if fields.get("reference") is None:
            self._c.execute(insert(membership_payments).values(**fields))
            return True
        statement = insert_or_nothing(
            membership_payments, tuple(fields), ("program_id", "reference"), "id"
        )
        return self._c.execute(statement, fields).first() is not None

    def payments(self, subscription_ids: list[int]) -> list[Row[Any]]:
        """The payments, failures and refunds of the subscriptions, in order."""
        if not subscription_ids:
            return []
        query = (
            select(membership_payments)
            .where(membership_payments.c.subscription_id.in_(subscription_ids))
            .order_by(membership_payments.c.id)
        )
        return list(self._c.execute(query))

    # -- credits ----------------------------------------------------------------------

    def credited_periods(self, subscription_ids: list[int], kind: str) -> set[tuple[int, str]]:
        if not subscription_ids:
            return set()
        query = select(membership_credits.c.subscription_id, membership_credits.c.period).where(
            membership_credits.c.subscription_id.in_(subscription_ids),
            membership_credits.c.kind == kind,
        )
        return {(int(row[0]), str(row[1])) for row in self._c.execute(query)}

    def claim_credit(self, **fields: Any) -> bool:
        """Claim (subscription, kind, period); False if it was given before."""
        statement = insert_or_nothing(
            membership_credits,
            tuple(fields),
            ("subscription_id", "kind", "period"),
            "subscription_id",
        )
        return self._c.execute(statement, fields).first() is not None

    def set_credit_transaction(
        self, subscription_id: int, kind: str, period: str, transaction_id: int
    ) -> None:
        self._c.execute(
            update(membership_credits)
            .where(
                membership_credits.c.subscription_id == subscription_id,
                membership_credits.c.kind == kind,
                membership_credits.c.period == period,
            )
            .values(transaction_id=transaction_id)
        )

    def net_spend(
        self, member_id: int, start: datetime, end: datetime, shipping: bool, tax: bool
    ) -> int:
        """The member's eligible spend on orders in [start, end), net of what was refunded
        (merchandise, and shipping/tax when the program earns on them)."""
        refunded: ColumnElement[Any] = orders.c.merchandise_refunded
        if shipping:
            refunded = refunded + orders.c.shipping_refunded
        if tax:
            refunded = refunded + orders.c.tax_refunded
        net = func.coalesce(func.sum(orders.c.eligible_amount - refunded), 0)
        query = select(net).where(
            orders.c.member_id == member_id,
            orders.c.occurred_at >= start,
            orders.c.occurred_at < end,
        )
        return max(int(self._c.execute(query).scalar_one()), 0)
