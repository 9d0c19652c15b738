"""The jobs that act on lots: release pending points, expire points, remind of expiry.

Each is set-based (see `movements`): its cost is a fixed number of statements per program
and run, not a Python loop over lots.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from patron.db.uow import UnitOfWork
from patron.domain.expiry import ExpiryKind, activity_cutoff
from patron.domain.ledger import POINTS, STORE_CREDIT, TxKind
from patron.domain.program import Program
from patron.services.member_ledger import MemberLedger
from patron.worker.movements import Movement, move, sql

#: Pending lots whose return window has passed become available.
RELEASE = Movement(
    kind=TxKind.RELEASE.value,
    event_type="points.released",
    due="l.state = 'pending' AND l.pending_until <= :at",
    amount="l.remaining",
    from_suffix="\\:pending",
    to_account="'member:' || mv.member_id || '\\:available'",
    to_lot=True,
    lot_update="state = 'available'",
    balance_update="pending = pending - moved, available = available + moved",
)

#: Store credit issued at the end of its period (or return window).
RELEASE_CREDIT = replace(RELEASE, event_type="store_credit.issued")

_EXPIRING = "l.state = 'available' AND l.remaining > 0"

#: Lots past their own expiry date (fixed-duration policies).
EXPIRE_LOTS = Movement(
    kind=TxKind.EXPIRE.value,
    event_type="points.expired",
    due=f"{_EXPIRING} AND l.expires_at IS NOT NULL AND l.expires_at <= :at",
    amount="l.remaining",
    from_suffix="\\:available",
    to_account="'program:' || :program_id || '\\:expired'",
    to_lot=False,
    lot_update="remaining = 0",
    balance_update="available = available - moved",
)

#: Every lot of members who earned nothing since the cutoff (activity policies). A member
#: with points still pending is active: their return window is still open.
EXPIRE_INACTIVE = Movement(
    kind=TxKind.EXPIRE.value,
    event_type="points.expired",
    due=(
        f"{_EXPIRING} AND m.enrolled_at < :cutoff AND NOT EXISTS (SELECT 1 FROM lots r "
        f"WHERE r.member_id = m.id AND r.asset = '{POINTS}' AND (r.created_at >= :cutoff "
        "OR (r.state = 'pending' AND r.remaining > 0)))"
    ),
    amount="l.remaining",
    from_suffix="\\:available",
    to_account="'program:' || :program_id || '\\:expired'",
    to_lot=False,
    lot_update="remaining = 0",
    balance_update="available = available - moved",
)


def release_pending(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Make available the pending points whose return window ended by `at`."""
    return _release(uow, program, at, run, POINTS)


