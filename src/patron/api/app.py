"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine

from patron import __version__
from patron.api import problems
from patron.api.body_limit import BodyLimit
from patron.api.cache import TtlCache
from patron.api.routers import (
    admin,
    campaigns,
    charities,
    coalition,
    grants,
    health,
    members,
    memberships,
    orders,
    referrals,
    rewards,
    rules,
    segments,
    store_credit,
)
from patron.config import get_settings
from patron.db.engine import make_engine
from patron.domain.program import Program
from patron.services.context import Caller

DESCRIPTION = """
Patron's loyalty API. Authenticate with `Authorization: Bearer <API key>`.

* Money is `{amount, currency}` in minor units (1999 USD = $19.99); points are integers.
* Every POST accepts an `Idempotency-Key`: a retry returns the first response (header
  `Idempotent-Replayed: true`); the same key with a different body is a 409.
* Errors are `application/problem+json` with a stable `code` and the `field` at fault.
* Lists use cursor pagination: pass `next_cursor` back as `cursor`.
* Pick a program with the `Patron-Program` header (the tenant's default otherwise).
"""


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(engine: Engine | None = None, clock: Callable[[], datetime] = utc_now) -> FastAPI:
    """Build the app. Tests pass their own engine and clock; `patron serve` uses settings."""
    settings = get_settings()
    app = FastAPI(title="Patron", version=__version__, description=DESCRIPTION)
    app.state.engine = engine or make_engine(settings.database_url, pool_size=settings.pool_size)
    app.state.clock = clock
    app.state.key_cache = TtlCache[str, Caller](settings.cache_ttl_seconds)
    app.state.program_cache = TtlCache[tuple[int, str | None], Program](settings.cache_ttl_seconds)
    problems.install(app)
    for module in (
        health,
        members,
        orders,
        rewards,
        rules,
        store_credit,
        grants,
        referrals,
        campaigns,
        charities,
        coalition,
        admin,
        segments,
        memberships,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
