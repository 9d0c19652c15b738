"""Tier benchmark: the year-end `tiers` job on PostgreSQL over a million members (a
benchmark, not a test).

    .venv/bin/python bench/tiers.py                    # 1,000,000 members
    .venv/bin/python bench/tiers.py --members 20000    # quick

The database comes from PATRON_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_tiers; its name must contain
"bench": its schema is dropped and migrated again). Set-up, not measured: a program (USD,
UTC) with Bronze (0), Silver (500.00, kept at 400.00) and Gold (1,000.00, kept at 800.00) on
calendar-year spend; members with a status reached in 2025 and held through 2026 (half
Bronze, 30% Silver, 20% Gold); one paid 2026 order each (events and orders rows, spend
0..1,499.00), all written with set-based INSERT ... SELECT generate_series. Then, in the
same run:

1. the baseline: one hand-written `UPDATE member_tiers ... FROM (SELECT sum(spend) ...)`
   with the same decision, timed and rolled back;
2. the job: `run_job(engine, "tiers", 2027-01-01T00:00Z)`, timed;
3. checks: every status evaluated once, and the job's decisions equal the domain's
   `evaluate_period_end` on a sample of members.

The last line printed is one JSON object with the seconds, the 30 s target and whether it
was met.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import text

from expiry import drop_database, prepare_database, urls
from ingestlib.conditions import git_revision
from ingestlib.database import _create_tenant, connected, public_url

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_tiers"
TARGET_SECONDS = 30
AT = datetime(2027, 1, 1, tzinfo=UTC)
LADDER = {
    "metric": "spend",
    "window": "calendar_year",
    "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 50_000, "retain_threshold": 40_000},
        {"code": "gold", "name": "Gold", "threshold": 100_000, "retain_threshold": 80_000},
    ],
}
SPEND = "(abs(hashint8(g)) % 1500) * 100"

LOAD = {
    "members": """
        INSERT INTO members (tenant_id, program_id, external_id, tags, marketing_consent,
                             status, enrolled_at, updated_at)
        SELECT :tenant_id, :program_id, 'm' || lpad(g::text, 7, '0'), '[]'::jsonb, false,
               'active', '2025-01-01', '2025-01-01'
        FROM generate_series(0, :members - 1) g
    """,
    "member_balances": """
        INSERT INTO member_balances (member_id, asset, tenant_id, available, pending, debt,
                                     lifetime_earned)
        SELECT id, 'points', tenant_id, 0, 0, 0, 0 FROM members WHERE program_id = :program_id
    """,
    "member_tiers": """
        INSERT INTO member_tiers (member_id, tenant_id, program_id, tier, reached_at, ends_at,
                                  manual_until, reason, updated_at)
        SELECT id, tenant_id, program_id,
               CASE WHEN id % 10 < 5 THEN 'bronze' WHEN id % 10 < 8 THEN 'silver'
                    ELSE 'gold' END,
               '2025-06-01', '2027-01-01', NULL, 'threshold reached', '2025-06-01'
        FROM members WHERE program_id = :program_id
    """,
    "events": """
        INSERT INTO events (tenant_id, program_id, source, type, source_id, brand_id,
                            member_id, payload, occurred_at, received_at)
        SELECT :tenant_id, :program_id, 'bench', 'order.paid', 'o' || g, :brand_id,
               :first_member + g, '{}'::jsonb, '2026-06-01', '2026-06-01'
        FROM generate_series(0, :members - 1) g
    """,
    "orders": f"""
        INSERT INTO orders (tenant_id, program_id, brand_id, member_id, external_id, event_id,
                            currency, order_discount, shipping, tax, total, eligible_amount,
                            points_awarded, points_reversed, merchandise_refunded,
                            shipping_refunded, tax_refunded, discount_codes, occurred_at)
        SELECT :tenant_id, :program_id, :brand_id, :first_member + g, 'o' || g,
               :first_event + g, 'USD', 0, 0, 0, {SPEND}, {SPEND}, 0, 0, 0, 0, 0,
               '[]'::jsonb, '2026-06-01'
        FROM generate_series(0, :members - 1) g
    """,
}

BASELINE = """
    UPDATE member_tiers mt
    SET tier = CASE
            WHEN mt.tier = 'gold' AND coalesce(s.spend, 0) >= 80000 THEN 'gold'
            WHEN mt.tier = 'gold' THEN 'silver'
            WHEN mt.tier = 'silver' AND coalesce(s.spend, 0) >= 40000 THEN 'silver'
            WHEN mt.tier = 'silver' THEN 'bronze'
            ELSE mt.tier END,
        ends_at = '2028-01-01', updated_at = now()
    FROM (SELECT m.id AS member_id, o.spend FROM members m LEFT JOIN
            (SELECT member_id, sum(eligible_amount) AS spend FROM orders
             WHERE occurred_at >= '2026-01-01' AND occurred_at < '2027-01-01'
             GROUP BY member_id) o ON o.member_id = m.id) s
    WHERE s.member_id = mt.member_id AND mt.ends_at <= '2027-01-01'
"""


def parse_args(default_members: int = 1_000_000, minimum: int = 10) -> argparse.Namespace:
    """`--members` (at least `minimum`) and `--keep`; shared with bench/segments.py."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--members", type=int, default=default_members)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    if args.members < minimum:
        parser.error(f"--members must be at least {minimum:,}")
    return args


