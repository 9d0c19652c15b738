"""Store credit: spend at checkout, give back, look up a spend."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.store_credit import SpendIn, SpendRefundIn, SpendView
from patron.services import members, store_credit

router = APIRouter(prefix="/v1", tags=["store credit"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]
SpendId = Annotated[str, Path(min_length=1, max_length=32)]


@router.post(
    "/members/{customer_id}/store-credit/spends",
    status_code=201,
    response_model=SpendView,
    summary="Spend a member's store credit at checkout",
)
def spend(customer_id: CustomerId, spec: SpendIn, ctx: Ctx) -> JSONResponse:
    def step(uow: UnitOfWork, prog: Program) -> SpendView:
        member = members.require_member(uow, prog, customer_id)
        return store_credit.spend(uow, ctx.caller, prog, member, spec, ctx.now)

    return ctx.write(step, body=spec)


@router.get(
    "/store-credit/spends/{spend_id}", response_model=SpendView, summary="One store-credit spend"
)
def get_spend(spend_id: SpendId, ctx: Ctx) -> SpendView:
    return ctx.read(lambda uow, prog: store_credit.spend_view(uow, prog, spend_id, ctx.now))


@router.post(
    "/store-credit/spends/{spend_id}/refunds",
    response_model=SpendView,
    summary="Give back (part of) a store-credit spend",
)
def refund_spend(spend_id: SpendId, spec: SpendRefundIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: store_credit.refund_spend(uow, ctx.caller, prog, spend_id, spec, ctx.now),
        body=spec,
        status=200,
    )
