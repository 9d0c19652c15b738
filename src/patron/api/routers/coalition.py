"""Coalition programs: brands join and leave, exchange rates per period, and the
settlement statement between brands."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from patron.api.context import Ctx
from patron.db.uow import UnitOfWork
from patron.domain.calendar import Period, period_key
from patron.domain.program import Program
from patron.schemas.brands import BrandView
from patron.schemas.coalition import BrandUpdate, PeriodKey, RatesIn, RatesView, StatementView
from patron.services import coalition
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["coalition"])

CSV = "text/csv"
PeriodPath = Annotated[str, Path(min_length=4, max_length=7, examples=["2026-Q1"])]


@router.patch(
    "/brands/{brand_code}",
    response_model=BrandView,
    summary="Change a brand: name, own currency, leave or re-join the coalition",
)
def change_brand(
    brand_code: Annotated[str, Path(min_length=1, max_length=64)], spec: BrandUpdate, ctx: Ctx
) -> JSONResponse:
    response = ctx.write(
        lambda uow, _prog: coalition.update_brand(uow, ctx.caller, brand_code, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )
    ctx.request.app.state.key_cache.clear()  # keys carry which brands left: refresh them
    return response


@router.put(
    "/coalition/rates/{period}",
    response_model=RatesView,
    summary="Fix the exchange rates of a period (replaces the period's set)",
)
def put_rates(period: PeriodPath, rates: RatesIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: coalition.put_rates(uow, prog, period, rates, ctx.now),
        body=rates,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get(
    "/coalition/rates/{period}", response_model=RatesView, summary="The exchange rates of a period"
)
def get_rates(period: PeriodPath, ctx: Ctx) -> RatesView:
    return ctx.read(lambda uow, prog: coalition.get_rates(uow, prog, period))


@router.get(
    "/coalition/settlements",
    response_model=StatementView,
    summary="The settlement statement of a period between the coalition's brands (JSON or CSV)",
    responses={200: {"content": {CSV: {"schema": {"type": "string"}}}}},
)
def settlement(
    ctx: Ctx,
    period: Annotated[
        PeriodKey | None, Query(description="2026-Q1, 2026-01 or 2026; default: this quarter")
    ] = None,
    output: Annotated[Literal["json", "csv"] | None, Query(alias="format")] = None,
) -> StatementView | Response:
    ctx.caller.require(Scope.ADMIN)  # every brand's figures: the coalition operator's

    def query(uow: UnitOfWork, prog: Program) -> StatementView | Response:
        key = period or period_key(ctx.now, Period.QUARTER, prog.zone)
        view = coalition.settlement_statement(uow, prog, key)
        if output != "csv":
            return view
        filename = f"coalition-settlement-{prog.code}-{key}.csv"
        return Response(
            coalition.statement_csv(view),
            media_type=f"{CSV}; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return ctx.read(query)
