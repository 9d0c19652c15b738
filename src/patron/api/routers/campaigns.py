"""Campaigns: birthday, anniversary, welcome, bonus, win-back and appreciation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.campaigns import (
    CampaignIn,
    CampaignReport,
    CampaignView,
    NewCampaignIn,
    RunResult,
)
from patron.schemas.common import Page
from patron.services import campaign_report, campaigns
from patron.services.context import Scope

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])

CampaignCode = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]
Days = Annotated[int, Query(ge=1, le=3650, description="revenue window after each grant")]


@router.post("", status_code=201, response_model=CampaignView, summary="Create a campaign")
def create_campaign(spec: NewCampaignIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: campaigns.create_campaign(uow, ctx.caller, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("", response_model=Page[CampaignView], summary="Campaigns (cursor pagination)")
def list_campaigns(ctx: Ctx, cursor: str | None = None, limit: Limit = 50) -> Page[CampaignView]:
    after = decode_cursor("cmp", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[CampaignView]:
        views, last = campaigns.list_campaigns(uow, prog, after_id=after, limit=limit)
        next_cursor = encode_cursor("cmp", last) if last is not None else None
        return Page[CampaignView](data=views, next_cursor=next_cursor)

    return ctx.read(query)


@router.get("/{campaign_code}", response_model=CampaignView, summary="One campaign")
def get_campaign(campaign_code: CampaignCode, ctx: Ctx) -> CampaignView:
    return ctx.read(lambda uow, prog: campaigns.campaign_view(uow, prog, campaign_code))


@router.put("/{campaign_code}", response_model=CampaignView, summary="Change a campaign")
def revise_campaign(campaign_code: CampaignCode, spec: CampaignIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: campaigns.revise_campaign(
            uow, ctx.caller, prog, campaign_code, spec, ctx.now
        ),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.post(
    "/{campaign_code}/run",
    response_model=RunResult,
    summary="Grant what a scheduled campaign has due now (as its daily job would)",
)
def run_campaign(campaign_code: CampaignCode, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: campaigns.run_campaign(uow, prog, campaign_code, ctx.now),
        body=None,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get(
    "/{campaign_code}/report",
    response_model=CampaignReport,
    summary="Members targeted, rewards issued and redeemed, revenue in the days after",
)
def get_report(campaign_code: CampaignCode, ctx: Ctx, days: Days = 30) -> CampaignReport:
    return ctx.read(
        lambda uow, prog: campaign_report.report(uow, prog, campaign_code, days, ctx.now)
    )
