"""Charities of a program's catalogue, and the donations made to them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import charities, donations, members


class CharityRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    # -- the catalogue ---------------------------------------------------------------------

    def create(self, **fields: Any) -> int:
        result = self._c.execute(insert(charities).values(**fields))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get(self, program_id: int, public_id: str) -> Row[Any] | None:
        query = select(charities).where(
            charities.c.program_id == program_id, charities.c.public_id == public_id
        )
        return self._c.execute(query).first()

    def code_taken(self, program_id: int, code: str) -> bool:
        query = select(charities.c.id).where(
            charities.c.program_id == program_id, charities.c.code == code
        )
        return self._c.execute(query).first() is not None

    def catalogue(self, program_id: int, active: bool | None = None) -> list[Row[Any]]:
        query = select(charities).where(charities.c.program_id == program_id)
        if active is not None:
            query = query.where(charities.c.active == active)
        return list(self._c.execute(query.order_by(charities.c.id)))

    def update(self, charity_id: int, **fields: Any) -> None:
        self._c.execute(update(charities).where(charities.c.id == charity_id).values(**fields))

    # -- donations -------------------------------------------------------------------------

    def add_donation(self, **fields: Any) -> None:
        self._c.execute(insert(donations).values(**fields))

    def donation(self, program_id: int, public_id: str) -> Row[Any] | None:
        """The donation `public_id` with its member's and charity's public names."""
        query = _donations().where(
            donations.c.program_id == program_id, donations.c.public_id == public_id
        )
        return self._c.execute(query).first()

    def member_donations(self, member_id: int, before_id: int | None, limit: int) -> list[Row[Any]]:
        """The member's donations, newest first, before the cursor `before_id`."""
        query = _donations().where(donations.c.member_id == member_id)
        if before_id is not None:
            query = query.where(donations.c.id < before_id)
        return list(self._c.execute(query.order_by(donations.c.id.desc()).limit(limit)))

    def member_year(self, member_id: int, start: datetime, end: datetime) -> list[Row[Any]]:
        """The member's donations in [start, end), summed per charity."""
        query = _per_charity().where(donations.c.member_id == member_id, *_during(start, end))
        return list(self._c.execute(query))

    def payouts(self, program_id: int, start: datetime, end: datetime) -> list[Row[Any]]:
        """Per charity, the donations made in [start, end): count, distinct donors, points,
        value and matching (sums of the amounts fixed at donation time)."""
        query = _per_charity().where(donations.c.program_id == program_id, *_during(start, end))
        return list(self._c.execute(query))

    def donors(self, program_id: int, start: datetime, end: datetime) -> int:
        """Distinct members who donated in [start, end), to any charity."""
        query = select(func.count(func.distinct(donations.c.member_id))).where(
            donations.c.program_id == program_id, *_during(start, end)
        )
        return int(self._c.execute(query).scalar_one())


def _during(start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    """Donations made in [start, end)."""
    return donations.c.created_at >= start, donations.c.created_at < end


def _donations() -> Select[Any]:
    return (
        select(
            donations,
            members.c.external_id.label("customer_id"),
            charities.c.public_id.label("charity_public_id"),
            charities.c.code.label("charity_code"),
            charities.c.name.label("charity_name"),
        )
        .join(members, members.c.id == donations.c.member_id)
        .join(charities, charities.c.id == donations.c.charity_id)
    )


def _per_charity() -> Select[Any]:
    """Donations summed per charity, by charity code (add the WHERE)."""
    return (
        select(
            charities.c.public_id.label("charity_id"),
            charities.c.code,
            charities.c.name,
            func.count().label("donations"),
            func.count(func.distinct(donations.c.member_id)).label("donors"),
            func.sum(donations.c.points).label("points"),
            func.sum(donations.c.value_amount).label("value"),
            func.sum(donations.c.matching_amount).label("matching"),
        )
        .join(charities, charities.c.id == donations.c.charity_id)
        .group_by(charities.c.public_id, charities.c.code, charities.c.name)
        .order_by(charities.c.code)
    )
