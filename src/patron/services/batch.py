"""Bulk ingestion: many paid orders in one transaction, each still exactly once.

`ingest.record_orders_paid` checks every order before writing any, so a rejected order
(unknown member, wrong currency...) is reported and skipped without a savepoint; results
come back in input order. An order's referral (a code, fingerprints) is applied after it
is recorded, in a savepoint of its own: a bad code is reported as the item's
`referral_problem` while the order stays recorded.
"""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.errors import DomainError
from patron.domain.program import Program
from patron.schemas.orders import BatchItemResult, OrderBatchIn, OrderBatchResult, OrderPaidIn
from patron.services.context import Caller
from patron.services.ingest import Outcome, record_orders_paid
from patron.services.orders import carries_referral
from patron.services.referrals import after_order


def record_orders(
    uow: UnitOfWork, caller: Caller, program: Program, batch: OrderBatchIn, now: datetime
) -> OrderBatchResult:
    outcomes = record_orders_paid(uow, caller, program, batch.orders, now)
    results = [_item(index, outcome) for index, outcome in enumerate(outcomes)]
    for result, order in zip(results, batch.orders, strict=True):
        if result.status == "created" and carries_referral(order):
            result.referral_problem = _refer(uow, caller, program, order, now)
    return OrderBatchResult(
        created=sum(result.status == "created" for result in results),
        replayed=sum(result.status == "replayed" for result in results),
        rejected=sum(result.status == "rejected" for result in results),
        results=results,
    )


def _refer(
    uow: UnitOfWork, caller: Caller, program: Program, order: OrderPaidIn, now: datetime
) -> dict[str, object] | None:
    """Apply a created order's referral in a savepoint: a bad code is reported on its item
    (and writes nothing of the referral) without undoing the order or the batch."""
    try:
        with uow.connection.begin_nested():
            after_order(uow, caller, program, order, now)
    except DomainError as error:
        return {"code": error.code, "detail": error.detail, "field": error.field}
    return None


def _item(index: int, outcome: Outcome) -> BatchItemResult:
    if outcome.error is not None:
        error = outcome.error
        problem = {"code": error.code, "detail": error.detail, "field": error.field}
        return BatchItemResult(index=index, status="rejected", problem=problem)
    return BatchItemResult(index=index, status=outcome.status, result=outcome.result)
