"""Expiry benchmark: the `expire` job on PostgreSQL over millions of lots (a benchmark, not
a test).

    .venv/bin/python bench/expiry.py                               # 1M members, 5M lots
    .venv/bin/python bench/expiry.py --members 10000 --lots 50000  # quick, ledger verified

The database comes from PATRON_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_expiry); it is created if missing
(its name must contain "bench": its schema is dropped and migrated again), and dropped at the
end unless --keep. Set-up, not measured: a tenant and its program through Patron's services
(`ingestlib.database`), the program's expiry set to fixed 12 months, then members, earn
transactions, lots, ledger entries and balances, consistent with each other, written with
set-based `INSERT ... SELECT generate_series` statements; about `--due-percent` (20) % of
the lots expire exactly at the run instant (2027-04-02T00:00Z, UTC program), the others
during the following year. Then, in the same run:

1. the baseline: the bare `UPDATE lots SET remaining = 0 WHERE expires_at <= at AND
   remaining > 0`, timed and rolled back (then VACUUM, so the job starts from the same
   state);
2. the job: `run_job(engine, "expire", at)`, timed, under a statement timeout
   (`--job-timeout`, 600 s);
3. checks: no due lot left, one expire transaction per member, and with --verify (default
   up to 500,000 lots) `patron.services.verify` over the whole ledger.

The last line printed is one JSON object: members, lots, expired lots, seconds, the 30 s
target and whether it was met. The exit status is 1 if the job failed or the checks did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# bench/ itself, so that `ingestlib` imports however this script is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from ingestlib.conditions import git_revision
from ingestlib.database import _create_tenant, connected, public_url
from ingestlib.report import print_conditions

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_expiry"
TARGET_SECONDS = 30
#: The instant the job runs as of: local midnight of the (UTC) program.
AT = datetime(2027, 4, 2, tzinfo=UTC)
#: Due lots were earned during this day, 12 months before the day before AT.
DUE_DAY = "2026-04-01 08:00:00+00"
#: Lots are written this many per statement (one transaction each).
CHUNK = 1_000_000


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--lots", type=int, default=5_000_000)
    parser.add_argument(
        "--due-percent", type=int, default=20, help="share of lots expiring at the run instant"
    )
    parser.add_argument(
        "--job-timeout", type=float, default=600, help="statement timeout of the job (s)"
    )
    parser.add_argument(
        "--verify",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="verify the whole ledger after the job (default: up to 500,000 lots)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.members < 1 or args.lots < 1 or not 0 <= args.due_percent <= 100:
        parser.error("--members and --lots must be positive, --due-percent 0..100")
    return args


# -- the database ------------------------------------------------------------------------


def urls(bench_url: str) -> tuple[str, str]:
    """(URL of the server's maintenance database, name of the bench database)."""
    url = make_url(bench_url)
    if not url.drivername.startswith("postgresql") or not url.database:
        raise SystemExit("the benchmark needs a PostgreSQL URL with a database name")
    if "bench" not in url.database:
        raise SystemExit(f"refusing to reset {url.database!r}: its name must contain 'bench'")
    return url.set(database="postgres").render_as_string(hide_password=False), url.database


def prepare_database(admin_url: str, name: str, bench_url: str) -> None:
    """Create the database if missing, empty its schema, migrate it."""
    from patron.db.migrate import upgrade

    with connected(admin_url, isolation_level="AUTOCOMMIT") as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
        ).first()
        if exists is None:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    with connected(bench_url, isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("DROP SCHEMA public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    upgrade(bench_url)


def drop_database(admin_url: str, name: str) -> None:
    with connected(admin_url, isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def conditions(bench_url: str, args: argparse.Namespace) -> dict[str, Any]:
    with connected(bench_url) as connection:
        settings = {
            name: connection.execute(text(f"SHOW {name}")).scalar()
            for name in ("server_version", "shared_buffers", "work_mem", "max_wal_size")
        }
    return {
        "postgresql": settings.pop("server_version"),
        **settings,
        "cpus": os.cpu_count(),
        "load_avg_before": round(os.getloadavg()[0], 2),
        "database": public_url(bench_url),
        "members": args.members,
        "lots": args.lots,
        "due_percent": args.due_percent,
        "at": AT.isoformat(),
        "revision": git_revision(),
    }


# -- set-up: tenant, program, and the rows of a ledger -----------------------------------


def create_program(bench_url: str) -> dict[str, Any]:
    """Tenant, program (USD, UTC) and admin key through Patron's services; then the
    program's expiry set to fixed 12 months, as PATCH /v1/program would."""
    from patron.db.engine import make_engine
    from patron.db.uow import UnitOfWork
    from patron.schemas.programs import ExpiryIn, ProgramUpdate
    from patron.services.programs import update_program

    engine = make_engine(bench_url)
    try:
        tenant = _create_tenant(engine, datetime.now(UTC))
        with UnitOfWork(engine) as uow:
            program = uow.programs.get(tenant["program_id"])
            assert program is not None
            changes = ProgramUpdate(expiry=ExpiryIn(kind="fixed", months=12))
            update_program(uow, program, changes)
            uow.commit()
    finally:
        engine.dispose()
    return dict(tenant)


#: A deterministic pseudo-random number in [0, 100) per lot id (hashint8 is PostgreSQL's own
#: integer hash: stable, and uncorrelated with the member a lot belongs to).
PERCENTILE = "(abs(hashint8(g)) % 100)"

LOAD_STATEMENTS = {
    "members": """
        INSERT INTO members (tenant_id, program_id, external_id, tags, marketing_consent,
                             status, enrolled_at, updated_at)
        SELECT :tenant_id, :program_id, 'm' || lpad(g::text, 7, '0'), '[]'::jsonb, false,
               'active', :enrolled, :enrolled
        FROM generate_series(0, :members - 1) g
    """,
    # one earn transaction per lot, ids first..last; the lot's member and earning instant
    # are functions of the id: due lots were earned on DUE_DAY, the others up to a year later
    "ledger_transactions": f"""
        INSERT INTO ledger_transactions (id, tenant_id, program_id, member_id, kind, reason,
                                         details, occurred_at, created_at)
        SELECT g, :tenant_id, :program_id, :first_member + (g - 1) % :members, 'earn', NULL,
               '{{}}'::jsonb, e.earned_at, e.earned_at
        FROM generate_series(:first, :last) g,
             LATERAL (SELECT CAST(:due_day AS timestamptz)
                             + (g % 36000) * interval '1 second'
                             + CASE WHEN {PERCENTILE} < :due_percent THEN interval '0 days'
                                    ELSE (1 + abs(hashint8(g * 31)) % 364) * interval '1 day'
                               END AS earned_at) e
    """,
    # the lot of each transaction; expires when the day after its anniversary begins (UTC)
    "lots": """
        INSERT INTO lots (id, tenant_id, member_id, asset, amount, remaining, state,
                          pending_until, expires_at, transaction_id, created_at)
        SELECT t.id, t.tenant_id, t.member_id, 'points', a.amount, a.amount, 'available', NULL,
               date_trunc('day', t.occurred_at AT TIME ZONE 'UTC' + interval '12 months')
                   AT TIME ZONE 'UTC' + interval '1 day',
               t.id, t.occurred_at
        FROM ledger_transactions t,
             LATERAL (SELECT 1 + abs(hashint8(t.id * 7)) % 500 AS amount) a
        WHERE t.id BETWEEN :first AND :last
    """,
    # the two postings of each earn: the brand issues, the member's available lot receives
    "ledger_entries": """
        INSERT INTO ledger_entries (transaction_id, tenant_id, account, asset, amount, lot_id,
                                    member_id)
        SELECT l.transaction_id, l.tenant_id, :issued, 'points', -l.amount, NULL, NULL
        FROM lots l WHERE l.id BETWEEN :first AND :last
        UNION ALL
        SELECT l.transaction_id, l.tenant_id, 'member:' || l.member_id || :available,
               'points', l.amount, l.id, l.member_id
        FROM lots l WHERE l.id BETWEEN :first AND :last
    """,
    "member_balances": """
        INSERT INTO member_balances (member_id, asset, tenant_id, available, pending, debt,
                                     lifetime_earned)
        SELECT m.id, 'points', m.tenant_id, coalesce(l.remaining, 0), 0, 0,
               coalesce(l.amount, 0)
        FROM members m
        LEFT JOIN (SELECT member_id, sum(remaining) AS remaining, sum(amount) AS amount
                   FROM lots GROUP BY member_id) l ON l.member_id = m.id
        WHERE m.program_id = :program_id
    """,
}


def load(bench_url: str, tenant: dict[str, Any], args: argparse.Namespace) -> None:
    """Write the members and their ledger, set-based, printing the time of each step.

    Foreign-key triggers are off while loading (`session_replication_role = replica`, the
    rows are consistent by construction); every constraint and index stays in place."""
    params: dict[str, Any] = {
        "tenant_id": tenant["tenant_id"],
        "program_id": tenant["program_id"],
        "members": args.members,
        "enrolled": datetime(2026, 1, 1, tzinfo=UTC),
        "due_day": DUE_DAY,
        "due_percent": args.due_percent,
        "issued": f"brand:{tenant['brand_id']}:issued",
        "available": ":available",  # a bind parameter: text() reads ':name' in literals too
    }
    started = time.perf_counter()
    with connected(bench_url, isolation_level="AUTOCOMMIT") as connection:
        try:
            connection.exec_driver_sql("SET session_replication_role = replica")
        except DBAPIError:  # not a superuser: load with the foreign-key checks on
            print("  (foreign-key triggers stay on: session_replication_role needs a superuser)")
        _step(connection, "members", params, f"{args.members:,} members")
        params["first_member"] = connection.execute(
            text("SELECT min(id) FROM members WHERE program_id = :program_id"), params
        ).scalar_one()
        for first in range(1, args.lots + 1, CHUNK):
            last = min(first + CHUNK - 1, args.lots)
            chunk = params | {"first": first, "last": last}
            for table in ("ledger_transactions", "lots", "ledger_entries"):
                _step(connection, table, chunk, f"lots {first:,}..{last:,}")
        _step(connection, "member_balances", params, "one per member")
        for sequence, table in (
            ("ledger_transactions_id_seq", "ledger_transactions"),
            ("lots_id_seq", "lots"),
        ):
            connection.execute(text(f"SELECT setval('{sequence}', (SELECT max(id) FROM {table}))"))
        connection.exec_driver_sql("SET session_replication_role = DEFAULT")
        step = time.perf_counter()
        connection.exec_driver_sql("VACUUM (ANALYZE)")
        print(f"  VACUUM (ANALYZE)        {time.perf_counter() - step:7.1f} s")
    print(f"set-up: {time.perf_counter() - started:.1f} s")


def _step(connection: Connection, table: str, params: dict[str, Any], what: str) -> None:
    started = time.perf_counter()
    rows = connection.execute(text(LOAD_STATEMENTS[table]), params).rowcount
    print(f"  {table:22} {time.perf_counter() - started:7.1f} s  {rows:>10,} rows  ({what})")


# -- measurements ------------------------------------------------------------------------


def row_counts(bench_url: str) -> dict[str, int]:
    tables = ("members", "member_balances", "ledger_transactions", "ledger_entries", "lots")
    with connected(bench_url) as connection:
        return {
            table: int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
            for table in tables
        }


def due(bench_url: str) -> dict[str, int]:
    """The lots due at AT: how many, of how many members, how many points."""
    query = text(
        "SELECT count(*), count(DISTINCT member_id), coalesce(sum(remaining), 0) FROM lots "
        "WHERE expires_at <= :at AND remaining > 0"
    )
    with connected(bench_url) as connection:
        lots, members, points = connection.execute(query, {"at": AT}).one()
    return {"lots": int(lots), "members": int(members), "points": int(points)}


def baseline(bench_url: str) -> tuple[float, int]:
    """Seconds and rows of the bare UPDATE of the due lots, rolled back; then VACUUM lots
    so that the job does not pay for the dead row versions the rollback left."""
    with connected(bench_url) as connection:
        started = time.perf_counter()
        rows = connection.execute(
            text("UPDATE lots SET remaining = 0 WHERE expires_at <= :at AND remaining > 0"),
            {"at": AT},
        ).rowcount
        seconds = time.perf_counter() - started
        connection.rollback()
    with connected(bench_url, isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM (ANALYZE) lots")
    return seconds, rows


def run_expire(bench_url: str, timeout: float) -> tuple[float, dict[str, Any] | None, str | None]:
    """Seconds, result and error of `run_job(engine, "expire", AT)` under a statement
    timeout (PGOPTIONS applies to the job's connections only). Prints the time of each of
    the job's statements that took 0.1 s or more (the one in flight if it failed)."""
    from patron.db.engine import make_engine
    from patron.worker.jobs import run_job

    previous = os.environ.get("PGOPTIONS")
    os.environ["PGOPTIONS"] = f"-c statement_timeout={int(timeout * 1000)}"
    engine = make_engine(bench_url)
    statements: list[list[Any]] = []

    def before(*args: Any) -> None:
        statements.append([time.perf_counter(), None, " ".join(str(args[2]).split())[:90]])

    def after(*_args: Any) -> None:
        statements[-1][1] = time.perf_counter() - statements[-1][0]

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    started = time.perf_counter()
    error = None
    try:
        runs = run_job(engine, "expire", AT)
    except Exception as failure:  # a benchmark reports a failed job, it does not crash
        text_ = str(failure).strip()
        error = f"{type(failure).__name__}: {text_.splitlines()[0] if text_ else ''}"
    finally:
        seconds = time.perf_counter() - started
        engine.dispose()
        if previous is None:
            os.environ.pop("PGOPTIONS", None)
        else:
            os.environ["PGOPTIONS"] = previous
    print("job statements taking 0.1 s or more:")
    for start, took, statement in statements:
        if took is None:
            print(f"  {time.perf_counter() - start:8.2f} s  FAILED  {statement}")
        elif took >= 0.1:
            print(f"  {took:8.2f} s  {statement}")
    if error is not None:
        return seconds, None, error
    (run,) = runs
    if not run.ran:
        return seconds, None, "the run was skipped (already ran for this period)"
    return seconds, dict(run.result), None


def checks(bench_url: str, expected: dict[str, int], verify_ledger: bool) -> list[str]:
    """What is wrong after the job (empty if nothing)."""
    from patron.services.verify import verify

    problems = []
    left = due(bench_url)
    if left["lots"]:
        problems.append(f"{left['lots']} due lots left")
    with connected(bench_url) as connection:
        expired = connection.execute(
            text("SELECT count(*) FROM ledger_transactions WHERE kind = 'expire'")
        ).scalar_one()
        if expired != expected["members"]:
            problems.append(f"{expired} expire transactions for {expected['members']} members")
        if verify_ledger:
            started = time.perf_counter()
            report = verify(connection)
            seconds = time.perf_counter() - started
            status = "OK" if report.ok else f"FAILED {report.problems}"
            print(f"verify: ledger {status} in {seconds:.1f} s  {report.counts}")
            problems += [f"verify: {problem.check} {problem.ids}" for problem in report.problems]
    return problems


def main() -> int:
    args = parse_args()
    bench_url = os.environ.get("PATRON_BENCH_DATABASE_URL", DEFAULT_URL)
    admin_url, name = urls(bench_url)
    verify_ledger = args.verify if args.verify is not None else args.lots <= 500_000
    try:
        prepare_database(admin_url, name, bench_url)
        print_conditions(conditions(bench_url, args))
        tenant = create_program(bench_url)
        print("set-up (not measured):")
        load(bench_url, tenant, args)
        counts = row_counts(bench_url)
        print("rows: " + ", ".join(f"{table} {count:,}" for table, count in counts.items()))
        expected = due(bench_url)
        print(
            f"due at {AT.isoformat()}: {expected['lots']:,} lots of {expected['members']:,} "
            f"members, {expected['points']:,} points"
        )
        baseline_seconds, baseline_rows = baseline(bench_url)
        print(
            f"baseline: bare UPDATE of {baseline_rows:,} lots in {baseline_seconds:.2f} s "
            "(rolled back)"
        )
        seconds, result, error = run_expire(bench_url, args.job_timeout)
        if error is None:
            print(f"job: run_job(engine, 'expire', at) in {seconds:.2f} s: {result}")
            if baseline_seconds > 0:
                print(f"job / baseline: {seconds / baseline_seconds:.1f}x")
            problems = checks(bench_url, expected, verify_ledger)
        else:
            print(f"job FAILED after {seconds:.2f} s: {error}")
            problems = [error]
        for problem in problems:
            print(f"problem: {problem}")
        expired_lots = result["lots"] if result else 0
        summary = {
            "bench": "expiry",
            "members": args.members,
            "lots": args.lots,
            "expired_lots": expired_lots,
            "seconds": round(seconds, 3),
            "target_seconds": TARGET_SECONDS,
            "met": not problems and seconds <= TARGET_SECONDS,
            "due_lots": expected["lots"],
            "baseline_seconds": round(baseline_seconds, 3),
            "error": problems[0] if problems else None,
        }
        print(json.dumps(summary))
        return 1 if problems else 0
    finally:
        if args.keep:
            print(f"database kept: {public_url(bench_url)}")
        else:
            drop_database(admin_url, name)


if __name__ == "__main__":
    sys.exit(main())
