"""Members: enrol, read, update, list; their ledger, adjustments and redemptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.common import Page
from patron.schemas.ledger import AdjustmentIn
from patron.schemas.members import (
    EnrollMember,
    LedgerTransactionView,
    MemberView,
    TierAssignIn,
    UpdateMember,
)
from patron.schemas.rewards import RedeemIn, RedemptionView
from patron.services import adjustments, coalition, members, redemptions, tiers
from patron.services.brands import sees_brand
from patron.services.context import Scope

router = APIRouter(prefix="/v1/members", tags=["members"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("", status_code=201, response_model=MemberView, summary="Enrol a member")
def enroll(spec: EnrollMember, ctx: Ctx) -> JSONResponse:
    return ctx.write(lambda uow, prog: members.enroll_member(uow, prog, spec, ctx.now), body=spec)


@router.get("", response_model=Page[MemberView], summary="List members (cursor pagination)")
def list_members(ctx: Ctx, cursor: str | None = None, limit: Limit = 50) -> Page[MemberView]:
    after = decode_cursor("m", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[MemberView]:
        rows = uow.members.page(prog.id, after_id=after, limit=limit + 1)
        views = [
            members.member_view(uow, prog, row.external_id, ctx.now, recent=0)
            for row in rows[:limit]
        ]
        next_cursor = encode_cursor("m", rows[limit - 1].id) if len(rows) > limit else None
        return Page[MemberView](data=views, next_cursor=next_cursor)

    return ctx.read(query)


@router.get("/{customer_id}", response_model=MemberView, summary="A member, balance, recent ledger")
def get_member(customer_id: CustomerId, ctx: Ctx) -> MemberView:
    def query(uow: UnitOfWork, prog: Program) -> MemberView:
        view = members.member_view(uow, prog, customer_id, ctx.now)
        return coalition.member_for_caller(uow, ctx.caller, view)

    return ctx.read(query)


@router.patch("/{customer_id}", response_model=MemberView, summary="Update a member")
def update_member(customer_id: CustomerId, changes: UpdateMember, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: coalition.member_for_caller(
            uow, ctx.caller, members.update_member(uow, prog, customer_id, changes, ctx.now)
        ),
        body=changes,
        status=200,
    )


@router.get(
    "/{customer_id}/ledger",
    response_model=Page[LedgerTransactionView],
    summary="The member's ledger, newest first (cursor pagination)",
)
def ledger(
    customer_id: CustomerId, ctx: Ctx, cursor: str | None = None, limit: Limit = 50
) -> Page[LedgerTransactionView]:
    before = decode_cursor("t", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[LedgerTransactionView]:
        member = members.require_member(uow, prog, customer_id)
        views = members.ledger_page(uow, member.id, before_id=before, limit=limit + 1)
        views = coalition.brand_ledger(uow, ctx.caller, views)  # a brand key: its own details
        next_cursor = encode_cursor("t", views[limit - 1].id) if len(views) > limit else None
        return Page[LedgerTransactionView](data=views[:limit], next_cursor=next_cursor)

    return ctx.read(query)


@router.post(
    "/{customer_id}/adjustments",
    status_code=201,
    response_model=LedgerTransactionView,
    summary="Add or remove points by hand, with a reason",
)
def adjust(customer_id: CustomerId, adjustment: AdjustmentIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: adjustments.adjust(
            uow, ctx.caller, prog, customer_id, adjustment, ctx.now
        ),
        body=adjustment,
    )


@router.post(
    "/{customer_id}/redemptions",
    status_code=201,
    response_model=RedemptionView,
    summary="Spend points on a reward and get its code",
)
def redeem(customer_id: CustomerId, spec: RedeemIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: redemptions.redeem(uow, ctx.caller, prog, customer_id, spec, ctx.now),
        body=spec,
    )


@router.get(
    "/{customer_id}/redemptions",
    response_model=list[RedemptionView],
    summary="The member's latest redemptions",
)
def member_redemptions(customer_id: CustomerId, ctx: Ctx) -> list[RedemptionView]:
    def query(uow: UnitOfWork, prog: Program) -> list[RedemptionView]:
        member = members.require_member(uow, prog, customer_id)
        rows = uow.rewards.member_redemptions(member.id)
        return [
            redemptions.redemption_view(uow, row, ctx.now)
            for row in rows
            if sees_brand(ctx.caller, row.brand_id)  # a brand key: its brand's only
        ]

    return ctx.read(query)


@router.post(
    "/{customer_id}/tier",
    response_model=MemberView,
    summary="Assign a tier by hand, with a reason and an end date",
)
def assign_tier(customer_id: CustomerId, spec: TierAssignIn, ctx: Ctx) -> JSONResponse:
    def step(uow: UnitOfWork, prog: Program) -> MemberView:
        member = members.require_member(uow, prog, customer_id)
        tiers.assign(uow, prog, member.id, spec, ctx.now)
        return members.member_view(uow, prog, customer_id, ctx.now)

    return ctx.write(step, body=spec, status=200, scope=Scope.ADMIN)
