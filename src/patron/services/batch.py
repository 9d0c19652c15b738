"""Bulk ingestion: many paid orders in one transaction, each still exactly once.

Each order runs in a savepoint, so a rejected order (unknown member, wrong currency...)
is reported and skipped without losing the others. Orders are processed sorted by
customer, so concurrent batches lock member balances in the same order and cannot
deadlock each other; results come back in input order.
"""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.errors import DomainError
from patron.domain.program import Program
from patron.schemas.orders import BatchItemResult, OrderBatchIn, OrderBatchResult, OrderResult
from patron.services.context import Caller
from patron.services.orders import Replayed, record_order_paid


def record_orders(
    uow: UnitOfWork, caller: Caller, program: Program, batch: OrderBatchIn, now: datetime
) -> OrderBatchResult:
    results: list[BatchItemResult | None] = [None] * len(batch.orders)
    order = sorted(range(len(batch.orders)), key=lambda i: (batch.orders[i].customer_id, i))
    for index in order:
        results[index] = _record_one(uow, caller, program, batch, index, now)
    done = [result for result in results if result is not None]
    return OrderBatchResult(
        created=sum(result.status == "created" for result in done),
        replayed=sum(result.status == "replayed" for result in done),
        rejected=sum(result.status == "rejected" for result in done),
        results=done,
    )


def _record_one(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    batch: OrderBatchIn,
    index: int,
    now: datetime,
) -> BatchItemResult:
    savepoint = uow.connection.begin_nested()
    try:
        result = record_order_paid(uow, caller, program, batch.orders[index], now)
    except Replayed as replay:
        savepoint.rollback()
        return BatchItemResult(
            index=index, status="replayed", result=OrderResult.model_validate(replay.result)
        )
    except DomainError as error:
        savepoint.rollback()
        problem = {"code": error.code, "detail": error.detail, "field": error.field}
        return BatchItemResult(index=index, status="rejected", problem=problem)
    savepoint.commit()
    return BatchItemResult(index=index, status="created", result=result)
