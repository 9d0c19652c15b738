"""Granting a catalogue reward to a member for 0 points (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.grants import GrantIn
from patron.schemas.rewards import RedemptionView
from patron.services import grants, members
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["rewards"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]


@router.post(
    "/members/{customer_id}/grants",
    status_code=201,
    response_model=RedemptionView,
    summary="Give a member a reward without points",
)
def grant(customer_id: CustomerId, spec: GrantIn, ctx: Ctx) -> JSONResponse:
    def step(uow: UnitOfWork, prog: Program) -> RedemptionView:
        member = members.require_member(uow, prog, customer_id)
        source = {"api_key": ctx.caller.api_key_id}
        _, view = grants.grant_reward(
            uow, prog, member.id, spec.reward, ctx.now, reason=spec.reason, source=source
        )
        return view

    return ctx.write(step, body=spec, scope=Scope.ADMIN)