def tiered_tenant(bench_url: str, ladder: dict[str, Any]) -> dict[str, Any]:
    """A tenant whose program has the tier `ladder`: its ids (shared with bench/segments.py)."""
    from patron.db.engine import make_engine
    from patron.db.uow import UnitOfWork
    from patron.schemas.programs import ProgramUpdate, TiersIn
    from patron.services.programs import update_program

    engine = make_engine(bench_url)
    try:
        tenant = dict(_create_tenant(engine, datetime.now(UTC)))
        with UnitOfWork(engine) as uow:
            program = uow.programs.get(tenant["program_id"])
            assert program is not None
            update_program(uow, program, ProgramUpdate(tiers=TiersIn.model_validate(ladder)))
            uow.commit()
    finally:
        engine.dispose()
    return tenant


def setup(bench_url: str, members: int) -> dict[str, Any]:
    params = {**tiered_tenant(bench_url, LADDER), "members": members}
    with connected(bench_url, isolation_level="AUTOCOMMIT") as connection:
        for table in ("members", "member_balances", "member_tiers"):
            _step(connection, table, params)
        params["first_member"] = connection.execute(
            text("SELECT min(id) FROM members WHERE program_id = :program_id"), params
        ).scalar_one()
        _step(connection, "events", params)
        params["first_event"] = connection.execute(
            text("SELECT min(id) FROM events WHERE source = 'bench'")
        ).scalar_one()
        _step(connection, "orders", params)
        connection.exec_driver_sql("VACUUM ANALYZE")
    return params


def _step(connection: Any, table: str, params: dict[str, Any]) -> None:
    started = time.perf_counter()
    connection.execute(text(LOAD[table]), params)
    print(f"  loaded {table:<16} {time.perf_counter() - started:7.1f} s")


def baseline(bench_url: str) -> float:
    with connected(bench_url) as connection:
        started = time.perf_counter()
        connection.execute(text(BASELINE))
        seconds = time.perf_counter() - started
        connection.rollback()
    return seconds


def timed_job(bench_url: str, name: str) -> tuple[float, Any]:
    """Run job `name` as of AT: its seconds and the (first program's) run."""
    from patron.db.engine import make_engine
    from patron.worker.jobs import run_job

    engine = make_engine(bench_url)
    try:
        started = time.perf_counter()
        runs = run_job(engine, name, AT)
        seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    return seconds, runs[0]


def run_the_job(bench_url: str) -> tuple[float, dict[str, Any]]:
    seconds, run = timed_job(bench_url, "tiers")
    return seconds, run.result


def check(bench_url: str, members: int, result: dict[str, Any]) -> bool:
    """Every status evaluated; the decisions agree with the domain on a sample."""
    from patron.db.repositories.programs import tier_ladder
    from patron.domain.tiers import evaluate_period_end

    ladder = tier_ladder(LADDER)
    assert ladder is not None
    ok = result["evaluated"] == members
    sample = text(
        "SELECT mt.tier, coalesce(o.eligible_amount, 0), m.id % 10 FROM member_tiers mt "
        "JOIN members m ON m.id = mt.member_id LEFT JOIN orders o ON o.member_id = m.id "
        "ORDER BY m.id LIMIT 5000"
    )
    with connected(bench_url) as connection:
        for tier, spend, bucket in connection.execute(sample):
            before = "bronze" if bucket < 5 else "silver" if bucket < 8 else "gold"
            ok = ok and evaluate_period_end(ladder, before, int(spend)).code == tier
    return ok


def open_bench(title: str, default_url: str, sizes: str) -> tuple[str, str, str]:
    """Create the bench database afresh and print the conditions a run is under:
    (bench url, admin url, database name). Shared with bench/segments.py."""
    bench_url = os.environ.get("PATRON_BENCH_DATABASE_URL", default_url)
    admin_url, name = urls(bench_url)
    prepare_database(admin_url, name, bench_url)
    with connected(bench_url) as connection:
        version = connection.execute(text("SHOW server_version")).scalar()
    print(
        f"{title} bench: PostgreSQL {version}, {os.cpu_count()} CPUs, load "
        f"{os.getloadavg()[0]:.2f}, {sizes}, "
        f"database {public_url(bench_url)}, revision {git_revision()}"
    )
    return bench_url, admin_url, name


def main() -> int:
    args = parse_args()
    sizes = f"{args.members:,} members, one 2026 order each"
    bench_url, admin_url, name = open_bench("tiers", DEFAULT_URL, sizes)
    started = time.perf_counter()
    setup(bench_url, args.members)
    print(f"set-up: {time.perf_counter() - started:.1f} s")
    base = baseline(bench_url)
    print(f"baseline (one hand-written UPDATE ... FROM, rolled back): {base:.2f} s")
    seconds, result = run_the_job(bench_url)
    print(f"tiers job: {seconds:.2f} s  {result}")
    ok = check(bench_url, args.members, result)
    print(f"checks: {'ok' if ok else 'FAILED'}")
    if not args.keep:
        drop_database(admin_url, name)
    summary = {
        "bench": "tiers",
        "members": args.members,
        "seconds": round(seconds, 2),
        "baseline_seconds": round(base, 2),
        "ratio_to_baseline": round(seconds / base, 2) if base else None,
        "evaluated": result["evaluated"],
        "downgraded": result["downgraded"],
        "target_seconds": TARGET_SECONDS,
        "met": seconds <= TARGET_SECONDS and ok,
    }
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
