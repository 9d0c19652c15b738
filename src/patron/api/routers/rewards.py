"""The reward catalogue, redemptions and the checkout's coupon checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.db.uow import UnitOfWork
from patron.domain.errors import NotFound
from patron.domain.program import Program
from patron.schemas.rewards import (
    ConsumeIn,
    RedemptionView,
    RewardIn,
    RewardView,
    ValidateIn,
    ValidationView,
)
from patron.services import redemptions
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["rewards"])

PublicId = Annotated[str, Path(min_length=1, max_length=32)]


@router.post("/rewards", status_code=201, response_model=RewardView, summary="Create a reward")
def create_reward(spec: RewardIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.create_reward(uow, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/rewards", response_model=list[RewardView], summary="The reward catalogue")
def list_rewards(ctx: Ctx) -> list[RewardView]:
    return ctx.read(
        lambda uow, prog: [redemptions.reward_view(row) for row in uow.rewards.catalogue(prog.id)]
    )


@router.get("/rewards/{reward_id}", response_model=RewardView, summary="One reward")
def get_reward(reward_id: PublicId, ctx: Ctx) -> RewardView:
    def query(uow: UnitOfWork, prog: Program) -> RewardView:
        row = uow.rewards.get(prog.id, reward_id)
        if row is None:
            raise NotFound(f"no reward {reward_id!r}", field="reward_id")
        return redemptions.reward_view(row)

    return ctx.read(query)


@router.get("/redemptions/{redemption_id}", response_model=RedemptionView, summary="A redemption")
def get_redemption(redemption_id: PublicId, ctx: Ctx) -> RedemptionView:
    return ctx.read(lambda uow, prog: redemptions.get_redemption(uow, prog, redemption_id, ctx.now))


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionView,
    summary="Cancel an unused code; its points return to the member",
)
def cancel_redemption(redemption_id: PublicId, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.cancel(uow, ctx.caller, prog, redemption_id, ctx.now),
        body=None,
        status=200,
    )


@router.post(
    "/coupons/validate",
    response_model=ValidationView,
    summary="Check a code at checkout (writes nothing)",
)
def validate(check: ValidateIn, ctx: Ctx) -> ValidationView:
    return ctx.read(lambda uow, prog: redemptions.validate(uow, prog, check, ctx.now))


@router.post(
    "/coupons/{code}/consume",
    response_model=RedemptionView,
    summary="Mark a code used by an order (exactly once; a second time is a 409)",
)
def consume(
    code: Annotated[str, Path(min_length=1, max_length=64)], spec: ConsumeIn, ctx: Ctx
) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.consume(uow, prog, code, spec.order_id, ctx.now),
        body=spec,
        status=200,
    )
