"""Writes one member's point movements: the only code that posts ledger entries and
changes lots and balances.

Opening a `MemberLedger` locks the member's balance row (`SELECT ... FOR UPDATE` on
PostgreSQL; the write transaction itself on SQLite) and first releases any pending lots
whose return window has passed, so every movement sees up-to-date lots. A spend first
expires the member's points past their expiry date (the `expire` job may not have run
yet), so points are never spent after their date. Each movement is one ledger transaction
whose postings sum to zero; `save()` writes the balance back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.ledger import (
    POINTS,
    Posting,
    TxKind,
    check_balanced,
    member_available,
    member_pending,
    program_account,
)
from patron.domain.lots import Lot, ReversalPlan, Take, plan_reversal, plan_spend
from patron.domain.member import Balance
from patron.domain.program import Program


@dataclass(frozen=True, slots=True)
class Refs:
    """What a ledger transaction points back to, and who asked for it."""

    event_id: int | None = None
    order_id: int | None = None
    redemption_id: int | None = None
    api_key_id: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Credited:
    transaction_id: int
    lot_id: int
    pending: bool


@dataclass(frozen=True, slots=True)
class Credit:
    """An award of `points` (> 0) to a member: one transaction, one lot, two postings.

    The rows and postings are built here once, for `MemberLedger.credit` (one award, with
    debt repayment) and `credit_many` (many awards in three multi-row statements)."""

    member_id: int
    points: int
    kind: TxKind
    source_account: str
    occurred_at: datetime
    pending_until: datetime | None = None
    expires_at: datetime | None = None
    refs: Refs = Refs()
    details: dict[str, Any] = field(default_factory=dict)

    def is_pending(self, now: datetime) -> bool:
        return self.pending_until is not None and self.pending_until > now

    def lot_row(self, program: Program, tx_id: int, now: datetime, asset: str) -> dict[str, Any]:
        return {
            "tenant_id": program.tenant_id,
            "member_id": self.member_id,
            "asset": asset,
            "amount": self.points,
            "remaining": self.points,
            "state": "pending" if self.is_pending(now) else "available",
            "pending_until": self.pending_until,
            "expires_at": self.expires_at,
            "transaction_id": tx_id,
            "created_at": now,
        }

    def postings(self, lot_id: int, now: datetime, asset: str) -> list[Posting]:
        account = _account(self.member_id, self.is_pending(now))
        return [
            Posting(self.source_account, -self.points, asset),
            Posting(account, self.points, asset, lot_id, self.member_id),
        ]

    def applied_to(self, balance: Balance, now: datetime) -> Balance:
        """The balance after this credit (before any debt repayment)."""
        earned = self.points if self.kind is TxKind.EARN else 0
        lifetime = balance.lifetime_earned + earned
        if self.is_pending(now):
            return replace(balance, pending=balance.pending + self.points, lifetime_earned=lifetime)
        return replace(balance, available=balance.available + self.points, lifetime_earned=lifetime)


def _account(member_id: int, pending: bool) -> str:
    return member_pending(member_id) if pending else member_available(member_id)


def transaction_row(
    program: Program,
    member_id: int,
    kind: TxKind,
    occurred_at: datetime,
    refs: Refs,
    details: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    return {
        "tenant_id": program.tenant_id,
        "program_id": program.id,
        "member_id": member_id,
        "kind": kind.value,
        "event_id": refs.event_id,
        "order_id": refs.order_id,
        "redemption_id": refs.redemption_id,
        "api_key_id": refs.api_key_id,
        "reason": refs.reason,
        "details": details,
        "occurred_at": occurred_at,
        "created_at": now,
    }


def credit_many(
    uow: UnitOfWork,
    program: Program,
    credits: Sequence[Credit],
    balances: dict[int, Balance],
    now: datetime,
    asset: str = POINTS,
) -> list[Credited]:
    """Write many credits in three multi-row statements and update `balances` in place.

    The caller holds the members' balance rows locked and guarantees none has debt (debt
    repayment is `MemberLedger.credit`'s); the balances are not written back here."""
    if any(balances[credit.member_id].debt for credit in credits):
        raise ValueError("credit_many is for members without debt")
    tx_ids = uow.ledger.insert_transactions(
        [
            transaction_row(program, c.member_id, c.kind, c.occurred_at, c.refs, c.details, now)
            for c in credits
        ]
    )
    lot_ids = uow.ledger.insert_lots(
        [c.lot_row(program, tx_id, now, asset) for c, tx_id in zip(credits, tx_ids, strict=True)]
    )
    entries: list[tuple[int, list[Posting]]] = []
    for credit, tx_id, lot_id in zip(credits, tx_ids, lot_ids, strict=True):
        postings = credit.postings(lot_id, now, asset)
        check_balanced(postings)
        entries.append((tx_id, postings))
        balances[credit.member_id] = credit.applied_to(balances[credit.member_id], now)
    uow.ledger.insert_entries_many(program.tenant_id, entries)
    return [
        Credited(tx_id, lot_id, credit.is_pending(now))
        for credit, tx_id, lot_id in zip(credits, tx_ids, lot_ids, strict=True)
    ]


