"""Store-credit spends: what each took, and how much of it was given back."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import members, store_credit_spends


class StoreCreditRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_spend(self, **fields: Any) -> None:
        self._c.execute(insert(store_credit_spends).values(**fields))

    def spend(self, program_id: int, public_id: str, *, lock: bool = False) -> Row[Any] | None:
        """The spend `public_id` of a member of the program (None for another program's)."""
        query = (
            select(store_credit_spends, members.c.external_id.label("customer_id"))
            .join(members, members.c.id == store_credit_spends.c.member_id)
            .where(store_credit_spends.c.public_id == public_id, members.c.program_id == program_id)
        )
        if lock and self._c.dialect.name == "postgresql":
            query = query.with_for_update(of=store_credit_spends)
        return self._c.execute(query).first()

    def set_refunded(self, transaction_id: int, refunded: int) -> None:
        self._c.execute(
            update(store_credit_spends)
            .where(store_credit_spends.c.transaction_id == transaction_id)
            .values(refunded=refunded)
        )
