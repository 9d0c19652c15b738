"""Donations: a member gives points to a charity; receipts, yearly summaries and the payout
report per charity and period.

A donation spends the member's available lots, oldest expiry first, exactly like a
redemption (`MemberLedger.debit`, which locks the member's balance row, so a donation and
a redemption racing for the same points serialise and the loser gets 422
`insufficient-points`). The points go to `program:{id}:donated`; the money value and the
brand's matching are computed once, by `domain.donations.price`, and stored on the
donation, so later changes of the point value or of the matching never alter a receipt
or a past payout.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from types import SimpleNamespace
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.calendar import ReportWindow, local_date, parse_period
from patron.domain.donations import PayoutLine, price, render_csv
from patron.domain.errors import DomainError, MemberBlocked, NotFound
from patron.domain.ledger import TxKind, program_donated
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.schemas.charities import (
    CharityYear,
    DonationIn,
    DonationSummary,
    DonationTotals,
    DonationView,
    PayoutLineView,
    PayoutReport,
    PayoutTotals,
)
from patron.schemas.common import Money
from patron.services.charities import charity_ref, repository, require_charity, terms
from patron.services.context import Caller
from patron.services.member_ledger import MemberLedger, Refs
from patron.services.members import require_member


class CharityInactive(DomainError):
    code = "charity-inactive"
    status = 422


def donate(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    external_id: str,
    spec: DonationIn,
    now: datetime,
) -> DonationView:
    """Move `spec.points` of the member's available points to the program's `donated`
    account for the charity, fixing their money value and matching now.

    404 for an unknown member or charity; 422 for a blocked member, an inactive charity,
    points off the charity's step or below its minimum, or more than the member has
    (`insufficient-points`). Nothing is written on any failure."""
    member = require_member(uow, program, external_id)
    if member.status != MemberStatus.ACTIVE.value:
        raise MemberBlocked(f"member {external_id!r} is blocked", field="customer_id")
    charity = require_charity(uow, program, spec.charity_id)
    if not charity.active:
        raise CharityInactive(f"charity {spec.charity_id!r} is not active", field="charity_id")
    charity_terms = terms(charity)
    charity_terms.check(spec.points)
    amounts = price(
        spec.points, charity_terms, program.point_value_points, program.point_value_amount
    )
    public_id = f"don_{secrets.token_hex(8)}"
    ledger = MemberLedger(uow, program, member.id, now)  # locks the member's balance row
    tx_id, _ = ledger.debit(
        spec.points,
        kind=TxKind.DONATE,
        target_account=program_donated(program.id),
        refs=Refs(api_key_id=caller.api_key_id),
        details={
            "donation_id": public_id,
            "charity_id": charity.public_id,
            "value": amounts.value,
            "matching": amounts.matching,
            "currency": program.currency,
        },
        field="points",
    )
    ledger.save()
    donation = {
        "public_id": public_id,
        "member_id": member.id,
        "charity_id": charity.id,
        "points": spec.points,
        "value_amount": amounts.value,
        "matching_amount": amounts.matching,
        "currency": program.currency,
        "transaction_id": tx_id,
        "created_at": now,
    }
    repository(uow).add_donation(tenant_id=program.tenant_id, program_id=program.id, **donation)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="points.donated",
        payload={
            "customer_id": external_id,
            "donation_id": public_id,
            "charity_id": charity.public_id,
            "points": spec.points,
            "value": amounts.value,
            "matching": amounts.matching,
            "currency": program.currency,
        },
        now=now,
    )
    # the receipt of the row just written, without reading it back
    receipt = SimpleNamespace(
        **donation,
        customer_id=member.external_id,
        charity_public_id=charity.public_id,
        charity_code=charity.code,
        charity_name=charity.name,
    )
    return donation_view(program, receipt)


# -- receipts ------------------------------------------------------------------------------


def get_donation(uow: UnitOfWork, program: Program, public_id: str) -> DonationView:
    row = repository(uow).donation(program.id, public_id)
    if row is None:
        raise NotFound(f"no donation {public_id!r}", field="donation_id")
    return donation_view(program, row)


def member_donations(
    uow: UnitOfWork, program: Program, external_id: str, before_id: int | None, limit: int
) -> list[tuple[int, DonationView]]:
    """(row id for the cursor, receipt) of the member's donations, newest first."""
    member = require_member(uow, program, external_id)
    rows = repository(uow).member_donations(member.id, before_id, limit)
    return [(row.id, donation_view(program, row)) for row in rows]


