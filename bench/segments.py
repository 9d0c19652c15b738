"""Segments benchmark: counting segments and `segments_of` on PostgreSQL over 100,000
members (a benchmark, not a test).

    .venv/bin/python bench/segments.py                    # 100,000 members
    .venv/bin/python bench/segments.py --members 10000    # quick

The database comes from PATRON_BENCH_DATABASE_URL (default
postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_segments; its name must contain
"bench": its schema is dropped and migrated again). Set-up, not measured: a program (USD,
UTC) with Bronze/Silver/Gold on lifetime spend; members (a tenth tagged `vip`, birthdays
spread over the year, a status row each), 0 to 5 paid orders each during 2026 (events and
orders rows, spend 0..1,499.00, every seventh order half refunded), written with set-based
INSERT ... SELECT generate_series; then saved segments through the service.

Measured (each the best of 3 runs, in a read transaction as the API runs them):

0. the daily `rfm` job (`run_job(engine, "rfm", at)`: every member's RFM scores), once;
1. `GET /v1/segments/{code}/count` for each segment (`services.segments.count`);
2. the first page of members (50) of each segment;
3. `segments_of` for 100 and for 1,000 members and all segments at once (what a write of
   a program whose rules name segments costs), with and without the RFM segment.

Checks: the count of `big-vips` equals a hand-written SQL count. The last line printed is
one JSON object with the numbers.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import text

from expiry import drop_database
from ingestlib.database import connected
from tiers import open_bench, parse_args, tiered_tenant, timed_job

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/patron_bench_segments"
AT = datetime(2027, 1, 1, tzinfo=UTC)
LADDER = {
    "metric": "spend",
    "window": "lifetime",
    "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 100_000},
        {"code": "gold", "name": "Gold", "threshold": 300_000},
    ],
}
SEGMENTS: dict[str, dict[str, Any]] = {
    "everyone": {},
    "big-vips": {"tags": {"any": ["vip"]}, "spend": {"min": 200_000}},
    "lapsing": {"last_order": {"none_for_days": 90}, "orders": {"min": 1}},
    "gold": {"tiers": ["gold"]},
    "march-birthdays": {"birthday_months": [3]},
    "champions": {"rfm": {"r_min": 4, "f_min": 4, "m_min": 4}},
}
#: Orders per member: 0..5 (g % 6), each order a hash of its own.
ORDERS = (
    "(SELECT m.id AS member_id, m.id * 8 + k AS n FROM members m, generate_series(0, 4) k "
    "WHERE m.program_id = :program_id AND k < m.id % 6)"
)
SPEND = "(abs(hashint8(n)) % 1500) * 100"

LOAD = {
    "members": """
        INSERT INTO members (tenant_id, program_id, external_id, tags, birthday,
                             marketing_consent, status, enrolled_at, updated_at)
        SELECT :tenant_id, :program_id, 'm' || lpad(g::text, 7, '0'),
               CASE WHEN g % 10 = 0 THEN '["vip"]'::jsonb ELSE '[]'::jsonb END,
               date '1980-01-01' + (g % 3650), false, 'active', '2025-01-01', '2025-01-01'
        FROM generate_series(0, :members - 1) g
    """,
    "member_tiers": """
        INSERT INTO member_tiers (member_id, tenant_id, program_id, tier, reached_at,
                                  ends_at, manual_until, reason, updated_at)
        SELECT id, tenant_id, program_id,
               CASE WHEN id % 10 < 6 THEN 'bronze' WHEN id % 10 < 9 THEN 'silver'
                    ELSE 'gold' END,
               '2025-06-01', NULL, NULL, 'bench', '2025-06-01'
        FROM members WHERE program_id = :program_id
    """,
    "events": f"""
        INSERT INTO events (tenant_id, program_id, source, type, source_id, brand_id,
                            member_id, payload, occurred_at, received_at)
        SELECT :tenant_id, :program_id, 'bench', 'order.paid', 'o' || n, :brand_id,
               member_id, '{{}}'::jsonb, '2026-01-01', '2026-01-01'
        FROM {ORDERS} o
    """,
    "orders": f"""
        INSERT INTO orders (tenant_id, program_id, brand_id, member_id, external_id, event_id,
                            currency, order_discount, shipping, tax, total, eligible_amount,
                            points_awarded, points_reversed, merchandise_refunded,
                            shipping_refunded, tax_refunded, discount_codes, occurred_at)
        SELECT :tenant_id, :program_id, :brand_id, e.member_id, e.source_id, e.id, 'USD',
               0, 0, 0, {SPEND}, {SPEND}, 0, 0,
               CASE WHEN n % 7 = 0 THEN {SPEND} / 2 ELSE 0 END, 0, 0, '[]'::jsonb,
               timestamptz '2026-01-01' + (abs(hashint8(n + 1)) % 365) * interval '1 day'
        FROM events e JOIN LATERAL (SELECT substr(e.source_id, 2)::bigint AS n) x ON true
        WHERE e.source = 'bench'
    """,
}
#: Counting any segment of 100,000 members, the size a merchant previews interactively.
TARGET_COUNT_MS = 100

HAND_COUNT = """
    SELECT count(*) FROM members m
    WHERE m.program_id = :program_id AND m.tags ? 'vip'
      AND (SELECT coalesce(sum(eligible_amount - merchandise_refunded), 0) FROM orders o
           WHERE o.member_id = m.id AND o.occurred_at <= :at) >= 200000
