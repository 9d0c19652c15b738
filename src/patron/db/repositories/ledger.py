"""The ledger: transactions, their entries, and lots. Append-only except `lots.remaining`
and `lots.state`, which are caches of the entries that touch each lot (`patron verify`
checks that they agree).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import ledger_entries, ledger_transactions, lots
from patron.domain.ledger import POINTS, Posting
from patron.domain.lots import Lot

# Statements used on every order are built once: building `insert(t).values(...)` per call
# costs a fresh cache key each time (measured at ~9% of server CPU).
_INSERT_TRANSACTION = insert(ledger_transactions)
_INSERT_LOT = insert(lots)
_INSERT_ENTRIES = insert(ledger_entries)
# insertmanyvalues: one multi-row INSERT ... RETURNING, rows returned in parameter order.
_INSERT_TRANSACTION_RETURNING = insert(ledger_transactions).returning(
    ledger_transactions.c.id, sort_by_parameter_order=True
)
_INSERT_LOT_RETURNING = insert(lots).returning(lots.c.id, sort_by_parameter_order=True)
_ADD_TO_LOT = (
    update(lots)
    .where(lots.c.id == bindparam("lot"))
    .values(remaining=lots.c.remaining + bindparam("delta"))
)
_OPEN_LOTS = select(lots.c.id, lots.c.remaining, lots.c.expires_at).where(
    lots.c.member_id == bindparam("member_id"),
    lots.c.asset == bindparam("asset"),
    lots.c.state == bindparam("state"),
    lots.c.remaining > 0,
)


def _entry_row(tenant_id: int, transaction_id: int, posting: Posting) -> dict[str, Any]:
    return {
        "transaction_id": transaction_id,
        "tenant_id": tenant_id,
        "account": posting.account,
        "asset": posting.asset,
        "amount": posting.amount,
        "lot_id": posting.lot_id,
        "member_id": posting.member_id,
    }


class LedgerRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def insert_transaction(self, **fields: Any) -> int:
        result = self._c.execute(_INSERT_TRANSACTION, fields)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def insert_entries(
        self, tenant_id: int, transaction_id: int, postings: Sequence[Posting]
    ) -> None:
        self._c.execute(
            _INSERT_ENTRIES,
            [_entry_row(tenant_id, transaction_id, posting) for posting in postings],
        )

    def insert_transactions(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert many transactions in one multi-row statement; ids in the rows' order."""
        return self._insert_many(_INSERT_TRANSACTION_RETURNING, rows)

    def insert_lots(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Insert many lots in one multi-row statement; ids in the rows' order."""
        return self._insert_many(_INSERT_LOT_RETURNING, rows)

    def insert_entries_many(
        self, tenant_id: int, postings_by_tx: Sequence[tuple[int, Sequence[Posting]]]
    ) -> None:
        rows = [
            _entry_row(tenant_id, tx_id, posting)
            for tx_id, postings in postings_by_tx
            for posting in postings
        ]
        if rows:
            self._c.execute(_INSERT_ENTRIES, rows)

    def _insert_many(self, statement: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
        if not rows:
            return []
        return [int(row.id) for row in self._c.execute(statement, list(rows))]

    def insert_lot(self, **fields: Any) -> int:
        result = self._c.execute(_INSERT_LOT, fields)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def open_lots(self, member_id: int, asset: str, state: str) -> list[Lot]:
        """Lots of the member in `state` that still hold points."""
        rows = self._c.execute(_OPEN_LOTS, {"member_id": member_id, "asset": asset, "state": state})
        return [Lot(row.id, row.remaining, row.expires_at) for row in rows]

    def overdue_points(self, member_id: int, now: datetime) -> int:
        """Available points in the member's lots past their expiry date at `now` (which
        the next spend or the `expire` job expires)."""
        query = select(func.coalesce(func.sum(lots.c.remaining), 0)).where(
            lots.c.member_id == member_id,
            lots.c.asset == POINTS,
            lots.c.state == "available",
            lots.c.remaining > 0,
            lots.c.expires_at <= now,
        )
        return int(self._c.execute(query).scalar_one())

    def matured_lots(self, member_id: int, asset: str, now: datetime) -> list[Lot]:
        """Pending lots whose pending period has ended at `now`."""
        query = select(lots.c.id, lots.c.remaining, lots.c.expires_at).where(
            lots.c.member_id == member_id,
            lots.c.asset == asset,
            lots.c.state == "pending",
            lots.c.pending_until <= now,
        )
        return [Lot(row.id, row.remaining, row.expires_at) for row in self._c.execute(query)]

    def get_lots(self, lot_ids: Sequence[int]) -> list[Row[Any]]:
        return list(self._c.execute(select(lots).where(lots.c.id.in_(lot_ids))))

    def add_to_lots(self, deltas: dict[int, int]) -> None:
        """Add `delta` to each lot's remaining (negative to take points out)."""
        if not deltas:
            return
        self._c.execute(
            _ADD_TO_LOT, [{"lot": lot_id, "delta": delta} for lot_id, delta in deltas.items()]
        )

    def make_available(self, lot_ids: Sequence[int]) -> None:
        self._c.execute(update(lots).where(lots.c.id.in_(lot_ids)).values(state="available"))

    def order_lot(self, order_id: int, asset: str = "points") -> Row[Any] | None:
        """The lot an order's points (or store credit) were earned into, if any."""
        query = (
            select(lots)
            .join(ledger_transactions, lots.c.transaction_id == ledger_transactions.c.id)
            .where(
                ledger_transactions.c.order_id == order_id,
                ledger_transactions.c.kind == "earn",
                lots.c.asset == asset,
            )
        )
        return self._c.execute(query).first()

    def redemption_takes(self, redemption_id: int) -> list[Row[Any]]:
        """The lot entries of a redemption's spend: which lots paid for it, and how much."""
        query = (
            select(ledger_entries.c.lot_id, ledger_entries.c.amount)
            .join(ledger_transactions, ledger_entries.c.transaction_id == ledger_transactions.c.id)
            .where(
                ledger_transactions.c.redemption_id == redemption_id,
                ledger_transactions.c.kind == "redeem",
                ledger_entries.c.lot_id.is_not(None),
            )
            .order_by(ledger_entries.c.id)
        )
        return list(self._c.execute(query))

    def history(self, member_id: int, *, before_id: int | None, limit: int) -> list[Row[Any]]:
        """The member's transactions, newest first, before the cursor `before_id`."""
        query = select(ledger_transactions).where(ledger_transactions.c.member_id == member_id)
        if before_id is not None:
            query = query.where(ledger_transactions.c.id < before_id)
        query = query.order_by(ledger_transactions.c.id.desc()).limit(limit)
        return list(self._c.execute(query))

    def member_entries(self, transaction_ids: Sequence[int], member_id: int) -> list[Row[Any]]:
        """The entries of the given transactions that touch the member's own accounts."""
        if not transaction_ids:
            return []
        query = (
            select(ledger_entries)
            .where(
                ledger_entries.c.transaction_id.in_(transaction_ids),
                ledger_entries.c.member_id == member_id,
            )
            .order_by(ledger_entries.c.id)
        )
        return list(self._c.execute(query))
