"""`patron verify`: prove on a live database that the ledger is consistent.

Set-based SQL, so it scales with the database rather than with Python loops. Checks:
1. every ledger transaction sums to zero per asset, and has entries;
2. every lot's `remaining` equals the sum of the entries that touch it, within [0, amount];
3. every member balance equals its lots and its entries: available = open available lots,
   pending = open pending lots, debt = minus the member's lot-less entries, and the
   member's accounts sum to available - debt and pending;
4. lifetime earned equals the points of the member's earn transactions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection

_CHECKS: dict[str, str] = {
    "transaction does not sum to zero": """
        SELECT transaction_id AS id FROM ledger_entries
        GROUP BY transaction_id, asset HAVING SUM(amount) <> 0
    """,
    "transaction has no entries": """
        SELECT t.id AS id FROM ledger_transactions t
        WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)
    """,
    "lot remaining differs from its entries": """
        SELECT l.id AS id FROM lots l
        LEFT JOIN (SELECT lot_id, SUM(amount) AS total FROM ledger_entries
                   WHERE lot_id IS NOT NULL GROUP BY lot_id) e ON e.lot_id = l.id
        WHERE COALESCE(e.total, 0) <> l.remaining OR l.remaining < 0 OR l.remaining > l.amount
    """,
    "balance differs from its lots": """
        SELECT b.member_id AS id FROM member_balances b
        LEFT JOIN (SELECT member_id, asset,
                          SUM(CASE WHEN state = 'available' THEN remaining ELSE 0 END) AS available,
                          SUM(CASE WHEN state = 'pending' THEN remaining ELSE 0 END) AS pending
                   FROM lots GROUP BY member_id, asset) l
               ON l.member_id = b.member_id AND l.asset = b.asset
        WHERE b.available <> COALESCE(l.available, 0) OR b.pending <> COALESCE(l.pending, 0)
    """,
    "balance differs from its entries": """
        SELECT b.member_id AS id FROM member_balances b
        LEFT JOIN (
            SELECT member_id, asset,
                   SUM(CASE WHEN account LIKE '%\\:available' THEN amount ELSE 0 END) AS available,
                   SUM(CASE WHEN account LIKE '%\\:pending' THEN amount ELSE 0 END) AS pending,
                   SUM(CASE WHEN lot_id IS NULL THEN amount ELSE 0 END) AS lotless
            FROM ledger_entries WHERE member_id IS NOT NULL
            GROUP BY member_id, asset) e
               ON e.member_id = b.member_id AND e.asset = b.asset
        WHERE b.available - b.debt <> COALESCE(e.available, 0)
           OR b.pending <> COALESCE(e.pending, 0)
           OR b.debt <> -COALESCE(e.lotless, 0)
    """,
    "lifetime earned differs from earn transactions": """
        SELECT b.member_id AS id FROM member_balances b
        LEFT JOIN (SELECT l.member_id, l.asset, SUM(l.amount) AS earned
                   FROM lots l JOIN ledger_transactions t ON t.id = l.transaction_id
                   WHERE t.kind = 'earn' GROUP BY l.member_id, l.asset) e
               ON e.member_id = b.member_id AND e.asset = b.asset
        WHERE b.lifetime_earned <> COALESCE(e.earned, 0)
    """,
    "balance is negative": """
        SELECT member_id AS id FROM member_balances
        WHERE available < 0 OR pending < 0 OR debt < 0
    """,
}


@dataclass(frozen=True, slots=True)
class Problem:
    check: str
    ids: list[int]


@dataclass(frozen=True, slots=True)
class Report:
    problems: list[Problem]
    counts: dict[str, int]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(connection: Connection, *, max_ids: int = 20) -> Report:
    """Run every check; each problem names up to `max_ids` offending ids."""
    problems = []
    for name, sql in _CHECKS.items():
        ids = [row.id for row in connection.execute(text(f"{sql} ORDER BY 1 LIMIT {max_ids}"))]
        if ids:
            problems.append(Problem(name, ids))
    counts = {
        table: int(connection.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
        for table in ("ledger_transactions", "ledger_entries", "lots", "member_balances")
    }
    return Report(problems, counts)
