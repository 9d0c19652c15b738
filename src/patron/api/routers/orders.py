"""Order events: paid orders (one or a batch), refunds, and reading an order back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.schemas.orders import (
    OrderBatchIn,
    OrderBatchResult,
    OrderPaidIn,
    OrderRefundedIn,
    OrderResult,
    OrderView,
    RefundResult,
)
from patron.services import batch, orders

router = APIRouter(prefix="/v1", tags=["orders"])

_REPLAY_NOTE = (
    " Exactly once per source id: a replay returns 200 with the first result, header "
    "`Idempotent-Replayed: true`, and writes nothing."
)


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderResult,
    summary="Record a paid order; it earns points",
    description="Unknown customers are enrolled if the program auto-enrols." + _REPLAY_NOTE,
)
def order_paid(order: OrderPaidIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: orders.record_order_paid(uow, ctx.caller, prog, order, ctx.now),
        body=order,
    )


@router.post(
    "/orders/batch",
    status_code=200,
    response_model=OrderBatchResult,
    summary="Record up to 1,000 paid orders in one transaction",
    description="Each order is created, replayed or rejected on its own (see `results`).",
)
def orders_batch(spec: OrderBatchIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: batch.record_orders(uow, ctx.caller, prog, spec, ctx.now),
        body=spec,
        status=200,
    )


@router.get("/orders/{order_id}", response_model=OrderView, summary="A recorded order")
def get_order(
    order_id: Annotated[str, Path(min_length=1, max_length=128)],
    ctx: Ctx,
    brand: Annotated[str | None, Query(max_length=64)] = None,
) -> OrderView:
    return ctx.read(lambda uow, prog: orders.order_view(uow, ctx.caller, prog, order_id, brand))


@router.post(
    "/refunds",
    status_code=201,
    response_model=RefundResult,
    summary="Record a refund; it reverses the points of the refunded part",
    description="A refund of an unknown order is a 404 and is not held." + _REPLAY_NOTE,
)
def order_refunded(refund: OrderRefundedIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: orders.record_order_refunded(uow, ctx.caller, prog, refund, ctx.now),
        body=refund,
    )
