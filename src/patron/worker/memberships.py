"""Membership jobs.

`memberships`: lapse past-due subscriptions whose grace ended, expire trialing or active
ones past their period end (not renewed, or cancelled at period end).

`membership_credits`: the store credit plans give, keyed by period so it is never given
twice (a row per subscription, kind and period in `membership_credits`) and never missed:
each run gives everything due by its instant since the subscription started —
the monthly credit of every month that began while the perks applied, and the dividend of
every calendar year (program time zone) that ended, on the eligible spend, net of
refunds, of the orders placed while the perks applied that year.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain import memberships as domain
from patron.domain.ledger import STORE_CREDIT, TxKind, program_account
from patron.domain.memberships import LIVE
from patron.domain.program import Program
from patron.services import memberships
from patron.services.member_ledger import Credit, MemberLedger, Refs

MONTHLY = "monthly"
DIVIDEND = "dividend"
_ALL = [status.value for status in domain.Status]


def settle_subscriptions(
    uow: UnitOfWork, program: Program, at: datetime, run: str
) -> dict[str, Any]:
    """The `memberships` job: {lapsed, expired}."""
    counts = {"lapsed": 0, "expired": 0}
    if not memberships.has_plans(uow, program):
        return counts
    repo = memberships.repo(uow)
    for row in repo.of_program(program.id, [status.value for status in LIVE]):
        status = memberships.settle(uow, program, row, at)
        if status is not None:
            counts[status.value] += 1
    return counts


def give_credits(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """The `membership_credits` job: {monthly: [count, amount], dividends: [count, amount]}."""
    counts = {MONTHLY: [0, 0], DIVIDEND: [0, 0]}
    if not memberships.has_plans(uow, program):
        return {"monthly": counts[MONTHLY], "dividends": counts[DIVIDEND]}
    repo = memberships.repo(uow)
    rows = repo.of_program(program.id, _ALL)
    perks = {row.plan_id: memberships.perks_of(row.perks) for row in rows}
    rows = [
        row
        for row in rows
        if perks[row.plan_id].monthly_credit or perks[row.plan_id].yearly_dividend_percent
    ]
    given = {
        kind: repo.credited_periods([row.id for row in rows], kind) for kind in (MONTHLY, DIVIDEND)
    }
    for row in rows:
        state = memberships.state_of(row)
        plan = perks[row.plan_id]
        due: list[tuple[str, str, int, datetime, dict[str, Any]]] = []
        if plan.monthly_credit:
            for number, begins in domain.credit_months(state, program.zone, at):
                period = begins.astimezone(program.zone).date().isoformat()
                if (row.id, period) not in given[MONTHLY]:
                    details = {"month": number + 1}
                    due.append((MONTHLY, period, plan.monthly_credit, begins, details))
        if plan.yearly_dividend_percent:
            for year in domain.completed_years(row.started_at, at, program.zone):
                window = domain.dividend_window(state, year, program.zone)
                if window is None or (row.id, str(year)) in given[DIVIDEND]:
                    continue
                spend = repo.net_spend(
                    row.member_id, *window, program.include_shipping, program.include_tax
                )
                amount = domain.dividend(plan.yearly_dividend_percent, spend)
                details = {"year": year, "net_spend": spend}
                due.append((DIVIDEND, str(year), amount, window[1], details))
        for kind, period, amount, occurred_at, details in due:
            if _give(uow, program, row, kind, period, amount, occurred_at, details, at, run):
                counts[kind][0] += 1
                counts[kind][1] += amount
    return {"monthly": counts[MONTHLY], "dividends": counts[DIVIDEND]}


def _give(
    uow: UnitOfWork,
    program: Program,
    row: Any,
    kind: str,
    period: str,
    amount: int,
    occurred_at: datetime,
    details: dict[str, Any],
    at: datetime,
    run: str,
) -> bool:
    """Claim (subscription, kind, period) and credit `amount` of store credit; False if
    another run claimed it first. A zero dividend is recorded without a transaction."""
    repo = memberships.repo(uow)
    claimed = repo.claim_credit(
        subscription_id=row.id,
        kind=kind,
        period=period,
        tenant_id=program.tenant_id,
        amount=amount,
        transaction_id=None,
        created_at=at,
    )
    if not claimed or amount <= 0:
        return claimed and amount > 0
    ledger = MemberLedger(uow, program, row.member_id, at, STORE_CREDIT)
    credited = ledger.credit(
        Credit(
            member_id=row.member_id,
            points=amount,
            kind=TxKind.EARN,
            source_account=program_account(program.id, "membership_credits"),
            occurred_at=min(occurred_at, at),
            refs=Refs(reason=f"membership {kind} {period} ({run})"),
            details={
                "subscription_id": row.public_id,
                "plan": row.plan_code,
                "kind": kind,
                "period": period,
                "currency": program.currency,
                **details,
            },
        )
    )
    ledger.save()
    repo.set_credit_transaction(row.id, kind, period, credited.transaction_id)
    return True
