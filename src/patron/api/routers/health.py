"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from patron.api.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Health: the process is up and the database answers")
def healthz(engine: EngineDep) -> dict[str, str]:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "database": engine.dialect.name}
