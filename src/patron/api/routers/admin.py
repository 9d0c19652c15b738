"""Programs, brands and API keys of the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.schemas.brands import BrandIn, BrandView
from patron.schemas.keys import KeyIn, KeyView, NewKeyView
from patron.schemas.programs import (
    ProgramIn,
    ProgramUpdate,
    ProgramView,
    TemplateIn,
    TemplateView,
)
from patron.services import keys, templates
from patron.services.brands import create_brand, list_brands
from patron.services.context import Scope
from patron.services.programs import create_program, program_view, update_program

router = APIRouter(prefix="/v1", tags=["admin"])


@router.get("/program", response_model=ProgramView, summary="The program this request addresses")
def current_program(ctx: Ctx) -> ProgramView:
    return ctx.read(lambda _uow, prog: program_view(prog))


@router.patch("/program", response_model=ProgramView, summary="Change the program's settings")
def change_program(changes: ProgramUpdate, ctx: Ctx) -> JSONResponse:
    response = ctx.write(
        lambda uow, prog: program_view(update_program(uow, prog, changes)),
        body=changes,
        status=200,
        scope=Scope.ADMIN,
    )
    ctx.request.app.state.program_cache.clear()
    return response


@router.get("/programs", response_model=list[ProgramView], summary="The tenant's programs")
def list_programs(ctx: Ctx) -> list[ProgramView]:
    return ctx.read(
        lambda uow, _prog: [program_view(p) for p in uow.programs.of_tenant(ctx.caller.tenant_id)]
    )


@router.post("/programs", status_code=201, response_model=ProgramView, summary="Create a program")
def new_program(spec: ProgramIn, ctx: Ctx) -> JSONResponse:
    ctx.caller.require(Scope.ADMIN)
    ctx.request.app.state.program_cache.clear()  # a first program becomes the default
    return ctx.write(
        lambda uow, _prog: program_view(create_program(uow, ctx.caller.tenant_id, spec, ctx.now)),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/program-templates", response_model=list[TemplateView], summary="Program templates")
def program_templates(ctx: Ctx) -> list[TemplateView]:
    ctx.caller.require(Scope.READ)
    return templates.list_templates()


@router.post(
    "/programs/from-template",
    status_code=201,
    response_model=ProgramView,
    summary="Create a ready program from a template",
)
def program_from_template(spec: TemplateIn, ctx: Ctx) -> JSONResponse:
    ctx.caller.require(Scope.ADMIN)
    ctx.request.app.state.program_cache.clear()
    return ctx.write(
        lambda uow, _prog: program_view(
            templates.create_from_template(uow, ctx.caller, spec, ctx.now)
        ),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/keys", response_model=list[KeyView], summary="The tenant's API keys (no secrets)")
def list_keys(ctx: Ctx) -> list[KeyView]:
    ctx.caller.require(Scope.ADMIN)
    return ctx.read(
        lambda uow, _prog: [
            keys.key_view(uow, row) for row in uow.keys.of_tenant(ctx.caller.tenant_id)
        ]
    )


@router.post("/keys", status_code=201, response_model=NewKeyView, summary="Create an API key")
def create_key(spec: KeyIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, _prog: keys.issue(uow, ctx.caller, spec, ctx.now), body=spec, scope=Scope.ADMIN
    )


@router.post("/keys/{key_id}/revoke", response_model=KeyView, summary="Revoke an API key")
def revoke_key(key_id: Annotated[str, Path(min_length=1, max_length=32)], ctx: Ctx) -> JSONResponse:
    response = ctx.write(
        lambda uow, _prog: keys.revoke(uow, ctx.caller, key_id, ctx.now),
        body=None,
        status=200,
        scope=Scope.ADMIN,
    )
    ctx.request.app.state.key_cache.clear()  # refuse the revoked key here at once
    return response


@router.get("/brands", response_model=list[BrandView], summary="The tenant's brands")
def brands(ctx: Ctx) -> list[BrandView]:
    return ctx.read(lambda uow, _prog: list_brands(uow, ctx.caller))


@router.post("/brands", status_code=201, response_model=BrandView, summary="Add a brand")
def new_brand(spec: BrandIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, _prog: create_brand(uow, ctx.caller, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )
