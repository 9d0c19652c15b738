"""Set-based lot movements for scheduled jobs: expire lots, release pending lots.

A job moves the points of many lots at once with a fixed number of statements, whatever
the number of lots: it never loops over rows in Python. The steps, inside the job's one
transaction:

1. select the due lots into a temporary table `moving`;
2. on PostgreSQL, lock the balance rows of their members in member id order (the order
   every member write takes, so a job and a member write cannot deadlock), then refresh
   `moving` from the lots as they are now: a member write that committed in between may
   have spent, released or reversed some of them;
3. one ledger transaction per member with a posting per lot out of the member's account
   and, into the other account, a posting per lot (release: the lot stays the member's)
   or one per member (expiry); then the lots, the balances, one outbox row per member;
4. drop `moving`.

The ledger transaction of each member is kept in the temporary table `moved` (from
`INSERT ... RETURNING` on PostgreSQL; on SQLite found again by its `reason`, which names
the run: a run is unique per program, job and period in `job_runs`), so every later
statement joins on a primary key: the cost grows with the number of due lots, linearly.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.engine import Connection

from patron.db.types import UTCDateTime
from patron.domain.ledger import POINTS

#: How a due lot is found: SQL over `l` (lots) and `m` (members), with `:program_id`.
DuePredicate = str


@dataclass(frozen=True, slots=True)
class Movement:
    """What a job does to each due lot and balance.

    `lot_update` and `balance_update` are SET clauses; in `balance_update`, `moved` is the
    member's total. `to_account` is an SQL expression over `mv` (the moving lot) and the
    bound `:program_id`; `to_lot` says whether the receiving posting stays on the lot."""

    kind: str
    event_type: str
    due: DuePredicate
    amount: str
    from_suffix: str
    to_account: str
    to_lot: bool
    lot_update: str
    balance_update: str


EXPIRE = "expire"


def move(
    c: Connection,
    movement: Movement,
    *,
    tenant_id: int,
    program_id: int,
    reason: str,
    at: datetime,
    now: datetime,
    params: Mapping[str, object],
    asset: str = POINTS,
) -> dict[str, int]:
    """Apply `movement` to every due lot of `asset` of the program; return {members, lots,
    points} (`points` is the amount moved, in the asset's unit)."""
    bound = {"program_id": program_id, "tenant_id": tenant_id, "asset": asset, **params}
    postgres = c.dialect.name == "postgresql"
    due_lots = (
        f"SELECT l.id AS lot_id, l.member_id, {movement.amount} AS amount "
        f"FROM lots l JOIN members m ON m.id = l.member_id "
        f"WHERE m.program_id = :program_id AND l.asset = :asset AND ({movement.due})"
    )
    c.execute(text("DROP TABLE IF EXISTS moving"))
    c.execute(
        text(
            "CREATE TEMPORARY TABLE moving "
            "(lot_id BIGINT PRIMARY KEY, member_id BIGINT NOT NULL, amount BIGINT NOT NULL)"
        )
    )
    fill = f"INSERT INTO moving (lot_id, member_id, amount) {due_lots}"
    c.execute(sql(fill, bound), bound)
    if postgres:
        # Lock the members' balances (member id order, as member writes do), then refresh
        # `moving` from the lots as they are now: a member write that committed between
        # the fill and the lock may have spent, released or reversed some of them.
        lock = (
            "SELECT b.member_id FROM member_balances b WHERE b.asset = :asset "
            "AND b.member_id IN (SELECT member_id FROM moving) ORDER BY b.member_id FOR UPDATE"
        )
        c.execute(text(lock), bound)
        # NOT EXISTS (an anti-join), never NOT IN: NOT IN over a million ids that do not
        # fit in work_mem is rescanned for every row.
        gone = (
            "DELETE FROM moving WHERE NOT EXISTS (SELECT 1 FROM lots l JOIN members m "
            "ON m.id = l.member_id WHERE l.id = moving.lot_id AND l.asset = :asset "
            f"AND ({movement.due}))"
        )
        c.execute(sql(gone, bound), bound)
        refresh = f"UPDATE moving SET amount = {movement.amount} FROM lots l WHERE l.id = lot_id"
        c.execute(text(refresh))
        c.execute(text("ANALYZE moving"))
    totals = c.execute(
        text("SELECT count(DISTINCT member_id), count(*), coalesce(sum(amount), 0) FROM moving")
    ).one()
    if totals[1]:
        _write(c, movement, bound | {"reason": reason, "at": at, "now": now}, postgres)
    c.execute(text("DROP TABLE moving"))
    return {"members": int(totals[0]), "lots": int(totals[1]), "points": int(totals[2])}


def sql(statement: str, bound: dict[str, object]) -> TextClause:
    """`statement` with its datetime parameters typed: SQLite stores timestamps as naive
    UTC text, and only the column type knows how to write them so they compare right."""
    clause = text(statement)
    typed = [
        bindparam(name, type_=UTCDateTime())
        for name, value in bound.items()
        if isinstance(value, datetime) and f":{name}" in statement
    ]
    return clause.bindparams(*typed) if typed else clause


def _write(c: Connection, movement: Movement, bound: dict[str, object], postgres: bool) -> None:
    """The ledger rows of the moving lots: one transaction per member (their ids kept in
    the temporary table `moved`, so every later statement joins on a primary key), two
    postings per lot, then lots, balances and one outbox row per member."""

    def run(statement: str, params: dict[str, object]) -> None:
        c.execute(sql(statement, params), params)

    c.execute(text("DROP TABLE IF EXISTS moved"))
    c.execute(
        text(
            "CREATE TEMPORARY TABLE moved "
            "(member_id BIGINT PRIMARY KEY, amount BIGINT NOT NULL, tx_id BIGINT)"
        )
    )
    c.execute(
        text(
            "INSERT INTO moved (member_id, amount) SELECT member_id, sum(amount) FROM moving "
            "GROUP BY member_id HAVING sum(amount) > 0"
        )
    )
    details = "CAST(:details AS JSONB)" if postgres else ":details"
    insert_transactions = (
        "INSERT INTO ledger_transactions "
        "(tenant_id, program_id, member_id, kind, reason, details, occurred_at, created_at) "
        f"SELECT :tenant_id, :program_id, member_id, :kind, :reason, {details}, :at, :now "
        "FROM moved"
    )
    tx_params = bound | {"kind": movement.kind, "details": json.dumps({"job": movement.kind})}
    if postgres:
        run(
            f"WITH created AS ({insert_transactions} RETURNING id, member_id) "
            "UPDATE moved SET tx_id = created.id FROM created "
            "WHERE moved.member_id = created.member_id",
            tx_params,
        )
        c.execute(text("ANALYZE moved"))
    else:  # no data-modifying WITH: find the new transactions by the run's reason
        run(insert_transactions, tx_params)
        run(
            "UPDATE moved SET tx_id = t.id FROM ledger_transactions t WHERE "
            "t.member_id = moved.member_id AND t.program_id = :program_id AND t.reason = :reason",
            bound,
        )
    joined = "FROM moving mv JOIN moved d ON d.member_id = mv.member_id WHERE mv.amount > 0"
    # The receiving side: per lot when it stays on the lot (a release), else one posting
    # per member into the system account (an expiry): fewer rows, the same balance.
    receiving = (
        f"SELECT d.tx_id, :tenant_id, {movement.to_account}, :asset, mv.amount, mv.lot_id, "
        f"mv.member_id {joined}"
        if movement.to_lot
        else f"SELECT d.tx_id, :tenant_id, {movement.to_account}, :asset, d.amount, NULL, NULL "
        "FROM moved d"
    )
    run(
        "INSERT INTO ledger_entries "
        "(transaction_id, tenant_id, account, asset, amount, lot_id, member_id) "
        f"SELECT d.tx_id, :tenant_id, 'member:' || mv.member_id || '{movement.from_suffix}', "
        f":asset, -mv.amount, mv.lot_id, mv.member_id {joined} UNION ALL {receiving}",
        bound,
    )
    run(f"UPDATE lots SET {movement.lot_update} FROM moving mv WHERE lots.id = mv.lot_id", bound)
    run(
        f"UPDATE member_balances SET {movement.balance_update.replace('moved', 'd.amount')} "
        "FROM moved d WHERE member_balances.member_id = d.member_id "
        "AND member_balances.asset = :asset",
        bound,
    )
    builder = "jsonb_build_object" if postgres else "json_object"
    run(
        "INSERT INTO outbox (tenant_id, program_id, type, payload, created_at) "
        f"SELECT :tenant_id, :program_id, :event_type, {builder}('customer_id', m.external_id, "
        "'points', d.amount, 'transaction_id', d.tx_id), :now "
        "FROM moved d JOIN members m ON m.id = d.member_id",
        bound | {"event_type": movement.event_type},
    )
    c.execute(text("DROP TABLE moved"))
