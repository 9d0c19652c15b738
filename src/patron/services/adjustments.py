"""Manual adjustments: an operator adds or removes points with a reason."""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.errors import InvalidInput
from patron.domain.ledger import TxKind, program_account
from patron.domain.program import Program
from patron.schemas.ledger import AdjustmentIn
from patron.schemas.members import LedgerTransactionView
from patron.services.context import Caller
from patron.services.member_ledger import Credit, MemberLedger, Refs
from patron.services.members import ledger_page, require_member


def adjust(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    external_id: str,
    adjustment: AdjustmentIn,
    now: datetime,
) -> LedgerTransactionView:
    """Credit (new available lot) or debit (from lots, expiring first) points; the reason
    and the API key that made it are kept on the ledger transaction. A debit larger than
    the available balance is refused (422); adjustments never create debt.
    """
    member = require_member(uow, program, external_id)
    ledger = MemberLedger(uow, program, member.id, now)
    refs = Refs(api_key_id=caller.api_key_id, reason=adjustment.reason)
    account = program_account(program.id, "adjustments")
    if adjustment.points > 0:
        credit = Credit(
            member.id,
            adjustment.points,
            TxKind.ADJUST,
            account,
            now,
            expires_at=program.lot_expires_at(now),
            refs=refs,
        )
        tx_id = ledger.credit(credit).transaction_id
    elif adjustment.points < 0:
        tx_id, _ = ledger.debit(
            -adjustment.points,
            kind=TxKind.ADJUST,
            target_account=account,
            refs=refs,
            field="points",
        )
    else:
        raise InvalidInput("an adjustment of 0 points changes nothing", field="points")
    ledger.save()
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="points.adjusted",
        payload={
            "customer_id": external_id,
            "points": adjustment.points,
            "reason": adjustment.reason,
            "transaction_id": tx_id,
        },
        now=now,
    )
    return next(view for view in ledger_page(uow, member.id, before_id=tx_id + 1, limit=1))
