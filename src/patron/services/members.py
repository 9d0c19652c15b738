"""Members: enrol, update, look up, and what a member sees of its ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Row

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, NotFound
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.schemas.members import (
    BalanceView,
    EnrollMember,
    EntryView,
    LedgerTransactionView,
    MemberProfile,
    MemberView,
    UpdateMember,
)
from patron.services import memberships, store_credit, tiers
from patron.services.awarding import award_signup
from patron.services.member_ledger import balance_of

RECENT_LEDGER = 10


def enroll(
    uow: UnitOfWork, program: Program, profile: MemberProfile, external_id: str, now: datetime
) -> int:
    """Enrol a customer; 409 if it is a member already. Writes `member.enrolled`."""
    if uow.members.get(program.id, external_id) is not None:
        raise Conflict(f"member {external_id!r} exists", field="external_id")
    return add_member(uow, program, profile, external_id, now)


def add_member(
    uow: UnitOfWork,
    program: Program,
    profile: MemberProfile,
    external_id: str,
    now: datetime,
    *,
    signup: bool = True,
) -> int:
    """Insert the member and its `member.enrolled` event without looking first: if it
    exists, the unique index refuses the insert (a race that `run_write` retries). Fires
    the `signup` trigger unless `signup` is False (the caller awards it itself)."""
    fields = profile.model_dump(exclude={"external_id", "referral"})
    if fields.get("birthday") is not None:
        fields["birthday_set_at"] = now
    member_id = uow.members.insert(
        tenant_id=program.tenant_id,
        program_id=program.id,
        now=now,
        external_id=external_id,
        status=MemberStatus.ACTIVE.value,
        **fields,
    )
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="member.enrolled",
        payload={"customer_id": external_id, "program": program.code},
        now=now,
    )
    # Imported here: referrals and campaigns grant coupons through redemptions, which
    # import this module.
    from patron.services.referrals import code_on_enrolment

    code_on_enrolment(uow, program, member_id, now)
    if signup:
        award_signup(uow, program, member_id, tuple(profile.tags), now)
    # Imported here: campaigns grant coupons through redemptions, which import this module.
    from patron.services.campaigns import welcome

    welcome(uow, program, member_id, now)
    return member_id


def enroll_member(
    uow: UnitOfWork, program: Program, spec: EnrollMember, now: datetime
) -> MemberView:
    member_id = enroll(uow, program, spec, spec.external_id, now)
    if spec.referral is not None:
        # Imported here: referrals grant coupons through redemptions, which import this module.
        from patron.services.referrals import refer_on_enrolment

        refer_on_enrolment(uow, program, member_id, spec.referral, now)
    return member_view(uow, program, spec.external_id, now)


def update_member(
    uow: UnitOfWork, program: Program, external_id: str, changes: UpdateMember, now: datetime
) -> MemberView:
    """Apply the fields given in `changes`; 404 for an unknown member."""
    member = require_member(uow, program, external_id)
    fields: dict[str, Any] = changes.model_dump(exclude_unset=True)
    given = sorted(fields)
    chosen_day = fields.pop("chosen_day", None)  # never null: see `UpdateMember`
    if chosen_day is not None:
        tiers.choose_day(uow, program, member, chosen_day, now)
    if fields:
        # Campaigns: a birthday must have been set at least N days before it is rewarded.
        changed = fields.get("birthday") not in (None, member.birthday)
        stamp = {"birthday_set_at": now} if changed else {}
        uow.members.update(member.id, now, **fields, **stamp)
    if given:
        uow.outbox.add(
            tenant_id=program.tenant_id,
            program_id=program.id,
            type_="member.updated",
            payload={"customer_id": external_id, "fields": given},
            now=now,
        )
    return member_view(uow, program, external_id, now)


def require_member(uow: UnitOfWork, program: Program, external_id: str) -> Row[Any]:
    member = uow.members.get(program.id, external_id)
    if member is None:
        raise NotFound(f"no member {external_id!r}", field="customer_id")
    return member


def member_view(
    uow: UnitOfWork,
    program: Program,
    external_id: str,
    now: datetime,
    *,
    recent: int = RECENT_LEDGER,
) -> MemberView:
    member = require_member(uow, program, external_id)
    balance = balance_of(uow, member.id, now)
    return MemberView(
        external_id=member.external_id,
        email=member.email,
        first_name=member.first_name,
        last_name=member.last_name,
        phone=member.phone,
        birthday=member.birthday,
        locale=member.locale,
        tags=member.tags,
        marketing_consent=member.marketing_consent,
        status=member.status,
        enrolled_at=member.enrolled_at,
        updated_at=member.updated_at,
        balance=BalanceView(
            available=balance.available,
            pending=balance.pending,
            debt=balance.debt,
            lifetime_earned=balance.lifetime_earned,
        ),
        tier=tiers.view(uow, program, member, now),
        chosen_day=_latest_chosen_day(uow, member.id),
        store_credit=store_credit.view(uow, program, member.id, now),
        memberships=memberships.memberships_block(uow, program, member.id, now),
        recent_ledger=ledger_page(uow, member.id, before_id=None, limit=recent),
    )


def _latest_chosen_day(uow: UnitOfWork, member_id: int) -> date | None:
    days = uow.members.chosen_days([member_id]).get(member_id, {})
    return days[max(days)] if days else None


def ledger_page(
    uow: UnitOfWork, member_id: int, *, before_id: int | None, limit: int
) -> list[LedgerTransactionView]:
    """The member's ledger transactions, newest first, with the member's own entries."""
    transactions = uow.ledger.history(member_id, before_id=before_id, limit=limit)
    entries = uow.ledger.member_entries([tx.id for tx in transactions], member_id)
    by_tx: dict[int, list[EntryView]] = {}
    for entry in entries:
        by_tx.setdefault(entry.transaction_id, []).append(
            EntryView(account=entry.account, amount=entry.amount, lot_id=entry.lot_id)
        )
    return [
        LedgerTransactionView(
            id=tx.id,
            kind=tx.kind,
            points=sum(entry.amount for entry in by_tx.get(tx.id, [])),
            reason=tx.reason,
            details=tx.details,
            entries=by_tx.get(tx.id, []),
            occurred_at=tx.occurred_at,
            created_at=tx.created_at,
        )
        for tx in transactions
    ]
