"""Request dependencies: the engine, the clock, the caller (API key) and its program."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Engine

from patron.api.cache import TtlCache
from patron.api.problems import ApiProblem
from patron.db.uow import UnitOfWork
from patron.services.context import Caller
from patron.services.tenants import Unauthenticated, authenticate

_IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


# Dependencies are `async def` so FastAPI runs them on the event loop: a sync dependency
# costs a thread-pool hop each, and these do no blocking work (the key lookup, which does,
# is sent to the pool explicitly, and only on a cache miss).


async def engine(request: Request) -> Engine:
    return request.app.state.engine  # type: ignore[no-any-return]


async def now(request: Request) -> datetime:
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def caller(
    request: Request,
    authorization: Annotated[str | None, Header(description="Bearer <API key>")] = None,
) -> Caller:
    """The API key's caller; 401 problem if the key is missing, unknown or revoked."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():  # RFC 9110: scheme is case-insensitive
        raise Unauthenticated("send the API key as 'Authorization: Bearer <key>'")
    token = token.strip()
    cache: TtlCache[str, Caller] = request.app.state.key_cache
    cached = cache.get(token)
    if cached is not None:
        return cached
    authenticated = await run_in_threadpool(_authenticate, request.app.state.engine, token)
    cache.put(token, authenticated)
    return authenticated


def _authenticate(engine: Engine, token: str) -> Caller:
    with UnitOfWork(engine, write=False) as uow:
        return authenticate(uow, token)


async def idempotency_key(
    idempotency_key_header: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Makes the POST safe to retry: a replay returns the first response",
        ),
    ] = None,
) -> str | None:
    key = idempotency_key_header
    if key is not None and not _IDEMPOTENCY_KEY.match(key):
        raise ApiProblem(
            400,
            "invalid-idempotency-key",
            "Idempotency-Key must be 1-255 visible ASCII characters",
            field="Idempotency-Key",
        )
    return key


async def program_code(
    patron_program: Annotated[
        str | None,
        Header(alias="Patron-Program", description="Program code; the tenant's default if absent"),
    ] = None,
) -> str | None:
    return patron_program


CallerDep = Annotated[Caller, Depends(caller)]
EngineDep = Annotated[Engine, Depends(engine)]
NowDep = Annotated[datetime, Depends(now)]
IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
ProgramDep = Annotated[str | None, Depends(program_code)]


def encode_cursor(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str | None) -> int | None:
    """The id inside an opaque cursor made by `encode_cursor`; 400 if it is not one."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        prefix, _, value = base64.urlsafe_b64decode(padded).decode().partition(":")
        if prefix == kind and value.isdigit():
            return int(value)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ApiProblem(400, "invalid-cursor", "cursor is not one this list returned", field="cursor")
