"""Referral codes, referrals, the fingerprints their checks compare, and invites."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, or_, select, update
from sqlalchemy.engine import Connection

from patron.db.insert_or_nothing import insert_or_nothing, many_params
from patron.db.tables import (
    events,
    members,
    orders,
    programs,
    referral_codes,
    referral_fingerprints,
    referral_invites,
    referrals,
)


class ReferralRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # --- policy ---

    def policy(self, program_id: int) -> dict[str, Any] | None:
        """The program's referral policy as stored (read at each use, not cached)."""
        query = select(programs.c.referral_policy).where(programs.c.id == program_id)
        stored: dict[str, Any] | None = self._c.execute(query).scalar_one_or_none()
        return stored

    # --- codes ---

    def code_of(self, member_id: int) -> str | None:
        query = select(referral_codes.c.code).where(referral_codes.c.member_id == member_id)
        return self._c.execute(query).scalar_one_or_none()

    def add_code(
        self, tenant_id: int, program_id: int, member_id: int, code: str, now: datetime
    ) -> None:
        self._c.execute(
            insert(referral_codes).values(
                tenant_id=tenant_id,
                program_id=program_id,
                member_id=member_id,
                code=code,
                created_at=now,
            )
        )

    def members_without_code(self, program_id: int, *, limit: int) -> list[int]:
        """Up to `limit` ids of the program's members that have no referral code."""
        has_code = select(referral_codes.c.member_id).where(
            referral_codes.c.member_id == members.c.id
        )
        query = (
            select(members.c.id)
            .where(members.c.program_id == program_id, ~has_code.exists())
            .order_by(members.c.id)
            .limit(limit)
        )
        return [int(row[0]) for row in self._c.execute(query)]

    def add_codes(
        self, tenant_id: int, program_id: int, codes: list[tuple[int, str]], now: datetime
    ) -> None:
        """Insert (member id, code) pairs in one statement."""
        self._c.execute(
            insert(referral_codes),
            [
                {
                    "tenant_id": tenant_id,
                    "program_id": program_id,
                    "member_id": member_id,
                    "code": code,
                    "created_at": now,
                }
                for member_id, code in codes
            ],
        )

    def advocate_of_code(self, program_id: int, code: str) -> Row[Any] | None:
        """The member (row) whose code this is in the program."""
        query = (
            select(members)
            .join(referral_codes, referral_codes.c.member_id == members.c.id)
            .where(referral_codes.c.program_id == program_id, referral_codes.c.code == code)
        )
        return self._c.execute(query).first()

    # --- referrals ---

    def add(self, **fields: Any) -> int:
        key = self._c.execute(insert(referrals).values(**fields)).inserted_primary_key
        assert key is not None
        return int(key[0])

    def _select(self) -> Any:
        advocate = members.alias("advocate")
        friend = members.alias("friend")
        return (
            select(
                referrals,
                advocate.c.external_id.label("advocate_customer_id"),
                advocate.c.status.label("advocate_status"),
                friend.c.external_id.label("friend_customer_id"),
                orders.c.external_id.label("order_external_id"),
                orders.c.brand_id.label("order_brand_id"),
            )
            .join(advocate, advocate.c.id == referrals.c.advocate_member_id)
            .join(friend, friend.c.id == referrals.c.friend_member_id)
            .outerjoin(orders, orders.c.id == referrals.c.qualifying_order_id)
        )

    def get(self, program_id: int, public_id: str, *, lock: bool = False) -> Row[Any] | None:
        query = self._select().where(
            referrals.c.program_id == program_id, referrals.c.public_id == public_id
        )
        if lock and self._c.dialect.name == "postgresql":
            query = query.with_for_update(of=referrals)
        return self._c.execute(query).first()

    def get_by_pk(self, referral_id: int) -> Row[Any]:
        return self._c.execute(self._select().where(referrals.c.id == referral_id)).one()

    def of_friend(self, program_id: int, friend_member_id: int) -> Row[Any] | None:
        query = select(referrals.c.id, referrals.c.public_id).where(
            referrals.c.program_id == program_id, referrals.c.friend_member_id == friend_member_id
        )
        return self._c.execute(query).first()

    def update(self, referral_id: int, **fields: Any) -> None:
        self._c.execute(update(referrals).where(referrals.c.id == referral_id).values(**fields))

    def page(
        self, program_id: int, *, status: str | None, after_id: int | None, limit: int
    ) -> list[Row[Any]]:
        query = self._select().where(referrals.c.program_id == program_id)
        if status is not None:
            query = query.where(referrals.c.status == status)
        if after_id is not None:
            query = query.where(referrals.c.id > after_id)
        return list(self._c.execute(query.order_by(referrals.c.id).limit(limit)))

    def in_status(
        self,
        program_id: int,
        status: str,
        *,
        lock: bool = False,
        friend_ordered: bool = False,
        due_by: datetime | None = None,
    ) -> list[Row[Any]]:
        """The program's referrals in `status`, oldest first; with `friend_ordered`, only
        those whose friend has an order (so friends who never order cost nothing); with
        `due_by`, only those whose qualifying order's window has ended by then."""
        query = self._select().where(
            referrals.c.program_id == program_id, referrals.c.status == status
        )
        if due_by is not None:
            query = query.where(referrals.c.qualifies_at <= due_by)
        if friend_ordered:
            placed = orders.alias("placed")  # the select already joins the qualifying order
            ordered = select(placed.c.id).where(placed.c.member_id == referrals.c.friend_member_id)
            query = query.where(ordered.correlate(referrals).exists())
        if lock and self._c.dialect.name == "postgresql":
            query = query.with_for_update(of=referrals)
        return list(self._c.execute(query.order_by(referrals.c.id)))

    def count_by_advocate(self, advocate_member_id: int, since: datetime, until: datetime) -> int:
        """Referrals the advocate brought in [since, until)."""
        query = select(func.count()).where(
            referrals.c.advocate_member_id == advocate_member_id,
            referrals.c.created_at >= since,
            referrals.c.created_at < until,
        )
        return int(self._c.execute(query).scalar_one())

    def advocate_rewards(
        self, advocate_member_id: int, since: datetime, until: datetime
    ) -> tuple[int, int]:
        """The advocate's rewards (in [since, until), in total)."""
        rewarded = referrals.c.advocate_rewarded_at
        query = select(
            func.count(rewarded),
            func.count().filter(rewarded >= since, rewarded < until),
        ).where(referrals.c.advocate_member_id == advocate_member_id)
        total, window = self._c.execute(query).one()
        return int(window), int(total)

    def counts(self, program_id: int, advocate_member_id: int | None = None) -> list[Row[Any]]:
        """Per status (of the program's referrals, or one advocate's): `referrals`,
        `friends_rewarded` and `qualified` (with a qualifying order), in one query."""
        query = select(
            referrals.c.status,
            func.count().label("referrals"),
            func.count(referrals.c.friend_rewarded_at).label("friends_rewarded"),
            func.count(referrals.c.qualifying_order_id).label("qualified"),
        ).where(referrals.c.program_id == program_id)
        if advocate_member_id is not None:
            query = query.where(referrals.c.advocate_member_id == advocate_member_id)
        return list(self._c.execute(query.group_by(referrals.c.status)))

    # --- the facts the checks and the job look at ---

    def first_order(self, member_id: int, min_total: int) -> Row[Any] | None:
        """The member's first order (by time placed) with a total of at least `min_total`."""
        query = (
            select(orders)
            .where(orders.c.member_id == member_id, orders.c.total >= min_total)
            .order_by(orders.c.occurred_at, orders.c.id)
            .limit(1)
        )
        return self._c.execute(query).first()

    def order_count(self, member_id: int, *, excluding: int | None = None) -> int:
        query = select(func.count()).where(orders.c.member_id == member_id)
        if excluding is not None:
            query = query.where(orders.c.id != excluding)
        return int(self._c.execute(query).scalar_one())

    def refunds_before(
        self, brand_id: int, member_id: int, order_external_id: str, until: datetime
    ) -> list[Row[Any]]:
        """Refund events of the member's order (the brand's `order_external_id`) that
        occurred before `until`."""
        query = select(events.c.source_id, events.c.payload, events.c.occurred_at).where(
            events.c.type == "order.refunded",
            events.c.brand_id == brand_id,
            events.c.member_id == member_id,
            events.c.occurred_at < until,
        )
        return [
            row
            for row in self._c.execute(query)
            if row.payload.get("order_id") == order_external_id
        ]

    def look_alikes(
        self,
        program_id: int,
        excluding: list[int],
        *,
        email_patterns: list[str],
        phone_suffix: str | None,
    ) -> list[Row[Any]]:
        """Members of the program (but `excluding`) whose lower-cased email matches one of
        the LIKE `email_patterns` or whose phone ends with `phone_suffix`: the candidates
        the already-a-customer check normalises and compares in Python."""
        wanted = [func.lower(members.c.email).like(pattern) for pattern in email_patterns]
        if phone_suffix:
            wanted.append(members.c.phone.like(f"%{phone_suffix}"))
        if not wanted:
            return []
        query = select(members.c.id, members.c.external_id, members.c.email, members.c.phone).where(
            members.c.program_id == program_id, members.c.id.not_in(excluding), or_(*wanted)
        )
        return list(self._c.execute(query.order_by(members.c.id)))

    # --- fingerprints ---

    def add_fingerprints(
        self, tenant_id: int, member_id: int, found: list[tuple[str, str]], now: datetime
    ) -> None:
        """Keep the member's (kind, value) fingerprints not kept yet, in one statement."""
        if not found:
            return
        statement = insert_or_nothing(
            referral_fingerprints,
            ("tenant_id", "member_id", "kind", "value", "created_at"),
            ("member_id", "kind", "value"),
            "id",
            rows=len(found),
        )
        rows = [
            {
                "tenant_id": tenant_id,
                "member_id": member_id,
                "kind": kind,
                "value": value,
                "created_at": now,
            }
            for kind, value in found
        ]
        self._c.execute(statement, many_params(rows))

    def fingerprints(self, member_id: int) -> dict[str, frozenset[str]]:
        query = select(referral_fingerprints.c.kind, referral_fingerprints.c.value).where(
            referral_fingerprints.c.member_id == member_id
        )
        found: dict[str, set[str]] = {}
        for kind, value in self._c.execute(query):
            found.setdefault(kind, set()).add(value)
        return {kind: frozenset(values) for kind, values in found.items()}

    # --- invites ---

    def add_invite(self, tenant_id: int, member_id: int, email: str, now: datetime) -> None:
        statement = insert_or_nothing(
            referral_invites,
            ("tenant_id", "member_id", "email", "created_at"),
            ("member_id", "email"),
            "id",
        )
        self._c.execute(
            statement,
            {"tenant_id": tenant_id, "member_id": member_id, "email": email, "created_at": now},
        )

    def invites(self, member_id: int) -> list[Row[Any]]:
        query = (
            select(referral_invites.c.email, referral_invites.c.created_at)
            .where(referral_invites.c.member_id == member_id)
            .order_by(referral_invites.c.id)
        )
        return list(self._c.execute(query))

    def invite_count(self, program_id: int, member_id: int | None = None) -> int:
        query = (
            select(func.count())
            .select_from(referral_invites)
            .join(members, members.c.id == referral_invites.c.member_id)
            .where(members.c.program_id == program_id)
        )
        if member_id is not None:
            query = query.where(referral_invites.c.member_id == member_id)
        return int(self._c.execute(query).scalar_one())