def issue_store_credit(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Issue the store credit whose time came by `at`: a scheduled issuance (monthly,
    quarterly...) is a pending lot that matures at the end of its period. `points` in the
    result is the amount issued, in minor units."""
    return _release(uow, program, at, run, STORE_CREDIT)


def _release(
    uow: UnitOfWork, program: Program, at: datetime, run: str, asset: str
) -> dict[str, int]:
    """Members with debt go through their ledger one by one first (their released amount
    pays the debt, which is not set-based); the rest move together."""
    movement = RELEASE if asset == POINTS else RELEASE_CREDIT
    one_by_one = {"members": 0, "lots": 0, "points": 0}
    for member_id in _members_with_debt_and_matured(uow.connection, program, at, asset):
        ledger = MemberLedger(uow, program, member_id, at, asset)  # releases on opening
        if ledger.released is None:
            continue
        tx_id, amount, lots = ledger.released
        one_by_one["members"] += 1
        one_by_one["lots"] += lots
        one_by_one["points"] += amount
        member = uow.members.get_by_id(member_id)
        uow.outbox.add(
            tenant_id=program.tenant_id,
            program_id=program.id,
            type_=movement.event_type,
            payload={
                "customer_id": member.external_id if member else None,
                "points": amount,
                "transaction_id": tx_id,
            },
            now=at,
        )
    together = move(
        uow.connection,
        movement,
        tenant_id=program.tenant_id,
        program_id=program.id,
        reason=run,
        at=at,
        now=at,
        params={"at": at},
        asset=asset,
    )
    return {key: together[key] + one_by_one[key] for key in together}


def expire_points(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Expire what the program's policy says has expired by `at`."""

    # Lots keep the expiry they were given, whatever the policy is now: dated lots expire
    # under every policy; an activity policy then expires the inactive members' rest.
    def expire(movement: Movement, reason: str, params: dict[str, object]) -> dict[str, int]:
        return move(
            uow.connection,
            movement,
            tenant_id=program.tenant_id,
            program_id=program.id,
            reason=reason,
            at=at,
            now=at,
            params=params,
        )

    result = expire(EXPIRE_LOTS, run, {"at": at})
    policy = program.expiry
    if policy.kind is not ExpiryKind.ACTIVITY:
        return result
    cutoff = activity_cutoff(policy, at, program.zone)
    inactive = expire(EXPIRE_INACTIVE, f"{run} inactive", {"cutoff": cutoff})
    return {key: result[key] + inactive[key] for key in result}


def remind_expiring(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Send `points.expiring` for lots expiring within each of the policy's reminder lead
    times: once per lot and lead time (recorded in `expiry_reminders`), one outbox row
    per member and lead time with the points and the first expiry."""
    sent = {"members": 0, "lots": 0}
    if program.expiry.kind is not ExpiryKind.FIXED:
        return sent
    for days in sorted(program.expiry.remind_days, reverse=True):
        counts = _remind(uow.connection, program, at, days)
        sent = {key: sent[key] + counts[key] for key in sent}
    return sent


def _remind(c: Connection, program: Program, at: datetime, days: int) -> dict[str, int]:
    params: dict[str, object] = {
        "program_id": program.id,
        "tenant_id": program.tenant_id,
        "at": at,
        "horizon": at + timedelta(days=days),
        "days": days,
    }
    due = (
        "SELECT l.id AS lot_id, l.member_id, l.remaining, l.expires_at FROM lots l "
        "JOIN members m ON m.id = l.member_id WHERE m.program_id = :program_id "
        f"AND l.asset = '{POINTS}' AND l.remaining > 0 AND l.expires_at > :at "
        "AND l.expires_at <= :horizon AND NOT EXISTS (SELECT 1 FROM expiry_reminders e "
        "WHERE e.lot_id = l.id AND e.days_before = :days)"
    )
    c.execute(sql("DROP TABLE IF EXISTS reminding", {}))
    c.execute(sql(f"CREATE TEMPORARY TABLE reminding AS {due}", params), params)
    postgres = c.dialect.name == "postgresql"
    builder = "jsonb_build_object" if postgres else "json_object"
    first = (
        """to_char(min(expires_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')"""
        if postgres
        else "strftime('%Y-%m-%dT%H:%M:%SZ', min(expires_at))"
    )
    statements = [
        "INSERT INTO expiry_reminders (lot_id, days_before, tenant_id, sent_at) "
        "SELECT lot_id, :days, :tenant_id, :at FROM reminding",
        "INSERT INTO outbox (tenant_id, program_id, type, payload, created_at) "
        f"SELECT :tenant_id, :program_id, 'points.expiring', {builder}('customer_id', "
        "m.external_id, 'points', s.points, 'expires_at', s.first_expiry, "
        "'days_before', :days), :at FROM (SELECT member_id, sum(remaining) AS points, "
        f"{first} AS first_expiry FROM reminding GROUP BY member_id) s "
        "JOIN members m ON m.id = s.member_id",
    ]
    for statement in statements:
        c.execute(sql(statement, params), params)
    members, lots = c.execute(
        sql("SELECT count(DISTINCT member_id), count(*) FROM reminding", {})
    ).one()
    c.execute(sql("DROP TABLE reminding", {}))
    return {"members": int(members), "lots": int(lots)}


def _members_with_debt_and_matured(
    c: Connection, program: Program, at: datetime, asset: str
) -> list[int]:
    params: dict[str, object] = {"program_id": program.id, "at": at, "asset": asset}
    statement = (
        "SELECT DISTINCT b.member_id FROM member_balances b JOIN members m "
        "ON m.id = b.member_id WHERE m.program_id = :program_id AND b.asset = :asset "
        "AND b.debt > 0 AND EXISTS (SELECT 1 FROM lots l WHERE l.member_id = b.member_id "
        "AND l.asset = :asset AND l.state = 'pending' AND l.pending_until <= :at) "
        "ORDER BY b.member_id"
    )
    return [int(row[0]) for row in c.execute(sql(statement, params), params)]
