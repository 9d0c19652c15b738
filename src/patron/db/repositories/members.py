"""Members and their balances. Balance rows are the lock that serialises a member's writes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.insert_or_nothing import insert_or_nothing
from patron.db.tables import member_balances, member_chosen_days, members
from patron.domain.member import Balance

_INSERT_MEMBER = insert(members)
_INSERT_BALANCE = insert(member_balances)
_BY_EXTERNAL_ID = select(members).where(
    members.c.program_id == bindparam("program_id"),
    members.c.external_id == bindparam("external_id"),
)
_MANY_BY_EXTERNAL_ID = select(members).where(
    members.c.program_id == bindparam("program_id"),
    members.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_LOCK_BALANCES = (
    select(member_balances)
    .where(
        member_balances.c.member_id.in_(bindparam("member_ids", expanding=True)),
        member_balances.c.asset == bindparam("asset"),
    )
    .order_by(member_balances.c.member_id)
    .with_for_update()
)
_BALANCE = select(
    member_balances.c.available,
    member_balances.c.pending,
    member_balances.c.debt,
    member_balances.c.lifetime_earned,
).where(
    member_balances.c.member_id == bindparam("member_id"),
    member_balances.c.asset == bindparam("asset"),
)
_BALANCE_FOR_UPDATE = _BALANCE.with_for_update()
_SET_BALANCE = (
    update(member_balances)
    .where(
        member_balances.c.member_id == bindparam("b_member_id"),
        member_balances.c.asset == bindparam("b_asset"),
    )
    .values(
        available=bindparam("b_available"),
        pending=bindparam("b_pending"),
        debt=bindparam("b_debt"),
        lifetime_earned=bindparam("b_lifetime_earned"),
    )
)


def _zero_balance(tenant_id: int, member_id: int, asset: str) -> dict[str, Any]:
    return {
        "member_id": member_id,
        "asset": asset,
        "tenant_id": tenant_id,
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 0,
    }


class MemberRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def insert(self, *, tenant_id: int, program_id: int, now: datetime, **fields: Any) -> int:
        """Insert a member with an empty points balance; returns its id."""
        result = self._c.execute(
            _INSERT_MEMBER,
            {
                "tenant_id": tenant_id,
                "program_id": program_id,
                "enrolled_at": now,
                "updated_at": now,
                **fields,
            },
        )
        member_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        self.insert_balance(tenant_id, member_id, "points")
        return member_id

    def insert_balance(self, tenant_id: int, member_id: int, asset: str) -> None:
        self._c.execute(_INSERT_BALANCE, _zero_balance(tenant_id, member_id, asset))

    def ensure_balance(self, tenant_id: int, member_id: int, asset: str) -> None:
        """Create the member's balance of `asset` if it has none (assets other than points
        get their row on first use)."""
        statement = insert_or_nothing(
            member_balances,
            ("member_id", "asset", "tenant_id", "available", "pending", "debt", "lifetime_earned"),
            ("member_id", "asset"),
            "member_id",
        )
        self._c.execute(statement, _zero_balance(tenant_id, member_id, asset))

    def chosen_days(self, member_ids: list[int]) -> dict[int, dict[int, date]]:
        """Each member's chosen days, by year."""
        if not member_ids:
            return {}
        query = select(
            member_chosen_days.c.member_id, member_chosen_days.c.year, member_chosen_days.c.day
        ).where(member_chosen_days.c.member_id.in_(member_ids))
        found: dict[int, dict[int, date]] = {}
        for member_id, year, day in self._c.execute(query):
            found.setdefault(int(member_id), {})[int(year)] = day
        return found

    def choose_day(self, tenant_id: int, member_id: int, day: date, now: datetime) -> None:
        self._c.execute(
            insert(member_chosen_days).values(
                member_id=member_id, year=day.year, tenant_id=tenant_id, day=day, chosen_at=now
            )
        )

    def get(self, program_id: int, external_id: str) -> Row[Any] | None:
        params = {"program_id": program_id, "external_id": external_id}
        return self._c.execute(_BY_EXTERNAL_ID, params).first()

    def get_by_id(self, member_id: int) -> Row[Any] | None:
        return self._c.execute(select(members).where(members.c.id == member_id)).first()

    def update(self, member_id: int, now: datetime, **fields: Any) -> None:
        self._c.execute(
            update(members).where(members.c.id == member_id).values(updated_at=now, **fields)
        )

    def page(self, program_id: int, *, after_id: int | None, limit: int) -> list[Row[Any]]:
        """Members in id order after `after_id` (a cursor), at most `limit`."""
        query = select(members).where(members.c.program_id == program_id)
        if after_id is not None:
            query = query.where(members.c.id > after_id)
        return list(self._c.execute(query.order_by(members.c.id).limit(limit)))

    def balance(self, member_id: int, asset: str = "points", *, lock: bool = False) -> Balance:
        """The member's balance of `asset`; with `lock`, hold its row until commit."""
        query = _BALANCE_FOR_UPDATE if lock else _BALANCE
        row = self._c.execute(query, {"member_id": member_id, "asset": asset}).first()
        if row is None:  # an asset the member never had
            return Balance(0, 0, 0, 0)
        return Balance(row.available, row.pending, row.debt, row.lifetime_earned)

    def get_many(self, program_id: int, external_ids: list[str]) -> dict[str, Row[Any]]:
        """{external id: member} of the program's members among `external_ids`."""
        params = {"program_id": program_id, "external_ids": external_ids}
        return {row.external_id: row for row in self._c.execute(_MANY_BY_EXTERNAL_ID, params)}

    def lock_balances(self, member_ids: list[int], asset: str = "points") -> dict[int, Balance]:
        """Lock the members' balance rows in member id order (the lock order every writer
        follows, so concurrent batches cannot deadlock) and return them."""
        rows = self._c.execute(_LOCK_BALANCES, {"member_ids": member_ids, "asset": asset})
        return {
            row.member_id: Balance(row.available, row.pending, row.debt, row.lifetime_earned)
            for row in rows
        }

    def set_balances(self, balances: dict[int, Balance], asset: str = "points") -> None:
        if not balances:
            return
        self._c.execute(
            _SET_BALANCE,
            [
                {
                    "b_member_id": member_id,
                    "b_asset": asset,
                    "b_available": balance.available,
                    "b_pending": balance.pending,
                    "b_debt": balance.debt,
                    "b_lifetime_earned": balance.lifetime_earned,
                }
                for member_id, balance in balances.items()
            ],
        )

    def set_balance(self, member_id: int, asset: str, balance: Balance) -> None:
        self.set_balances({member_id: balance}, asset)