"""


def setup(bench_url: str, members: int) -> dict[str, Any]:
    tenant = tiered_tenant(bench_url, LADDER)
    params = {**tenant, "members": members}
    with connected(bench_url, isolation_level="AUTOCOMMIT") as connection:
        for table, statement in LOAD.items():
            started = time.perf_counter()
            connection.execute(text(statement), params)
            print(f"  loaded {table:<16} {time.perf_counter() - started:7.1f} s")
        connection.exec_driver_sql("VACUUM ANALYZE")
        orders = connection.execute(text("SELECT count(*) FROM orders")).scalar_one()
    print(f"  {orders:,} orders")
    _save_segments(bench_url, tenant["program_id"])
    return params


def _save_segments(bench_url: str, program_id: int) -> None:
    from patron.db.engine import make_engine
    from patron.db.uow import UnitOfWork
    from patron.schemas.segments import NewSegmentIn
    from patron.services import segments

    engine = make_engine(bench_url)
    try:
        with UnitOfWork(engine) as uow:
            program = uow.programs.get(program_id)
            assert program is not None
            for code, spec in SEGMENTS.items():
                body = NewSegmentIn.model_validate({"code": code, "name": code, "filter": spec})
                segments.create(uow, program, body, AT)
            uow.commit()
    finally:
        engine.dispose()


def best_of(runs: int, work: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - started)
    return best, result


def measure(bench_url: str, program_id: int) -> dict[str, Any]:
    from patron.db.engine import make_engine
    from patron.db.uow import UnitOfWork
    from patron.services import segments

    engine = make_engine(bench_url)
    numbers: dict[str, Any] = {"count": {}, "first_page": {}, "segments_of": {}}
    try:
        with UnitOfWork(engine, write=False) as uow:
            program = uow.programs.get(program_id)
            assert program is not None
            for code in SEGMENTS:
                seconds, found = best_of(
                    3, lambda code=code: segments.count(uow, program, code, AT).count
                )
                numbers["count"][code] = {"ms": round(seconds * 1000, 1), "members": found}
                seconds, _ = best_of(
                    3,
                    lambda code=code: segments.members_page(
                        uow, program, code, AT, after_id=None, limit=50
                    ),
                )
                numbers["first_page"][code] = round(seconds * 1000, 1)
                print(
                    f"  {code:<16} count {found:>8,} in {numbers['count'][code]['ms']:>8.1f} ms,"
                    f" first page in {numbers['first_page'][code]:>8.1f} ms"
                )
            ids = [
                row.id
                for row in uow.connection.execute(
                    text("SELECT id FROM members WHERE program_id = :p ORDER BY id"),
                    {"p": program_id},
                )
            ]
            without_rfm = [code for code in SEGMENTS if code != "champions"]
            for size in (100, 1_000):
                sample = ids[:: max(1, len(ids) // size)][:size]
                for label, codes in (("all", list(SEGMENTS)), ("without_rfm", without_rfm)):
                    seconds, _ = best_of(
                        3,
                        lambda sample=sample, codes=codes: segments.segments_of(
                            uow, program, sample, codes, AT
                        ),
                    )
                    key = f"{size}_members_{label}"
                    numbers["segments_of"][key] = round(seconds * 1000, 1)
                    print(f"  segments_of {key:<26} {seconds * 1000:8.1f} ms")
    finally:
        engine.dispose()
    return numbers


def rfm_job(bench_url: str) -> float:
    seconds, run = timed_job(bench_url, "rfm")
    assert run.ran, run
    return seconds


def baseline(bench_url: str, program_id: int, counted: int) -> tuple[bool, float]:
    """The raw PostgreSQL baseline: a hand-written count of `big-vips` (best of 3, ms),
    and whether it agrees with the service's count."""
    best, found = float("inf"), -1
    with connected(bench_url) as connection:
        for _ in range(3):
            started = time.perf_counter()
            hand = connection.execute(text(HAND_COUNT), {"program_id": program_id, "at": AT})
            found = int(hand.scalar_one())
            best = min(best, (time.perf_counter() - started) * 1000)
    return found == counted, best


def main() -> int:
    args = parse_args(default_members=100_000, minimum=1_000)
    sizes = f"{args.members:,} members"
    bench_url, admin_url, name = open_bench("segments", DEFAULT_URL, sizes)
    started = time.perf_counter()
    params = setup(bench_url, args.members)
    print(f"set-up: {time.perf_counter() - started:.1f} s")
    numbers = {"rfm_job_seconds": round(rfm_job(bench_url), 2)}
    print(f"  rfm job: {numbers['rfm_job_seconds']:.2f} s")
    numbers |= measure(bench_url, params["program_id"])
    vips = numbers["count"]["big-vips"]
    ok, hand_ms = baseline(bench_url, params["program_id"], vips["members"])
    numbers["baseline_big_vips_ms"] = round(hand_ms, 1)
    print(
        f"  baseline: hand-written SQL count of big-vips in {hand_ms:.1f} ms "
        f"(service {vips['ms']} ms)"
    )
    print(f"checks: {'ok' if ok else 'FAILED'}")
    slowest = max(entry["ms"] for entry in numbers["count"].values())
    met = slowest <= TARGET_COUNT_MS
    print(f"target: every count within {TARGET_COUNT_MS} ms: {'met' if met else 'NOT met'}")
    if not args.keep:
        drop_database(admin_url, name)
    summary = {"bench": "segments", "members": args.members, **numbers}
    summary |= {"target_count_ms": TARGET_COUNT_MS, "target_met": met, "ok": ok}
    print(json.dumps(summary))
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
