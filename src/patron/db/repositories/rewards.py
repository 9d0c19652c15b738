"""Rewards in the catalogue, the redemptions (coupons, gifts) they produce, and the pools of
codes imported from the store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import redemptions, reward_codes, rewards

#: Codes per IN (...) list when checking an import for duplicates.
_CHUNK = 1000


class RewardRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # -- the catalogue ---------------------------------------------------------------------

    def create(self, **fields: Any) -> int:
        result = self._c.execute(insert(rewards).values(**fields))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get(self, program_id: int, public_id: str, *, lock: bool = False) -> Row[Any] | None:
        """The program's reward `public_id`; with `lock`, hold its row until commit (stock,
        pool codes: see services/redemptions.py for the lock order)."""
        query = select(rewards).where(
            rewards.c.program_id == program_id, rewards.c.public_id == public_id
        )
        return self._c.execute(query.with_for_update() if lock else query).first()

    def get_by_id(self, reward_id: int) -> Row[Any] | None:
        return self._c.execute(select(rewards).where(rewards.c.id == reward_id)).first()

    def by_code(self, program_id: int, code: str) -> Row[Any] | None:
        """The program's reward whose catalogue code is `code`."""
        query = select(rewards).where(rewards.c.program_id == program_id, rewards.c.code == code)
        return self._c.execute(query).first()

    def catalogue(self, program_id: int) -> list[Row[Any]]:
        query = select(rewards).where(rewards.c.program_id == program_id).order_by(rewards.c.id)
        return list(self._c.execute(query))

    def take_stock(self, reward_id: int) -> bool:
        """One unit less; False if none is left (the caller holds the row locked)."""
        result = self._c.execute(
            update(rewards)
            .where(rewards.c.id == reward_id, rewards.c.stock > 0)
            .values(stock=rewards.c.stock - 1)
        )
        return result.rowcount == 1

    def return_stock(self, reward_id: int) -> None:
        """One unit back (a cancelled redemption); nothing for unlimited rewards."""
        self._c.execute(
            update(rewards)
            .where(rewards.c.id == reward_id, rewards.c.stock.is_not(None))
            .values(stock=rewards.c.stock + 1)
        )

    # -- code pools ------------------------------------------------------------------------

    def known_codes(self, tenant_id: int, codes: Sequence[str]) -> set[str]:
        """Those of `codes` the tenant already has, imported or issued."""
        found: set[str] = set()
        for start in range(0, len(codes), _CHUNK):
            chunk = list(codes[start : start + _CHUNK])
            for table in (reward_codes, redemptions):
                query = select(table.c.code).where(
                    table.c.tenant_id == tenant_id, table.c.code.in_(chunk)
                )
                found.update(self._c.execute(query).scalars())
        return found

    def add_codes(
        self, tenant_id: int, reward_id: int, codes: Iterable[str], now: datetime
    ) -> None:
        rows = [
            {"tenant_id": tenant_id, "reward_id": reward_id, "code": code, "imported_at": now}
            for code in codes
        ]
        if rows:
            self._c.execute(insert(reward_codes), rows)

    def unused_codes(self, reward_ids: Sequence[int]) -> dict[int, int]:
        """{reward id: unused pool codes} for the rewards that have a pool."""
        if not reward_ids:
            return {}
        query = (
            select(reward_codes.c.reward_id, func.count())
            .where(
                reward_codes.c.reward_id.in_(list(reward_ids)),
                reward_codes.c.redemption_id.is_(None),
            )
            .group_by(reward_codes.c.reward_id)
        )
        return {int(reward_id): int(count) for reward_id, count in self._c.execute(query)}

    def next_code(self, reward_id: int) -> Row[Any] | None:
        """The oldest unused code of the reward's pool, locked (the caller also holds the
        reward's row, so concurrent redemptions queue there first)."""
        query = (
            select(reward_codes.c.id, reward_codes.c.code)
            .where(reward_codes.c.reward_id == reward_id, reward_codes.c.redemption_id.is_(None))
            .order_by(reward_codes.c.id)
            .limit(1)
            .with_for_update()
        )
        return self._c.execute(query).first()

    def assign_code(self, code_id: int, redemption_id: int) -> None:
        self._c.execute(
            update(reward_codes)
            .where(reward_codes.c.id == code_id)
            .values(redemption_id=redemption_id)
        )

    # -- redemptions -----------------------------------------------------------------------

    def insert_redemption(self, **fields: Any) -> int:
        result = self._c.execute(insert(redemptions).values(**fields))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def redemption(self, program_id: int, public_id: str, *, lock: bool = False) -> Row[Any] | None:
        query = select(redemptions).where(
            redemptions.c.program_id == program_id, redemptions.c.public_id == public_id
        )
        return self._c.execute(query.with_for_update() if lock else query).first()

    def redemption_by_pk(self, pk: int) -> Row[Any]:
        return self._c.execute(select(redemptions).where(redemptions.c.id == pk)).one()

    def redemption_by_code(
        self, program_id: int, code: str, *, lock: bool = False
    ) -> Row[Any] | None:
        query = select(redemptions).where(
            redemptions.c.program_id == program_id, redemptions.c.code == code
        )
        return self._c.execute(query.with_for_update() if lock else query).first()

    def member_redemptions(self, member_id: int, limit: int = 50) -> list[Row[Any]]:
        query = (
            select(redemptions)
            .where(redemptions.c.member_id == member_id)
            .order_by(redemptions.c.id.desc())
            .limit(limit)
        )
        return list(self._c.execute(query))

    def count_redeemed(self, reward_id: int, member_id: int, since: datetime | None) -> int:
        """The member's redemptions of the reward that were not cancelled, made at or after
        `since` (None: ever)."""
        query = select(func.count()).where(
            redemptions.c.reward_id == reward_id,
            redemptions.c.member_id == member_id,
            redemptions.c.status != "cancelled",
        )
        if since is not None:
            query = query.where(redemptions.c.created_at >= since)
        return int(self._c.execute(query).scalar_one())

    def set_status(self, redemption_id: int, expected: str, **fields: Any) -> bool:
        """Move a redemption out of status `expected`; False if it was not in it (a race
        lost, or a second attempt), so a coupon is consumed or cancelled exactly once."""
        result = self._c.execute(
            update(redemptions)
            .where(redemptions.c.id == redemption_id, redemptions.c.status == expected)
            .values(**fields)
        )
        return result.rowcount == 1

    def set_fulfilment(self, redemption_id: int, expected: str, **fields: Any) -> bool:
        """Move a gift out of fulfilment status `expected`; False if it was not in it."""
        result = self._c.execute(
            update(redemptions)
            .where(
                redemptions.c.id == redemption_id,
                redemptions.c.fulfilment_status == expected,
            )
            .values(**fields)
        )
        return result.rowcount == 1
