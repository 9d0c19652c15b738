"""Earning rules (versioned), custom event types, and action events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.schemas.events import ActionEventIn, ActionResult
from patron.schemas.rules import EventTypeIn, EventTypeView, NewRuleIn, RuleIn, RuleView
from patron.services import actions, rules
from patron.services.context import Scope

router = APIRouter(prefix="/v1", tags=["rules"])

RuleCode = Annotated[str, Path(min_length=1, max_length=64)]


@router.post("/rules", status_code=201, response_model=RuleView, summary="Create an earning rule")
def create_rule(spec: NewRuleIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: rules.create_rule(uow, ctx.caller, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/rules", response_model=list[RuleView], summary="Earning rules, with versions")
def list_rules(ctx: Ctx) -> list[RuleView]:
    return ctx.read(lambda uow, prog: rules.list_rules(uow, prog, ctx.now))


@router.get("/rules/{code}", response_model=RuleView, summary="One earning rule")
def get_rule(code: RuleCode, ctx: Ctx) -> RuleView:
    return ctx.read(lambda uow, prog: rules.rule_view(uow, prog, code, ctx.now))


@router.put(
    "/rules/{code}", response_model=RuleView, summary="Save the next version of an earning rule"
)
def revise_rule(code: RuleCode, spec: RuleIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: rules.revise_rule(uow, ctx.caller, prog, code, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.post(
    "/event-types",
    status_code=201,
    response_model=EventTypeView,
    summary="Define a custom event type",
)
def create_event_type(spec: EventTypeIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: actions.create_event_type(uow, ctx.caller, prog, spec, ctx.now),
        body=spec,
        scope=Scope.ADMIN,
    )


@router.get("/event-types", response_model=list[EventTypeView], summary="Custom event types")
def list_event_types(ctx: Ctx) -> list[EventTypeView]:
    return ctx.read(lambda uow, prog: actions.list_event_types(uow, prog))


@router.post(
    "/events",
    status_code=201,
    response_model=ActionResult,
    summary="Record a member's action (signup, review, follow, custom...)",
)
def record_event(event: ActionEventIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: actions.record_action(uow, ctx.caller, prog, event, ctx.now),
        body=event,
    )