def donation_view(program: Program, row: Any) -> DonationView:
    currency = row.currency
    return DonationView(
        id=row.public_id,
        customer_id=row.customer_id,
        charity=charity_ref(row.charity_public_id, row.charity_code, row.charity_name),
        points=row.points,
        value=_money(row.value_amount, currency),
        matching=_money(row.matching_amount, currency),
        total=_money(row.value_amount + row.matching_amount, currency),
        donated_at=row.created_at,
        local_date=local_date(row.created_at, program.zone),
        transaction_id=row.transaction_id,
    )


def member_year(uow: UnitOfWork, program: Program, external_id: str, year: int) -> DonationSummary:
    """The member's donations in calendar `year` of the program's time zone, per charity."""
    member = require_member(uow, program, external_id)
    start, end = parse_period(str(year), field="year").bounds(program.zone)
    lines = [_line(row) for row in repository(uow).member_year(member.id, start, end)]
    return DonationSummary(
        customer_id=external_id,
        year=year,
        charities=[
            CharityYear(
                charity=charity_ref(line.charity_id, line.code, line.name),
                **_totals(line.donations, line.points, line.value, line.matching, program.currency),
            )
            for line in lines
        ],
        totals=DonationTotals(**_sum(lines, program.currency)),
    )


# -- payouts -------------------------------------------------------------------------------


def payout_lines(uow: UnitOfWork, program: Program, window: ReportWindow) -> list[PayoutLine]:
    """What each charity that received donations in the window is owed, by charity code."""
    start, end = window.bounds(program.zone)
    return [_line(row) for row in repository(uow).payouts(program.id, start, end)]


def payout_report(uow: UnitOfWork, program: Program, window: ReportWindow) -> PayoutReport:
    start, end = window.bounds(program.zone)
    lines = payout_lines(uow, program, window)
    currency = program.currency
    return PayoutReport(
        period=window.label,
        time_zone=program.time_zone,
        from_date=window.first,
        to_date=date.fromordinal(window.after.toordinal() - 1),
        starts_at=start,
        ends_at=end,
        currency=currency,
        charities=[
            PayoutLineView(
                charity=charity_ref(line.charity_id, line.code, line.name),
                donors=line.donors,
                **_totals(line.donations, line.points, line.value, line.matching, currency),
            )
            for line in lines
        ],
        totals=PayoutTotals(
            donors=repository(uow).donors(program.id, start, end), **_sum(lines, currency)
        ),
    )


def payout_csv(uow: UnitOfWork, program: Program, window: ReportWindow) -> str:
    return render_csv(window.label, program.currency, payout_lines(uow, program, window))


def _line(row: Any) -> PayoutLine:
    return PayoutLine(
        charity_id=row.charity_id,
        code=row.code,
        name=row.name,
        donations=int(row.donations),
        donors=int(row.donors),
        points=int(row.points),
        value=int(row.value),
        matching=int(row.matching),
    )


def _sum(lines: list[PayoutLine], currency: str) -> dict[str, Any]:
    return _totals(
        sum(line.donations for line in lines),
        sum(line.points for line in lines),
        sum(line.value for line in lines),
        sum(line.matching for line in lines),
        currency,
    )


def _totals(
    donations: int, points: int, value: int, matching: int, currency: str
) -> dict[str, Any]:
    return {
        "donations": donations,
        "points": points,
        "value": _money(value, currency),
        "matching": _money(matching, currency),
        "total": _money(value + matching, currency),
    }


def _money(amount: int, currency: str) -> Money:
    return Money(amount=amount, currency=currency)
