"""The `patron` command."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from sqlalchemy import Engine

from patron.config import get_settings
from patron.db.engine import make_engine
from patron.db.migrate import upgrade
from patron.db.uow import UnitOfWork
from patron.domain.errors import DomainError

app = typer.Typer(
    help="Patron, the loyalty and rewards engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
tenants_app = typer.Typer(help="Tenants.", no_args_is_help=True)
keys_app = typer.Typer(help="API keys.", no_args_is_help=True)
brands_app = typer.Typer(help="Brands of a tenant.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(keys_app, name="keys")
app.add_typer(brands_app, name="brands")
jobs_app = typer.Typer(help="Scheduled jobs, run now.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")
programs_app = typer.Typer(help="Programs of a tenant.", no_args_is_help=True)
app.add_typer(programs_app, name="programs")
console = Console()
T = TypeVar("T")
M = TypeVar("M", bound="BaseModel")

if TYPE_CHECKING:
    from pydantic import BaseModel

    from patron.services.context import Caller


def _now() -> datetime:
    return datetime.now(UTC)


def _engine() -> Engine:
    return make_engine(get_settings().database_url)


def _fail(message: str) -> NoReturn:
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(2)


def _as_operator(tenant: str, step: Callable[[UnitOfWork, Caller], T]) -> T:
    """Run `step` for tenant `tenant` as the operator (every scope), in one committed unit
    of work; exit 2 with the message if the tenant is unknown or the step is refused."""
    from patron.services.context import Caller, Scope

    with UnitOfWork(_engine()) as uow:
        row = uow.tenants.get_by_name(tenant)
        if row is None:
            _fail(f"no tenant {tenant!r}")
        caller = Caller(tenant_id=row.id, api_key_id=None, scopes=frozenset(Scope))
        try:
            result = step(uow, caller)
        except DomainError as error:
            _fail(error.detail)
        uow.commit()
    return result


def _parsed(build: Callable[[], M]) -> M:
    """`build()` of a pydantic model; exit 2 with the validation message if it fails."""
    from pydantic import ValidationError

    try:
        return build()
    except ValidationError as error:
        _fail(str(error))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all database migrations."""
    upgrade(get_settings().database_url)
    console.print("database is up to date")


