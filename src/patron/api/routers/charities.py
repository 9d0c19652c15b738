"""Charities and donations: the catalogue, donating points, receipts, payout reports."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.calendar import local_date
from patron.domain.donations import report_window
from patron.domain.program import Program
from patron.schemas.charities import (
    CharityIn,
    CharityUpdate,
    CharityView,
    DonationIn,
    DonationSummary,
    DonationView,
    PayoutReport,
)
from patron.schemas.common import Page
from patron.services import charities, donations
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["charities"])

CustomerId = Annotated[
    str,
    Path(min_length=1, max_length=128, pattern=r"^[^\s/?#]+$", description="Store's customer id"),
]
CharityId = Annotated[str, Path(min_length=1, max_length=32)]
DonationId = Annotated[str, Path(min_length=1, max_length=32)]
Limit = Annotated[int, Query(ge=1, le=200)]
CSV = "text/csv"


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


@router.post("/charities", status_code=201, response_model=CharityView, summary="Add a charity")
def create_charity(spec: CharityIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: charities.create_charity(uow, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get(
    "/charities",
    response_model=list[CharityView],
    summary="The charity catalogue (`active=true`: what members may donate to)",
)
def list_charities(ctx: Ctx, active: bool | None = None) -> list[CharityView]:
    return ctx.read(lambda uow, prog: charities.list_charities(uow, prog, active))


@router.get(
    "/charities/payouts",
    response_model=PayoutReport,
    summary="What each charity is owed for a period (default: this month; JSON, or CSV)",
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}},
)
def payouts(
    request: Request,
    ctx: Ctx,
    period: Annotated[str | None, Query(max_length=16, examples=["2026-11"])] = None,
    first: Annotated[date | None, Query(alias="from")] = None,
    last: Annotated[date | None, Query(alias="to")] = None,
    output: Annotated[ReportFormat | None, Query(alias="format")] = None,
) -> PayoutReport | Response:
    wants_csv = output is ReportFormat.CSV or (
        output is None and CSV in request.headers.get("accept", "")
    )

    def query(uow: UnitOfWork, prog: Program) -> PayoutReport | Response:
        window = report_window(period, first, last, local_date(ctx.now, prog.zone))
        if not wants_csv:
            return donations.payout_report(uow, prog, window)
        body = donations.payout_csv(uow, prog, window)
        filename = f"charity-payouts-{prog.code}-{window.label.replace('..', '_')}.csv"
        return Response(
            body,
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return ctx.read(query)


@router.get("/charities/{charity_id}", response_model=CharityView, summary="One charity")
def get_charity(charity_id: CharityId, ctx: Ctx) -> CharityView:
    return ctx.read(
        lambda uow, prog: charities.charity_view(charities.require_charity(uow, prog, charity_id))
    )


@router.put(
    "/charities/{charity_id}",
    response_model=CharityView,
    summary="Replace a charity's details and terms (`active: false` deactivates it)",
)
def update_charity(charity_id: CharityId, spec: CharityUpdate, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: charities.update_charity(uow, prog, charity_id, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.post(
    "/members/{customer_id}/donations",
    status_code=201,
    response_model=DonationView,
    summary="Donate a member's points to a charity",
)
def donate(customer_id: CustomerId, spec: DonationIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: donations.donate(uow, ctx.caller, prog, customer_id, spec, ctx.now),
        body=spec,
    )


@router.get(
    "/members/{customer_id}/donations",
    response_model=Page[DonationView],
    summary="The member's donation receipts, newest first (cursor pagination)",
)
def member_donations(
    customer_id: CustomerId, ctx: Ctx, cursor: str | None = None, limit: Limit = 50
) -> Page[DonationView]:
    before = decode_cursor("d", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[DonationView]:
        found = donations.member_donations(uow, prog, customer_id, before, limit + 1)
        next_cursor = encode_cursor("d", found[limit - 1][0]) if len(found) > limit else None
        return Page[DonationView](data=[view for _, view in found[:limit]], next_cursor=next_cursor)

    return ctx.read(query)


@router.get(
    "/members/{customer_id}/donations/summary",
    response_model=DonationSummary,
    summary="The member's donations in one calendar year, per charity",
)
def member_summary(
    customer_id: CustomerId,
    ctx: Ctx,
    year: Annotated[int | None, Query(ge=2000, le=9998, description="Default: this year")] = None,
) -> DonationSummary:
    def query(uow: UnitOfWork, prog: Program) -> DonationSummary:
        local_year = year if year is not None else local_date(ctx.now, prog.zone).year
        return donations.member_year(uow, prog, customer_id, local_year)

    return ctx.read(query)


@router.get("/donations/{donation_id}", response_model=DonationView, summary="A donation receipt")
def get_donation(donation_id: DonationId, ctx: Ctx) -> DonationView:
    return ctx.read(lambda uow, prog: donations.get_donation(uow, prog, donation_id))
