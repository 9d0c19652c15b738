"""The reward catalogue, code pools, redemptions (cancel, gift fulfilment) and the
checkout's coupon checks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.schemas.rewards import (
    CodesImportView,
    CodesIn,
    ConsumeIn,
    FulfilmentIn,
    RedemptionView,
    RewardIn,
    RewardView,
    ValidateIn,
    ValidationView,
)
from patron.services import redemptions, rewards_catalogue, rewards_checkout
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["rewards"])

PublicId = Annotated[str, Path(min_length=1, max_length=32)]


@router.post("/rewards", status_code=201, response_model=RewardView, summary="Create a reward")
def create_reward(spec: RewardIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: rewards_catalogue.create_reward(uow, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/rewards", response_model=list[RewardView], summary="The reward catalogue")
def list_rewards(ctx: Ctx) -> list[RewardView]:
    return ctx.read(lambda uow, prog: rewards_catalogue.catalogue(uow, prog))


@router.get("/rewards/{reward_id}", response_model=RewardView, summary="One reward")
def get_reward(reward_id: PublicId, ctx: Ctx) -> RewardView:
    return ctx.read(lambda uow, prog: rewards_catalogue.get_reward(uow, prog, reward_id))


@router.post(
    "/rewards/{reward_id}/codes",
    response_model=CodesImportView,
    summary="Import the store's codes into a pool reward (up to 10,000; duplicates skipped)",
)
def import_codes(reward_id: PublicId, spec: CodesIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: rewards_catalogue.import_codes(uow, prog, reward_id, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get("/redemptions/{redemption_id}", response_model=RedemptionView, summary="A redemption")
def get_redemption(redemption_id: PublicId, ctx: Ctx) -> RedemptionView:
    return ctx.read(
        lambda uow, prog: redemptions.get_redemption(uow, prog, redemption_id, ctx.now, ctx.caller)
    )


@router.post(
    "/redemptions/{redemption_id}/cancel",
    response_model=RedemptionView,
    summary="Cancel an unused code or undelivered gift; its points return to the member",
)
def cancel_redemption(redemption_id: PublicId, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.cancel(uow, ctx.caller, prog, redemption_id, ctx.now),
        body=None,
        status=200,
    )


@router.post(
    "/redemptions/{redemption_id}/fulfilment",
    response_model=RedemptionView,
    summary="Move a gift on: shipped, delivered, or cancelled (points come back)",
)
def fulfil(redemption_id: PublicId, spec: FulfilmentIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.fulfil(uow, ctx.caller, prog, redemption_id, spec, ctx.now),
        body=spec,
        status=200,
    )


@router.post(
    "/coupons/validate",
    response_model=ValidationView,
    summary="Check a code at checkout, optionally against a cart (writes nothing)",
)
def validate(check: ValidateIn, ctx: Ctx) -> ValidationView:
    return ctx.read(lambda uow, prog: rewards_checkout.validate(uow, prog, check, ctx.now))


@router.post(
    "/coupons/{code}/consume",
    response_model=RedemptionView,
    summary="Mark a code used by an order (exactly once; a second time is a 409)",
)
def consume(
    code: Annotated[str, Path(min_length=1, max_length=64)], spec: ConsumeIn, ctx: Ctx
) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: rewards_checkout.consume(uow, prog, code, spec.order_id, ctx.now),
        body=spec,
        status=200,
    )