@app.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: Annotated[int, typer.Option(help="Server processes (PostgreSQL only for > 1)")] = 1,
) -> None:
    """Migrate the database, then serve the API with uvicorn."""
    import uvicorn

    settings = get_settings()
    if workers > 1 and settings.database_url.startswith("sqlite"):
        _fail("several workers need PostgreSQL (PATRON_DATABASE_URL); SQLite takes one")
    upgrade(settings.database_url)
    console.print(f"Patron on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(
        "patron.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )


@app.command()
def demo(
    host: str = "127.0.0.1",
    port: int = 8000,
) -> None:
    """Create the demo tenant, program and data (idempotent); print the URL and a key."""
    from patron.services.demo import run_demo

    upgrade(get_settings().database_url)
    info = run_demo(_engine())
    console.print(f"Demo tenant ready. API docs: http://{host}:{port}/docs")
    if info.api_key:
        console.print(f"Demo admin API key (shown once): [bold]{info.api_key}[/bold]")
    else:
        console.print("Demo existed already; its key was shown when it was created.")
        console.print("Make another with: patron keys create --tenant demo")


@app.command()
def verify() -> None:
    """Check the ledger on the live database; exit 1 and name the offending ids if wrong."""
    from patron.services.verify import verify as run_verify

    with _engine().connect() as connection:
        report = run_verify(connection)
    console.print("checked: " + ", ".join(f"{n} {t}" for t, n in report.counts.items()))
    for problem in report.problems:
        console.print(f"[red]FAIL[/red] {problem.check}: ids {problem.ids}")
    if not report.ok:
        raise typer.Exit(1)
    console.print("[green]ledger OK[/green]: every transaction sums to zero; balances match")


def _instant(value: str | None) -> datetime:
    """`--at` as an aware UTC instant (RFC 3339; a bare time means UTC)."""
    if value is None:
        return _now()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        _fail(f"--at {value!r} is not an RFC 3339 timestamp")
        raise
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _print_runs(runs: list[Any]) -> None:
    for run in runs:
        status = "[green]ran[/green]" if run.ran else "skipped (already ran)"
        console.print(f"{run.job} {run.program} {run.period}: {status} {json.dumps(run.result)}")


@programs_app.command("templates")
def programs_templates() -> None:
    """The program templates, with how each works."""
    from patron.services.templates import list_templates

    for template in list_templates():
        console.print(f"[bold]{template.name}[/bold]: {template.description}")


@programs_app.command("create")
def programs_create(
    tenant: Annotated[str, typer.Option()],
    template: Annotated[str, typer.Option(help="See `patron programs templates`")],
    code: Annotated[str, typer.Option()],
    currency: Annotated[str, typer.Option()],
    time_zone: Annotated[str, typer.Option()] = "UTC",
    name: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a ready program from a template: settings, tiers, earning rules, rewards."""
    from patron.schemas.programs import TemplateIn
    from patron.services.templates import create_from_template

    spec = _parsed(
        lambda: TemplateIn(
            template=template, code=code, name=name, currency=currency, time_zone=time_zone
        )
    )
    program = _as_operator(
        tenant, lambda uow, caller: create_from_template(uow, caller, spec, _now())
    )
    console.print(f"created program {program.code!r} from template {template!r}")


@jobs_app.command("run")
def jobs_run(
    name: str,
    at: Annotated[
        str | None, typer.Option(help="Run as of this instant (RFC 3339), default now")
    ] = None,
) -> None:
    """Run one job now for every program: release, expire, remind, tiers."""
    from patron.worker.jobs import run_job

    try:
        runs = run_job(_engine(), name, _instant(at))
    except DomainError as error:
        _fail(error.detail)
        return
    _print_runs(runs)


@jobs_app.command("list")
def jobs_list() -> None:
    """The jobs the worker runs, in order."""
    from patron.worker.jobs import JOBS

    for job in JOBS.values():
        console.print(f"{job.name}: {job.description}")


@app.command()
def worker(
    interval: Annotated[float, typer.Option(help="Seconds between rounds")] = 60.0,
    once: Annotated[bool, typer.Option(help="Run one round and exit")] = False,
) -> None:
    """Run the scheduled jobs in rounds, forever. Several workers may run at once: each
    job runs once per program and period whichever worker gets there first."""
    import time

    from patron.worker.jobs import run_all

    engine = _engine()
    while True:
        _print_runs([run for run in run_all(engine, _now()) if run.ran])
        if once:
            return
        time.sleep(interval)


@tenants_app.command("create")
def tenants_create(
    name: str,
    currency: Annotated[str, typer.Option(help="Currency of the default program")] = "USD",
    time_zone: Annotated[str, typer.Option(help="Program time zone")] = "UTC",
) -> None:
    """Create a tenant with a default program and an admin key (shown once)."""
    from pydantic import ValidationError

    from patron.schemas.programs import ProgramIn
    from patron.services.context import Scope
    from patron.services.programs import create_program
    from patron.services.tenants import create_key, create_tenant

    try:
        spec = ProgramIn(
            code="default", name=f"{name} rewards", currency=currency, time_zone=time_zone
        )
    except ValidationError as error:
        _fail(str(error))
        return
    with UnitOfWork(_engine()) as uow:
        try:
            tenant_id = create_tenant(uow, name, _now())
            create_program(uow, tenant_id, spec, _now())
            key = create_key(uow, tenant_id, scopes=frozenset(Scope), name="admin", now=_now())
        except DomainError as error:
            _fail(error.detail)
            return
        uow.commit()
    console.print(f"tenant {name!r} created; admin key (shown once): [bold]{key.token}[/bold]")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    scopes: Annotated[str, typer.Option(help="Comma-separated: read,write,admin")] = "read,write",
    name: str = "cli",
    brand: Annotated[str | None, typer.Option(help="Limit the key to this brand code")] = None,
) -> None:
    """Create an API key for a tenant; the key is printed once."""
    from patron.services.tenants import create_key, parse_scopes

    key = _as_operator(
        tenant,
        lambda uow, caller: create_key(
            uow,
            caller.tenant_id,
            scopes=parse_scopes(scopes),
            name=name,
            now=_now(),
            brand_code=brand,
        ),
    )
    console.print(key.token)


@keys_app.command("revoke")
def keys_revoke(tenant: Annotated[str, typer.Option()], key_id: str) -> None:
    """Revoke a key by its id (the middle part of ptn_<id>_<secret>)."""
    from patron.services.tenants import revoke_key

    _as_operator(tenant, lambda uow, caller: revoke_key(uow, caller.tenant_id, key_id, _now()))
    console.print(f"key {key_id} revoked")


@brands_app.command("create")
def brands_create(tenant: Annotated[str, typer.Option()], code: str, name: str) -> None:
    """Add a brand (a store or partner) to a tenant."""
    from patron.schemas.brands import BrandIn
    from patron.services.brands import create_brand

    spec = _parsed(lambda: BrandIn(code=code, name=name))
    _as_operator(tenant, lambda uow, caller: create_brand(uow, caller, spec, _now()))
    console.print(f"brand {code!r} added to {tenant!r}")


@app.command("import")
def import_orders(
    path: Annotated[Path, typer.Argument(help="CSV of paid orders (see docs/api.md)")],
    tenant: Annotated[str, typer.Option(help="Tenant name")],
    program: Annotated[
        str | None, typer.Option(help="Program code (default program if absent)")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=1000)] = 500,
) -> None:
    """Import paid orders from a CSV file, many per transaction, with a progress bar."""
    from rich.progress import Progress

    from patron.services.importer import import_csv

    lines = sum(1 for _ in path.open(encoding="utf-8")) - 1
    with Progress(console=console) as progress:
        task = progress.add_task("importing orders", total=None)
        try:
            summary = import_csv(
                _engine(),
                path,
                tenant,
                program,
                batch_size,
                _now,
                on_batch=lambda done: progress.advance(task, done),
            )
        except DomainError as error:
            _fail(error.detail)
            return
    console.print(f"{lines} CSV rows read")
    console.print(json.dumps(summary))
    if summary["rejected"]:
        sys.exit(1)


if __name__ == "__main__":
    app()
