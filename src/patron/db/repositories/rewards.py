"""Rewards in the catalogue and the redemptions (coupons) they produce."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import redemptions, rewards


class RewardRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def create(self, **fields: Any) -> int:
        result = self._c.execute(insert(rewards).values(**fields))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get(self, program_id: int, public_id: str) -> Row[Any] | None:
        query = select(rewards).where(
            rewards.c.program_id == program_id, rewards.c.public_id == public_id
        )
        return self._c.execute(query).first()

    def get_by_id(self, reward_id: int) -> Row[Any] | None:
        return self._c.execute(select(rewards).where(rewards.c.id == reward_id)).first()

    def catalogue(self, program_id: int) -> list[Row[Any]]:
        query = select(rewards).where(rewards.c.program_id == program_id).order_by(rewards.c.id)
        return list(self._c.execute(query))

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

    def set_status(self, redemption_id: int, expected: str, **fields: Any) -> bool:
        """Move a redemption out of status `expected`; False if it was not in it (a race
        lost, or a second attempt), so a coupon is consumed or cancelled exactly once."""
        result = self._c.execute(
            update(redemptions)
            .where(redemptions.c.id == redemption_id, redemptions.c.status == expected)
            .values(**fields)
        )
        return result.rowcount == 1
