"""Segments: saved filters over a program's members, evaluated in SQL.

The filter (criteria, validation, RFM arithmetic) is `domain.segments`; the SQL that
evaluates it is `db.repositories.segments.member_query`. Other features use three
functions here:

* `member_ids(uow, program, code_or_filter, at)`: a SELECT of member ids, to use as a
  subquery (campaigns target a segment with it);
* `require_segment(uow, program, code)`: the saved segment, or 404 (422 naming `field`);
* `segments_of(uow, program, member_ids, codes, at)`: which of the named segments each
  member is in (earning rules, reward eligibility), in two queries.

RFM criteria read the scores the daily `rfm` job (`refresh_rfm`) stores: ranking every
member of the program at each write would read all its orders.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select

from patron.db.repositories.segments import SegmentRepository, member_query
from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from patron.domain.program import Program
from patron.domain.segments import SegmentFilter
from patron.schemas.segments import (
    NewSegmentIn,
    PreviewIn,
    PreviewView,
    SegmentCount,
    SegmentFilterIn,
    SegmentIn,
    SegmentMemberView,
    SegmentView,
)


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    code: str
    name: str
    description: str | None
    filter: SegmentFilterIn
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> SegmentFilter:
        return self.filter.to_domain()


def require_segment(
    uow: UnitOfWork, program: Program, code: str, *, field: str | None = None
) -> Segment:
    """The program's segment `code`. Unknown: 404 (field `segment_code`), or, when `field`
    is given (a request body naming the segment), 422 `invalid-input` naming `field`."""
    row = SegmentRepository(uow.connection).get(program.id, code)
    if row is None:
        if field is not None:
            raise InvalidInput(f"no segment {code!r} in the program", field=field)
        raise NotFound(f"no segment {code!r}", field="segment_code")
    return _segment(row)


def check_codes(uow: UnitOfWork, program: Program, codes: Sequence[str], field: str) -> None:
    """422 naming `field.N` for the first of `codes` that is not a segment of the program
    (one query; none when `codes` is empty)."""
    if codes:
        rows = SegmentRepository(uow.connection).by_codes(program.id, codes)
        _known(codes, {row.code for row in rows}, field, "segment")


def member_ids(
    uow: UnitOfWork,
    program: Program,
    code_or_filter: str | SegmentFilter | SegmentFilterIn,
    at: datetime,
) -> Select[Any]:
    """A SELECT of one column, `member_id`: the program's members in the segment (a saved
    segment's code, 404 if unknown; or a filter) at the instant `at`. Use it as a subquery
    (`members.c.id.in_(...)`); it runs nothing until the caller executes it. Order
    criteria count orders that occurred by `at`; "last N days" are counted back from `at`."""
    if isinstance(code_or_filter, str):
        spec = require_segment(uow, program, code_or_filter).spec
    elif isinstance(code_or_filter, SegmentFilterIn):
        spec = code_or_filter.to_domain()
    else:
        spec = code_or_filter
    return member_query(program, spec, at, uow.dialect)


def segments_of(
    uow: UnitOfWork,
    program: Program,
    member_ids: list[int],
    codes: Collection[str],
    at: datetime,
) -> dict[int, set[str]]:
    """Which of the segments `codes` each of `member_ids` is in at `at` (members in none
    are left out). Two queries whatever the number of members or segments (the segments,
    then one UNION ALL of their filters restricted to `member_ids`); no query at all when
    `codes` or `member_ids` is empty. Unknown codes match nobody."""
    if not codes or not member_ids:
        return {}
    repo = SegmentRepository(uow.connection)
    rows = repo.by_codes(program.id, list(codes))
    ids = sorted(set(member_ids))
    tagged = [
        (row.code, member_query(program, _segment(row).spec, at, uow.dialect, only=ids))
        for row in rows
    ]
    found: dict[int, set[str]] = {}
    for code, member_id in repo.membership(tagged):
        found.setdefault(member_id, set()).add(code)
    return found


def refresh_rfm(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """The daily `rfm` job: score every member of the program as of `at` (replacing the
    previous scores) for the `rfm` criteria of segments; nothing for a program none of
    whose saved segments has such criteria."""
    repo = SegmentRepository(uow.connection)
    if not any(_uses_rfm(_segment(row).spec) for row in repo.all(program.id)):
        return {"scored": 0}
    return {"scored": repo.refresh_rfm(program, at)}


def _uses_rfm(spec: SegmentFilter) -> bool:
    return spec.rfm is not None and spec.rfm.is_set


def create(uow: UnitOfWork, program: Program, spec: NewSegmentIn, now: datetime) -> SegmentView:
    """Save a new segment (409 if the code is taken; 422 naming the filter's bad field)."""
    repo = SegmentRepository(uow.connection)
    _check(uow, program, spec.filter)
    if repo.get(program.id, spec.code) is not None:
        raise Conflict(f"segment {spec.code!r} exists", field="code")
    repo.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        code=spec.code,
        name=spec.name,
        description=spec.description,
        filter=_stored(spec.filter),
        created_at=now,
        updated_at=now,
    )
    return _written(spec.code, spec, now, now)


