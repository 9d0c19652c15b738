"""Test fixtures: every test that uses `engine` runs twice, on SQLite and on a real
PostgreSQL (a fresh database per session, migrated with Alembic, emptied between tests).

PostgreSQL comes from PATRON_TEST_POSTGRES_URL (default: the local server, user postgres).
If it cannot be reached the PostgreSQL runs are skipped, except under CI=true, where they
fail: CI must prove the ledger on the database production uses.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from patron.api.app import create_app
from patron.db.engine import make_engine
from patron.db.migrate import upgrade
from patron.db.tables import metadata
from patron.db.uow import UnitOfWork
from patron.schemas.programs import ProgramIn
from patron.services.context import Scope
from patron.services.programs import create_program
from patron.services.tenants import create_key, create_tenant

POSTGRES_SERVER = os.environ.get(
    "PATRON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _postgres_database() -> Iterator[str]:
    name = f"patron_test_{uuid.uuid4().hex[:10]}"
    server = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
    except OperationalError as error:
        server.dispose()
        message = f"PostgreSQL not reachable at {POSTGRES_SERVER}: {error.orig}"
        if IN_CI:
            pytest.fail(message + " (CI=true: PostgreSQL tests must run)")
        pytest.skip(message)
    url = POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        server.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of each kind, for the whole session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'patron.db'}"
        upgrade(url)
        yield url
        return
    for url in _postgres_database():
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def session_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url, pool_size=20)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    """Delete every row and restart ids at 1 (SQLite reuses rowids of an empty table by
    itself). On PostgreSQL this is ~10x faster than TRUNCATE for the few rows a test writes."""
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            connection.execute(table.delete())
        if engine.dialect.name != "postgresql":
            return
        for table in metadata.sorted_tables:
            if "id" in table.c and table.c.id.autoincrement is True:
                sequence = f"pg_get_serial_sequence('{table.name}', 'id')"
                connection.execute(text(f"SELECT setval({sequence}, 1, false)"))


@pytest.fixture
def engine(session_engine: Engine) -> Iterator[Engine]:
    """The session's database, emptied before each test."""
    _empty(session_engine)
    yield session_engine


@pytest.fixture
def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


@pytest.fixture
def pg(engine: Engine) -> Engine:
    """The engine of a `postgres_only` test (which only ever runs on PostgreSQL)."""
    assert engine.dialect.name == "postgresql", "mark the test postgres_only"
    return engine


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`postgres_only` tests need PostgreSQL's row locks: their SQLite runs are not
    collected at all (deselected, not skipped, so a skip in CI always means trouble)."""
    kept, dropped = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_sqlite = callspec is not None and callspec.params.get("database_url") == "sqlite"
        (dropped if on_sqlite and item.get_closest_marker("postgres_only") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@dataclass
class Clock:
    """A controllable clock: tests move time with `advance`."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(engine: Engine, clock: Clock) -> Any:
    return create_app(engine=engine, clock=clock)


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class Tenant:
    """A tenant with a program (USD, 1 point per 1.00) and an admin key."""

    id: int
    key: str
    program_code: str = "main"
    headers: dict[str, str] = field(default_factory=dict)


def make_tenant(engine: Engine, name: str, now: datetime = START, **program: Any) -> Tenant:
    spec = ProgramIn(code="main", name=f"{name} rewards", currency="USD", **program)
    with UnitOfWork(engine) as uow:
        tenant_id = create_tenant(uow, name, now)
        create_program(uow, tenant_id, spec, now)
        key = create_key(uow, tenant_id, scopes=frozenset(Scope), name="admin", now=now)
        uow.commit()
    return Tenant(tenant_id, key.token, headers={"Authorization": f"Bearer {key.token}"})


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, "acme")


def count_rows(engine: Engine) -> dict[str, int]:
    """Rows per table: compare before and after a failing request to prove it wrote nothing."""
    with engine.connect() as connection:
        return {
            table.name: int(
                connection.execute(text(f"SELECT COUNT(*) FROM {table.name}")).scalar_one()
            )
            for table in metadata.sorted_tables
        }


@pytest.fixture
def shared_payloads() -> Path | None:
    """`../shared/payloads` when the checkout sits beside it (CI), else None."""
    path = Path(__file__).resolve().parents[2] / "shared" / "payloads"
    return path if path.is_dir() else None
