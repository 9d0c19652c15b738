"""The request context every route gets: who calls, when, for which program, and the two
ways to touch the database — `read` (a read-only transaction) and `write` (one idempotent
transaction through `run_write`, replaying the stored first response when a request or an
event is repeated).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from patron.api.cache import TtlCache
from patron.api.deps import CallerDep, IdempotencyKeyDep, NowDep, ProgramDep
from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.services.context import Caller, Scope
from patron.services.orders import Replayed
from patron.services.programs import resolve_program
from patron.services.write_path import WriteResult, request_fingerprint, run_write

T = TypeVar("T")
REPLAYED_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True, slots=True)
class ApiContext:
    request: Request
    caller: Caller
    now: datetime
    idempotency_key: str | None
    program_code: str | None

    def read(self, query: Callable[[UnitOfWork, Program], T]) -> T:
        """Run `query` in a read transaction for the caller's program (READ scope)."""
        self.caller.require(Scope.READ)
        with UnitOfWork(self.request.app.state.engine, write=False) as uow:
            return query(uow, self._program(uow))

    def write(
        self,
        step: Callable[[UnitOfWork, Program], BaseModel],
        *,
        body: BaseModel | None,
        status: int = 201,
        scope: Scope = Scope.WRITE,
    ) -> JSONResponse:
        """Run `step` as one idempotent write for the caller's program; render as JSON."""
        self.caller.require(scope)

        def run(uow: UnitOfWork) -> WriteResult:
            return WriteResult(status, step(uow, self._program(uow)).model_dump(mode="json"))

        fingerprint = request_fingerprint(
            self.request.method,
            self.request.url.path,
            [self.program_code, body.model_dump(mode="json") if body is not None else None],
        )
        try:
            result = run_write(
                self.request.app.state.engine,
                run,
                tenant_id=self.caller.tenant_id,
                now=self.now,
                idempotency_key=self.idempotency_key,
                fingerprint=fingerprint,
            )
        except Replayed as replay:
            return _respond(200, replay.result, replayed=True)
        return _respond(result.status, result.body, replayed=result.replayed)

    def _program(self, uow: UnitOfWork) -> Program:
        """The program this request addresses; cached briefly per process (programs are
        not edited yet; when they are, edits must clear `program_cache`)."""
        cache: TtlCache[tuple[int, str | None], Program] = self.request.app.state.program_cache
        key = (self.caller.tenant_id, self.program_code)
        program = cache.get(key)
        if program is None:
            program = resolve_program(uow, self.caller.tenant_id, self.program_code)
            cache.put(key, program)
        return program


def _respond(status: int, body: Any, *, replayed: bool) -> JSONResponse:
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return JSONResponse(body, status_code=status, headers=headers)


async def api_context(
    request: Request,
    caller: CallerDep,
    now: NowDep,
    key: IdempotencyKeyDep,
    program: ProgramDep,
) -> ApiContext:
    return ApiContext(request, caller, now, key, program)


Ctx = Annotated[ApiContext, Depends(api_context)]