class MemberLedger:
    """The ledger of one member and one asset, for the length of one unit of work."""

    def __init__(
        self, uow: UnitOfWork, program: Program, member_id: int, now: datetime, asset: str = POINTS
    ) -> None:
        self._uow = uow
        self._program = program
        self.member_id = member_id
        self._now = now
        self._asset = asset
        if asset != POINTS:  # points balances exist from enrolment; others on first use
            uow.members.ensure_balance(program.tenant_id, member_id, asset)
        self.balance = uow.members.balance(member_id, asset, lock=True)
        #: (transaction id, points, lots) of the release done on opening, if any.
        self.released: tuple[int, int, int] | None = None
        self._release_matured()

    # -- movements ---------------------------------------------------------------------

    def credit(self, credit: Credit) -> Credited:
        """Write one credit; if its points are available at once, they first pay off debt."""
        tx_id = self._transaction(credit.kind, credit.occurred_at, credit.refs, credit.details)
        lot_id = self._uow.ledger.insert_lot(
            **credit.lot_row(self._program, tx_id, self._now, self._asset)
        )
        postings = credit.postings(lot_id, self._now, self._asset)
        self.balance = credit.applied_to(self.balance, self._now)
        if not credit.is_pending(self._now):
            postings += self._settle_debt([Lot(lot_id, credit.points)])
        self._post(tx_id, postings)
        return Credited(tx_id, lot_id, credit.is_pending(self._now))

    def debit(
        self,
        points: int,
        *,
        kind: TxKind,
        target_account: str,
        refs: Refs = Refs(),
        details: dict[str, Any] | None = None,
        field: str | None = None,
    ) -> tuple[int, list[Take]]:
        """Spend `points` (> 0) of available lots, expiring first. Raises
        InsufficientPoints naming `field`, writing nothing, if the member has fewer."""
        lots = self._expire_due(
            self._uow.ledger.open_lots(self.member_id, self._asset, "available")
        )
        takes = plan_spend(lots, points, field=field)
        tx_id = self._transaction(kind, self._now, refs, details or {})
        postings = [
            Posting(self._account(False), -take.amount, self._asset, take.lot_id, self.member_id)
            for take in takes
        ]
        postings.append(Posting(target_account, points, self._asset))
        self._uow.ledger.add_to_lots({take.lot_id: -take.amount for take in takes})
        self.balance = replace(self.balance, available=self.balance.available - points)
        self._post(tx_id, postings)
        return tx_id, takes

    def restore(
        self,
        takes: Sequence[Take],
        *,
        kind: TxKind,
        source_account: str,
        refs: Refs = Refs(),
        details: dict[str, Any] | None = None,
    ) -> int:
        """Put spent points back into the lots they came from (e.g. a cancelled
        redemption), so they keep their original expiry."""
        total = sum(take.amount for take in takes)
        tx_id = self._transaction(kind, self._now, refs, details or {})
        postings = [Posting(source_account, -total, self._asset)]
        postings += [
            Posting(self._account(False), take.amount, self._asset, take.lot_id, self.member_id)
            for take in takes
        ]
        self._uow.ledger.add_to_lots({take.lot_id: take.amount for take in takes})
        self.balance = replace(self.balance, available=self.balance.available + total)
        postings += self._settle_debt([Lot(take.lot_id, take.amount) for take in takes])
        self._post(tx_id, postings)
        return tx_id

    def reverse(
        self,
        points: int,
        *,
        own_lot_id: int | None,
        allow_negative: bool,
        target_account: str,
        refs: Refs = Refs(),
        details: dict[str, Any] | None = None,
    ) -> tuple[int | None, ReversalPlan]:
        """Take back `points` of an award (a refund): its own lot first, then other lots;
        the rest becomes debt if `allow_negative`, else it is forgiven. Both are recorded
        in the transaction's details."""
        ledger = self._uow.ledger
        available = ledger.open_lots(self.member_id, self._asset, "available")
        pending = ledger.open_lots(self.member_id, self._asset, "pending")
        pending_ids = {lot.id for lot in pending}
        own = next((lot for lot in available + pending if lot.id == own_lot_id), None)
        plan = plan_reversal(points, own, available, pending, allow_negative=allow_negative)
        if plan.reversed == 0:
            return None, plan
        details = {**(details or {}), "debt_created": plan.debt, "forgiven": plan.forgiven}
        tx_id = self._transaction(TxKind.REVERSE, self._now, refs, details)
        postings = [
            Posting(
                self._account(take.lot_id in pending_ids),
                -take.amount,
                self._asset,
                take.lot_id,
                self.member_id,
            )
            for take in plan.takes
        ]
        if plan.debt:
            postings.append(
                Posting(self._account(False), -plan.debt, self._asset, None, self.member_id)
            )
        postings.append(Posting(target_account, plan.reversed, self._asset))
        ledger.add_to_lots({take.lot_id: -take.amount for take in plan.takes})
        from_pending = sum(take.amount for take in plan.takes if take.lot_id in pending_ids)
        from_available = sum(take.amount for take in plan.takes) - from_pending
        self.balance = replace(
            self.balance,
            available=self.balance.available - from_available,
            pending=self.balance.pending - from_pending,
            debt=self.balance.debt + plan.debt,
        )
        self._post(tx_id, postings)
        return tx_id, plan

    def save(self) -> None:
        """Write the balance back (the row is still locked by this transaction)."""
        self._uow.members.set_balance(self.member_id, self._asset, self.balance)

    # -- internals ---------------------------------------------------------------------

    def _release_matured(self) -> None:
        """Move pending lots whose return window has passed to available, in one
        transaction, then let them pay off debt."""
        if self.balance.pending == 0:  # nothing pending: skip the query on the hot path
            return
        matured = self._uow.ledger.matured_lots(self.member_id, self._asset, self._now)
        if not matured:
            return
        self._uow.ledger.make_available([lot.id for lot in matured])
        released = sum(lot.remaining for lot in matured)
        if released == 0:  # only fully reversed lots: nothing moves, no transaction
            return
        tx_id = self._transaction(TxKind.RELEASE, self._now, Refs(), {"lots": len(matured)})
        self.released = (tx_id, released, len(matured))
        postings: list[Posting] = []
        for lot in matured:
            postings.append(
                Posting(self._account(True), -lot.remaining, self._asset, lot.id, self.member_id)
            )
            postings.append(
                Posting(self._account(False), lot.remaining, self._asset, lot.id, self.member_id)
            )
        postings = [posting for posting in postings if posting.amount != 0]
        self.balance = replace(
            self.balance,
            pending=self.balance.pending - released,
            available=self.balance.available + released,
        )
        postings += self._settle_debt(matured)
        self._post(tx_id, postings)
        self.save()

    def _expire_due(self, lots: list[Lot]) -> list[Lot]:
        """Expire the points lots past their expiry date, as the `expire` job would (same
        accounts, one transaction, a `points.expired` event), and return the other lots."""
        if self._asset != POINTS:
            return lots
        due = [lot for lot in lots if lot.expires_at is not None and lot.expires_at <= self._now]
        if not due:
            return lots
        expired = sum(lot.remaining for lot in due)
        tx_id = self._transaction(TxKind.EXPIRE, self._now, Refs(), {"lots": len(due)})
        postings = [
            Posting(self._account(False), -lot.remaining, self._asset, lot.id, self.member_id)
            for lot in due
        ]
        postings.append(Posting(program_account(self._program.id, "expired"), expired))
        self._uow.ledger.add_to_lots({lot.id: -lot.remaining for lot in due})
        self.balance = replace(self.balance, available=self.balance.available - expired)
        self._post(tx_id, postings)
        member = self._uow.members.get_by_id(self.member_id)
        self._uow.outbox.add(
            tenant_id=self._program.tenant_id,
            program_id=self._program.id,
            type_="points.expired",
            payload={
                "customer_id": member.external_id if member else None,
                "points": expired,
                "transaction_id": tx_id,
            },
            now=self._now,
        )
        expired_ids = {lot.id for lot in due}
        return [lot for lot in lots if lot.id not in expired_ids]

    def _settle_debt(self, lots: Sequence[Lot]) -> list[Posting]:
        """Postings that use points of `lots` (just made available) to pay off debt."""
        postings: list[Posting] = []
        taken: dict[int, int] = defaultdict(int)
        debt = self.balance.debt
        for lot in lots:
            pay = min(debt, lot.remaining)
            if pay <= 0:
                continue
            debt -= pay
            taken[lot.id] -= pay
            account = self._account(False)
            postings.append(Posting(account, -pay, self._asset, lot.id, self.member_id))
            postings.append(Posting(account, pay, self._asset, None, self.member_id))
        if taken:
            paid = self.balance.debt - debt
            self._uow.ledger.add_to_lots(dict(taken))
            self.balance = replace(self.balance, available=self.balance.available - paid, debt=debt)
        return postings

    def _account(self, pending: bool) -> str:
        return _account(self.member_id, pending)

    def _transaction(
        self, kind: TxKind, occurred_at: datetime, refs: Refs, details: dict[str, Any]
    ) -> int:
        row = transaction_row(
            self._program, self.member_id, kind, occurred_at, refs, details, self._now
        )
        return self._uow.ledger.insert_transaction(**row)

    def _post(self, tx_id: int, postings: list[Posting]) -> None:
        check_balanced(postings)
        if postings:
            self._uow.ledger.insert_entries(self._program.tenant_id, tx_id, postings)


def balance_of(uow: UnitOfWork, member_id: int, now: datetime, asset: str = POINTS) -> Balance:
    """The balance a reader should see at `now`: pending lots whose window has passed
    count as available, and available points past their expiry date do not, even before a
    write or a job has moved them (without writing)."""
    balance = uow.members.balance(member_id, asset)
    if asset == POINTS and balance.available > 0:  # points past their date are not spendable
        overdue = uow.ledger.overdue_points(member_id, now)
        balance = replace(balance, available=balance.available - overdue)
    if balance.pending == 0:
        return balance
    matured = sum(lot.remaining for lot in uow.ledger.matured_lots(member_id, asset, now))
    if not matured:
        return balance
    settled = min(balance.debt, matured)
    return replace(
        balance,
        pending=balance.pending - matured,
        available=balance.available + matured - settled,
        debt=balance.debt - settled,
    )
