"""Referrals: the program's policy, review of held referrals, lists, statistics, and a
member's code, link and invites."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.common import Page
from patron.schemas.referrals import (
    DecisionIn,
    InviteIn,
    MemberReferralView,
    ReferralPolicyIn,
    ReferralPolicyView,
    ReferralStatsView,
    ReferralView,
    Status,
)
from patron.services import members, referrals
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["referrals"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]
ReferralId = Annotated[str, Path(min_length=1, max_length=32)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.put(
    "/program/referral-policy",
    response_model=ReferralPolicyView,
    summary="Set the program's referral policy (admin)",
)
def set_policy(spec: ReferralPolicyIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: referrals.set_policy(uow, prog, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get(
    "/program/referral-policy",
    response_model=ReferralPolicyView,
    summary="The program's referral policy",
)
def get_policy(ctx: Ctx) -> ReferralPolicyView:
    return ctx.read(referrals.policy_view)


@router.get("/referrals", response_model=Page[ReferralView], summary="List referrals")
def list_referrals(
    ctx: Ctx, status: Status | None = None, cursor: str | None = None, limit: Limit = 50
) -> Page[ReferralView]:
    after = decode_cursor("ref", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[ReferralView]:
        rows = referrals.page(uow, prog, status=status, after_id=after, limit=limit + 1)
        next_cursor = encode_cursor("ref", rows[limit - 1].id) if len(rows) > limit else None
        return Page[ReferralView](
            data=[referrals.as_view(row) for row in rows[:limit]], next_cursor=next_cursor
        )

    return ctx.read(query)


@router.get(
    "/referrals/stats", response_model=ReferralStatsView, summary="The program's statistics"
)
def program_stats(ctx: Ctx) -> ReferralStatsView:
    return ctx.read(lambda uow, prog: referrals.stats(uow, prog))


@router.get(
    "/referrals/{referral_id}",
    response_model=ReferralView,
    summary="A referral, its checks and decisions",
)
def get_referral(referral_id: ReferralId, ctx: Ctx) -> ReferralView:
    return ctx.read(lambda uow, prog: referrals.referral_view(uow, prog, referral_id))


@router.post(
    "/referrals/{referral_id}/approve",
    response_model=ReferralView,
    summary="Approve a held referral (admin)",
)
def approve(referral_id: ReferralId, spec: DecisionIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: referrals.approve(uow, prog, referral_id, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.post(
    "/referrals/{referral_id}/reject",
    response_model=ReferralView,
    summary="Reject a referral (admin)",
)
def reject(referral_id: ReferralId, spec: DecisionIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: referrals.reject(uow, prog, referral_id, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get(
    "/members/{customer_id}/referral",
    response_model=MemberReferralView,
    summary="A member's referral code, link and statistics",
)
def member_referral(customer_id: CustomerId, ctx: Ctx) -> MemberReferralView:
    def query(uow: UnitOfWork, prog: Program) -> MemberReferralView:
        member = members.require_member(uow, prog, customer_id)
        return referrals.member_referral(uow, prog, member)

    return ctx.read(query)


@router.post(
    "/members/{customer_id}/referral/invites",
    status_code=201,
    response_model=MemberReferralView,
    summary="Record a share of the member's code (counts as invited)",
)
def invite(customer_id: CustomerId, spec: InviteIn, ctx: Ctx) -> JSONResponse:
    def step(uow: UnitOfWork, prog: Program) -> MemberReferralView:
        member = members.require_member(uow, prog, customer_id)
        return referrals.invite(uow, prog, member, spec, ctx.now)

    return ctx.write(step, body=spec)