def replace(
    uow: UnitOfWork, program: Program, code: str, spec: SegmentIn, now: datetime
) -> SegmentView:
    """Replace a segment's name, description and filter."""
    segment = require_segment(uow, program, code)
    _check(uow, program, spec.filter)
    SegmentRepository(uow.connection).replace(
        segment.id,
        name=spec.name,
        description=spec.description,
        filter=_stored(spec.filter),
        updated_at=now,
    )
    return _written(code, spec, segment.created_at, now)


def view(uow: UnitOfWork, program: Program, code: str) -> SegmentView:
    return _view(require_segment(uow, program, code))


def list_segments(uow: UnitOfWork, program: Program) -> list[SegmentView]:
    return [_view(_segment(row)) for row in SegmentRepository(uow.connection).all(program.id)]


def count(uow: UnitOfWork, program: Program, code: str, at: datetime) -> SegmentCount:
    query = member_ids(uow, program, code, at)
    return SegmentCount(code=code, count=SegmentRepository(uow.connection).count(query), at=at)


def members_page(
    uow: UnitOfWork,
    program: Program,
    code_or_filter: str | SegmentFilterIn,
    at: datetime,
    *,
    after_id: int | None,
    limit: int,
) -> tuple[list[SegmentMemberView], int | None]:
    """Up to `limit` members of the segment in id order after `after_id`, and the id to
    continue after (None at the end)."""
    query = member_ids(uow, program, code_or_filter, at)
    rows = SegmentRepository(uow.connection).members_page(query, after_id=after_id, limit=limit + 1)
    views = [
        SegmentMemberView(
            customer_id=row.external_id,
            email=row.email,
            first_name=row.first_name,
            last_name=row.last_name,
            status=row.status,
            tier=row.tier,
            enrolled_at=row.enrolled_at,
        )
        for row in rows[:limit]
    ]
    return views, rows[limit - 1].id if len(rows) > limit else None


def preview(uow: UnitOfWork, program: Program, spec: PreviewIn, at: datetime) -> PreviewView:
    """The count and first page of an unsaved filter (validated as a saved one would be)."""
    _check(uow, program, spec.filter)
    query = member_ids(uow, program, spec.filter, at)
    data, _ = members_page(uow, program, spec.filter, at, after_id=None, limit=spec.limit)
    return PreviewView(count=SegmentRepository(uow.connection).count(query), at=at, data=data)


def _check(uow: UnitOfWork, program: Program, spec: SegmentFilterIn) -> None:
    """422 naming the field (`filter.…`) of anything the filter cannot mean: the domain's
    checks, then brands of the tenant and plans of the program that do not exist."""
    tiers = (
        frozenset(level.code for level in program.tiers.levels) if program.tiers else frozenset()
    )
    try:
        spec.to_domain().check(tiers)
    except DomainError as error:
        raise InvalidInput(error.detail, field=f"filter.{error.field}") from error
    repo = SegmentRepository(uow.connection)
    _known(
        spec.brands,
        repo.known_brands(program.tenant_id, spec.brands) if spec.brands else set(),
        "filter.brands",
        "brand",
    )
    plans = spec.membership.plans if spec.membership else []
    _known(
        plans,
        repo.known_plans(program.id, plans) if plans else set(),
        "filter.membership.plans",
        "membership plan",
    )


def _known(codes: Sequence[str], known: set[str], field: str, what: str) -> None:
    for index, code in enumerate(codes):
        if code not in known:
            raise InvalidInput(f"no {what} {code!r} in the program", field=f"{field}.{index}")


def _stored(spec: SegmentFilterIn) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True)


def _segment(row: Any) -> Segment:
    return Segment(
        id=row.id,
        code=row.code,
        name=row.name,
        description=row.description,
        filter=SegmentFilterIn.model_validate(row.filter),
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _written(code: str, spec: SegmentIn, created_at: datetime, now: datetime) -> SegmentView:
    """The view of a segment just saved from `spec` (not read back: it is what was written)."""
    return SegmentView(
        code=code,
        name=spec.name,
        description=spec.description,
        filter=spec.filter,
        created_at=created_at,
        updated_at=now,
    )


def _view(segment: Segment) -> SegmentView:
    return SegmentView(
        code=segment.code,
        name=segment.name,
        description=segment.description,
        filter=segment.filter,
        created_at=segment.created_at,
        updated_at=segment.updated_at,
    )
