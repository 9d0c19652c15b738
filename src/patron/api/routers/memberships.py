"""Paid memberships: plans (admin), subscriptions reported by the store, checkout benefits."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.common import Page
from patron.schemas.memberships import (
    BenefitsView,
    CancellationIn,
    CartIn,
    PaymentFailureIn,
    PlanIn,
    PlanUpdateIn,
    PlanView,
    RenewalIn,
    SubscriptionStartIn,
    SubscriptionView,
)
from patron.services import members, memberships
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["memberships"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]
PlanCode = Annotated[str, Path(min_length=1, max_length=64, description="The plan's code")]
SubscriptionId = Annotated[str, Path(min_length=1, max_length=32)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("/membership-plans", status_code=201, response_model=PlanView, summary="Create a plan")
def create_plan(spec: PlanIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: memberships.create_plan(uow, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get(
    "/membership-plans", response_model=Page[PlanView], summary="List plans (cursor pagination)"
)
def list_plans(ctx: Ctx, cursor: str | None = None, limit: Limit = 50) -> Page[PlanView]:
    after = decode_cursor("p", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[PlanView]:
        views, more = memberships.plans_page(uow, prog, after, limit)
        return Page[PlanView](data=views, next_cursor=encode_cursor("p", more) if more else None)

    return ctx.read(query)


@router.get("/membership-plans/{plan_code}", response_model=PlanView, summary="One plan")
def get_plan(plan_code: PlanCode, ctx: Ctx) -> PlanView:
    return ctx.read(lambda uow, prog: memberships.plan_view(uow, prog, plan_code))


@router.put(
    "/membership-plans/{plan_code}", response_model=PlanView, summary="Replace a plan's terms"
)
def update_plan(plan_code: PlanCode, spec: PlanUpdateIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: memberships.update_plan(uow, prog, plan_code, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.post(
    "/members/{customer_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionView,
    summary="The store reports a new subscription (paid or trial)",
)
def start(customer_id: CustomerId, spec: SubscriptionStartIn, ctx: Ctx) -> JSONResponse:
    def step(uow: UnitOfWork, prog: Program) -> SubscriptionView:
        member = members.require_member(uow, prog, customer_id)
        return memberships.start(uow, prog, member, spec, ctx.now)

    return ctx.write(step, body=spec)


@router.get(
    "/members/{customer_id}/subscriptions",
    response_model=Page[SubscriptionView],
    summary="The member's subscriptions, newest first (cursor pagination)",
)
def member_subscriptions(
    customer_id: CustomerId, ctx: Ctx, cursor: str | None = None, limit: Limit = 50
) -> Page[SubscriptionView]:
    before = decode_cursor("s", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[SubscriptionView]:
        member = members.require_member(uow, prog, customer_id)
        views, more = memberships.member_subscriptions(uow, prog, member, before, limit, ctx.now)
        return Page[SubscriptionView](
            data=views, next_cursor=encode_cursor("s", more) if more else None
        )

    return ctx.read(query)


@router.get(
    "/subscriptions/{subscription_id}", response_model=SubscriptionView, summary="A subscription"
)
def get_subscription(subscription_id: SubscriptionId, ctx: Ctx) -> SubscriptionView:
    return ctx.read(
        lambda uow, prog: memberships.subscription_view(uow, prog, subscription_id, ctx.now)
    )


@router.post(
    "/subscriptions/{subscription_id}/renewals",
    response_model=SubscriptionView,
    summary="The store reports a payment for the next period",
)
def renew(subscription_id: SubscriptionId, spec: RenewalIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: memberships.renew(uow, prog, subscription_id, spec, ctx.now),
        body=spec,
        status=200,
    )


@router.post(
    "/subscriptions/{subscription_id}/payment-failures",
    response_model=SubscriptionView,
    summary="The store reports a failed payment (grace, then lapse)",
)
def fail_payment(subscription_id: SubscriptionId, spec: PaymentFailureIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: memberships.fail_payment(uow, prog, subscription_id, spec, ctx.now),
        body=spec,
        status=200,
    )


@router.post(
    "/subscriptions/{subscription_id}/cancellations",
    response_model=SubscriptionView,
    summary="Cancel at the period end, or now with a refund",
)
def cancel(subscription_id: SubscriptionId, spec: CancellationIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: memberships.cancel(uow, prog, subscription_id, spec, ctx.now),
        body=spec,
        status=200,
    )


@router.post(
    "/members/{customer_id}/benefits/validate",
    response_model=BenefitsView,
    summary="The member's membership discounts on a cart (writes nothing)",
)
def validate_benefits(customer_id: CustomerId, cart: CartIn, ctx: Ctx) -> BenefitsView:
    def query(uow: UnitOfWork, prog: Program) -> BenefitsView:
        member = members.require_member(uow, prog, customer_id)
        return memberships.benefits(uow, prog, member, cart, ctx.now)

    return ctx.read(query)
