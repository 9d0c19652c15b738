"""The bench database: its URLs, creating and dropping it, the tenant set-up, small queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, create_engine, func, insert, literal, select, text
from sqlalchemy.engine import make_url

from ingestlib.settings import CURRENCY, TENANT
from ingestlib.workload import customer_id

#: Members are inserted this many rows per statement.
MEMBER_CHUNK = 5000
#: The columns of a new member's balance: member, asset, tenant, then amounts (all zero).
BALANCE_COLUMNS = [
    "member_id",
    "asset",
    "tenant_id",
    "available",
    "pending",
    "debt",
    "lifetime_earned",
]


class Tenant(TypedDict):
    """The tenant, its program, default brand and admin key (with its token)."""

    token: str
    tenant_id: int
    program_id: int
    brand_id: int
    api_key_id: int


class Setup(Tenant):
    """What the set-up created, as the load generator and the baselines need it: the
    tenant and the range of the members' ids (consecutive)."""

    first_member_id: int
    last_member_id: int


def database_urls(base_url: str, name: str) -> tuple[str, str]:
    """(URL of the maintenance database we connect to, URL of the bench database `name`).

    Exits if `base_url` is not PostgreSQL."""
    url = make_url(base_url)
    if not url.drivername.startswith("postgresql"):
        raise SystemExit("the benchmark needs PostgreSQL (PATRON_DATABASE_URL)")
    admin = url.render_as_string(hide_password=False)
    bench = url.set(database=name).render_as_string(hide_password=False)
    return admin, bench


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL for psycopg / pgbench (no `+psycopg`)."""
    return make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(False)


def public_url(sqlalchemy_url: str) -> str:
    """The URL with its password hidden, for the report."""
    return make_url(sqlalchemy_url).render_as_string(hide_password=True)


@contextmanager
def connected(url: str, **engine_options: Any) -> Iterator[Connection]:
    """A connection to `url` on an engine of its own, disposed of afterwards."""
    engine = create_engine(url, **engine_options)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def create_database(admin_url: str, name: str) -> None:
    """(Re)create the empty database `name`, dropping any earlier one first."""
    with connected(admin_url, isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')


def drop_database(admin_url: str, name: str) -> None:
    """Drop the database `name` if it exists, disconnecting whoever uses it."""
    with connected(admin_url, isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_version(url: str) -> str:
    """PostgreSQL's `server_version`."""
    with connected(url) as connection:
        return str(connection.execute(text("SHOW server_version")).scalar())


def count_events(bench_url: str, source: str) -> int:
    """The number of `events` rows from `source` in the bench database."""
    query = text("SELECT count(*) FROM events WHERE source = :source")
    with connected(bench_url) as connection:
        return int(connection.execute(query, {"source": source}).scalar() or 0)


def setup_tenant(bench_url: str, members: int) -> Setup:
    """Migrate the bench database; create the tenant, its program (USD, points available at
    once) and an admin key through Patron's services; bulk-insert `members` members with
    their zero balances (the rows `enroll` writes, minus the outbox rows); ANALYZE."""
    from patron.db.engine import make_engine
    from patron.db.migrate import upgrade

    upgrade(bench_url)
    engine = make_engine(bench_url)
    now = datetime.now(UTC)
    try:
        tenant = _create_tenant(engine, now)
        with engine.begin() as connection:
            first, last = _insert_members(connection, tenant, members, now)
            connection.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return Setup(**tenant, first_member_id=first, last_member_id=last)


def _create_tenant(engine: Any, now: datetime) -> Tenant:
    """Tenant, program and admin key in one unit of work: their ids and the key's token."""
    from patron.db.uow import UnitOfWork
    from patron.schemas.programs import ProgramIn
    from patron.services.context import Scope
    from patron.services.programs import create_program
    from patron.services.tenants import create_key, create_tenant

    with UnitOfWork(engine) as uow:
        tenant_id = create_tenant(uow, TENANT, now)
        spec = ProgramIn(code="default", name="bench", currency=CURRENCY, pending_days=0)
        program = create_program(uow, tenant_id, spec, now)
        key = create_key(uow, tenant_id, scopes=frozenset(Scope), name="admin", now=now)
        brand = uow.tenants.default_brand(tenant_id)
        api_key = uow.keys.find(key.key_id)
        uow.commit()
    assert brand is not None and api_key is not None
    return Tenant(
        token=key.token,
        tenant_id=tenant_id,
        program_id=program.id,
        brand_id=int(brand.id),
        api_key_id=int(api_key.id),
    )


def _insert_members(
    connection: Connection, tenant: Tenant, members: int, now: datetime
) -> tuple[int, int]:
    """Insert `members` active members and a zero points balance each; (first, last) id."""
    from patron.db.tables import member_balances
    from patron.db.tables import members as members_table

    rows = [_member_row(tenant, i, now) for i in range(members)]
    for start in range(0, members, MEMBER_CHUNK):
        connection.execute(insert(members_table), rows[start : start + MEMBER_CHUNK])
    zeros = [literal(0) for _ in BALANCE_COLUMNS[3:]]
    balances = select(members_table.c.id, literal("points"), members_table.c.tenant_id, *zeros)
    balances = balances.where(members_table.c.program_id == tenant["program_id"])
    connection.execute(insert(member_balances).from_select(BALANCE_COLUMNS, balances))
    first, last = connection.execute(
        select(func.min(members_table.c.id), func.max(members_table.c.id))
    ).one()
    return int(first), int(last)


def _member_row(tenant: Tenant, index: int, now: datetime) -> dict[str, Any]:
    """The `members` row of pre-enrolled member number `index`."""
    return {
        "tenant_id": tenant["tenant_id"],
        "program_id": tenant["program_id"],
        "external_id": customer_id(index),
        "tags": [],
        "marketing_consent": False,
        "status": "active",
        "enrolled_at": now,
        "updated_at": now,
    }
