"""Bulk ingestion: many paid orders in one transaction, each still exactly once.

`ingest.record_orders_paid` checks every order before writing any, so a rejected order
(unknown member, wrong currency...) is reported and skipped without a savepoint; results
come back in input order.
"""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.orders import BatchItemResult, OrderBatchIn, OrderBatchResult
from patron.services.context import Caller
from patron.services.ingest import Outcome, record_orders_paid


def record_orders(
    uow: UnitOfWork, caller: Caller, program: Program, batch: OrderBatchIn, now: datetime
) -> OrderBatchResult:
    outcomes = record_orders_paid(uow, caller, program, batch.orders, now)
    results = [_item(index, outcome) for index, outcome in enumerate(outcomes)]
    return OrderBatchResult(
        created=sum(result.status == "created" for result in results),
        replayed=sum(result.status == "replayed" for result in results),
        rejected=sum(result.status == "rejected" for result in results),
        results=results,
    )


def _item(index: int, outcome: Outcome) -> BatchItemResult:
    if outcome.error is not None:
        error = outcome.error
        problem = {"code": error.code, "detail": error.detail, "field": error.field}
        return BatchItemResult(index=index, status="rejected", problem=problem)
    return BatchItemResult(index=index, status=outcome.status, result=outcome.result)
