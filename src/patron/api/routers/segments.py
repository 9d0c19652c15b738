"""Segments: saved filters over members; their count and members (cursor pagination)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from patron.api.context import Ctx
from patron.api.deps import decode_cursor, encode_cursor
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.common import Page
from patron.schemas.segments import (
    NewSegmentIn,
    PreviewIn,
    PreviewView,
    SegmentCount,
    SegmentIn,
    SegmentMemberView,
    SegmentView,
)
from patron.services import segments
from patron.services.context import Scope

router = APIRouter(prefix="/v1/segments", tags=["segments"])

SegmentCode = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200)]


@router.post("", status_code=201, response_model=SegmentView, summary="Save a segment")
def create_segment(spec: NewSegmentIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: segments.create(uow, prog, spec, ctx.now), body=spec, scope=Scope.ADMIN
    )


@router.get("", response_model=list[SegmentView], summary="The program's segments")
def list_segments(ctx: Ctx) -> list[SegmentView]:
    return ctx.read(segments.list_segments)


@router.post(
    "/preview",
    response_model=PreviewView,
    summary="Count and first page of an unsaved filter (writes nothing)",
)
def preview(spec: PreviewIn, ctx: Ctx) -> PreviewView:
    return ctx.read(lambda uow, prog: segments.preview(uow, prog, spec, ctx.now))


@router.get("/{segment_code}", response_model=SegmentView, summary="One segment")
def get_segment(segment_code: SegmentCode, ctx: Ctx) -> SegmentView:
    return ctx.read(lambda uow, prog: segments.view(uow, prog, segment_code))


@router.put("/{segment_code}", response_model=SegmentView, summary="Replace a segment's filter")
def replace_segment(segment_code: SegmentCode, spec: SegmentIn, ctx: Ctx) -> JSONResponse:
    return ctx.write(
        lambda uow, prog: segments.replace(uow, prog, segment_code, spec, ctx.now),
        body=spec,
        status=200,
        scope=Scope.ADMIN,
    )


@router.get(
    "/{segment_code}/count", response_model=SegmentCount, summary="How many members are in it now"
)
def count(segment_code: SegmentCode, ctx: Ctx) -> SegmentCount:
    return ctx.read(lambda uow, prog: segments.count(uow, prog, segment_code, ctx.now))


@router.get(
    "/{segment_code}/members",
    response_model=Page[SegmentMemberView],
    summary="The segment's members now, in enrolment order (cursor pagination)",
)
def list_members(
    segment_code: SegmentCode, ctx: Ctx, cursor: str | None = None, limit: Limit = 50
) -> Page[SegmentMemberView]:
    after = decode_cursor("sm", cursor)

    def query(uow: UnitOfWork, prog: Program) -> Page[SegmentMemberView]:
        data, last = segments.members_page(
            uow, prog, segment_code, ctx.now, after_id=after, limit=limit
        )
        next_cursor = encode_cursor("sm", last) if last is not None else None
        return Page[SegmentMemberView](data=data, next_cursor=next_cursor)

    return ctx.read(query)
