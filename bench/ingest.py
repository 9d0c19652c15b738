"""Ingestion benchmark for Patron on PostgreSQL (a benchmark, not a test).

    .venv/bin/python bench/ingest.py            # single events: POST /v1/orders
    .venv/bin/python bench/ingest.py --bulk     # batches: POST /v1/orders/batch + CSV import
    .venv/bin/python bench/ingest.py --profile 300   # in-process: SQL round trips + cProfile

It creates a fresh database (`patron_bench`) on the server of PATRON_DATABASE_URL,
migrates it, creates a tenant, a program (USD, points available at once) and an admin key,
bulk-inserts the members (nothing is measured during set-up), starts `patron serve` as a
subprocess, drives it with keep-alive HTTP clients for a fixed time after a warm-up, then
runs a hand-written baseline transaction with the same concurrency directly against
PostgreSQL, and always stops the server and drops the database at the end.

The last line printed is one JSON object with the results and conditions. The exit status
is 1 if any request failed (or 2 if the benchmark itself could not run).

This script only parses the options and runs the parts in order; the parts are the
modules of `bench/ingestlib/` (listed in its docstring).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

# bench/ itself, so that `ingestlib` imports however this script is started.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingestlib import conditions as run_conditions
from ingestlib import report, summary
from ingestlib.baseline import run_baseline
from ingestlib.cpu import CpuSampler, server_figures
from ingestlib.csv_import import run_import
from ingestlib.database import (
    Setup,
    count_events,
    create_database,
    database_urls,
    drop_database,
    setup_tenant,
)
from ingestlib.harness import Timing
from ingestlib.load import LoadJob, run_load
from ingestlib.pgbench import run_pgbench
from ingestlib.profiling import profile
from ingestlib.pyspy import Spies, summarize
from ingestlib.server import running_server
from ingestlib.settings import DEFAULT_URL


def parse_args() -> argparse.Namespace:
    """The command-line options (see --help)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    _add_load_options(parser)
    _add_comparison_options(parser)
    _add_database_options(parser)
    _add_diagnostic_options(parser)
    parser.add_argument("--seed", default="bench")
    return parser.parse_args()


def _add_load_options(parser: argparse.ArgumentParser) -> None:
    """Options of the server and of the load generator."""
    parser.add_argument("--bulk", action="store_true", help="POST /v1/orders/batch + CSV import")
    parser.add_argument("--workers", type=int, default=2, help="patron serve --workers")
    parser.add_argument("--clients", type=int, help="concurrent clients (32; 4 with --bulk)")
    parser.add_argument(
        "--client-procs", type=int, default=1, help="load-generator processes (asyncio each)"
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw asyncio HTTP/1.1 (least CPU) or httpx.AsyncClient; both keep-alive",
    )
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds first")
    parser.add_argument("--members", type=int, default=10_000, help="pre-enrolled members")
    parser.add_argument("--batch-size", type=int, default=500, help="orders per batch (--bulk)")
    parser.add_argument("--pool-size", type=int, help="PATRON_POOL_SIZE for the server")


def _add_comparison_options(parser: argparse.ArgumentParser) -> None:
    """Options of what runs after the load: the baselines and the CSV import."""
    parser.add_argument(
        "--baseline-procs", type=int, default=2, help="processes for the psycopg baseline"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the baseline")
    parser.add_argument(
        "--pgbench", action="store_true", help="also run the baseline with pgbench (C client)"
    )
    parser.add_argument("--csv-orders", type=int, default=5_000, help="orders in the CSV")


def _add_database_options(parser: argparse.ArgumentParser) -> None:
    """Options of the bench database."""
    parser.add_argument("--database", default="patron_bench", help="name of the bench database")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")


def _add_diagnostic_options(parser: argparse.ArgumentParser) -> None:
    """Options of py-spy sampling and of the in-process profile."""
    parser.add_argument(
        "--py-spy",
        metavar="DIR",
        help="record each server worker with py-spy during the window (raw stacks)",
    )
    parser.add_argument(
        "--py-spy-mode",
        choices=("gil", "wall"),
        default="gil",
        help="gil: only threads holding the GIL (Python CPU); wall: all threads, idle too",
    )
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="no server: record N orders in-process; count SQL and round trips; cProfile",
    )


def main() -> int:
    """Run the benchmark the options ask for, always dropping the bench database at the
    end (unless --keep): 0 if everything succeeded, 1 if anything failed."""
    args = parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base_url = os.environ.get("PATRON_DATABASE_URL", DEFAULT_URL)
    admin_url, bench_url = database_urls(base_url, args.database)
    clients = args.clients or (4 if args.bulk else 32)
    conditions = run_conditions.collect(args, admin_url, bench_url, clients)
    report.print_conditions(conditions)
    create_database(admin_url, args.database)
    try:
        began = time.monotonic()
        setup = setup_tenant(bench_url, args.members)
        report.print_setup(args.members, time.monotonic() - began)
        if args.profile:
            return run_profile(args, bench_url, setup, conditions)
        return run_benchmark(args, bench_url, setup, clients, conditions)
    finally:
        if args.keep:
            print(f"kept database {args.database}", file=sys.stderr)
        else:
            drop_database(admin_url, args.database)


def run_profile(
    args: argparse.Namespace, bench_url: str, setup: Setup, conditions: dict[str, Any]
) -> int:
    """--profile: the in-process profile, printed, then its JSON line; 0."""
    result = profile(bench_url, setup, args.profile, args.members)
    report.print_profile(result)
    report.print_line(summary.profile_line(result, conditions))
    return 0


def run_benchmark(
    args: argparse.Namespace,
    bench_url: str,
    setup: Setup,
    clients: int,
    conditions: dict[str, Any],
) -> int:
    """Patron under load, the baselines, the CSV import (--bulk), then the comparison and
    the JSON line: 0 if nothing failed, 1 otherwise."""
    timing = Timing(args.warmup, args.duration)
    results = load_patron(args, bench_url, setup, clients, timing)
    baseline = run_baselines(args, bench_url, setup, clients, timing)
    csv_import = import_csv(args, bench_url) if args.bulk else None
    errors = summary.count_errors(results, baseline, csv_import)
    report.print_mismatch(results)
    ratio, cpu_ratio = summary.ratio(results, baseline), summary.cpu_bound_ratio(results, baseline)
    report.print_comparison(results, baseline, ratio, cpu_ratio)
    if "batched" in baseline:
        report.print_bulk_ratio(summary.add_bulk_ratio(results, baseline))
    report.print_line(summary.final_line(results, baseline, csv_import, errors, conditions))
    return 1 if errors else 0


def load_patron(
    args: argparse.Namespace, bench_url: str, setup: Setup, clients: int, timing: Timing
) -> dict[str, Any]:
    """Start the server, drive it with the load generator, stop it; print and return the
    load results with CPU figures, the py-spy summary (--py-spy) and the number of events
    in the database."""
    mode = run_conditions.mode(args.bulk)
    with running_server(bench_url, args.workers, args.pool_size) as server:
        workers = server.worker_pids()
        sampler = CpuSampler([server.process.pid, *workers], args.database)
        spies = Spies(args.py_spy, workers, gil=args.py_spy_mode == "gil")

        def on_window(begin: float, end: float) -> None:
            spies.start_at(begin, end)
            sampler(begin, end)

        report.print_load_start(mode, clients, args.warmup, args.duration)
        job = load_job(args, server.port, setup["token"], clients, timing)
        results = run_load(job, args.client_procs, on_window)
        spies.wait()
    if args.py_spy:
        results["py_spy"] = py_spy_summary(args.py_spy)
    client_cpu = results["client_cpu_per_process"]
    results.update(server_figures(sampler, args.duration, results["events_per_s"], client_cpu))
    results["db_events"] = count_events(bench_url, "api")
    report.print_load(mode, results, args.batch_size)
    return results


def load_job(
    args: argparse.Namespace, port: int, token: str, clients: int, timing: Timing
) -> LoadJob:
    """The load generator's job for the server on `port`, with all `clients`."""
    return LoadJob(
        port=port,
        token=token,
        clients=clients,
        members=args.members,
        bulk=args.bulk,
        batch_size=args.batch_size,
        client=args.client,
        timing=timing,
        seed=args.seed,
    )


def py_spy_summary(directory: str) -> dict[str, Any]:
    """Sum up and print py-spy's stacks in `directory`; the summary for the JSON line."""
    spied = summarize(directory)
    report.print_py_spy(directory, spied)
    return spied.as_json()


def run_baselines(
    args: argparse.Namespace, bench_url: str, setup: Setup, clients: int, timing: Timing
) -> dict[str, Any]:
    """The single-event baseline (unless --no-baseline), with the batched one under
    "batched" (--bulk) and pgbench's under "pgbench" (--pgbench), each printed; errors
    of both psycopg baselines under "errors"."""
    baseline: dict[str, Any] = {}
    if not args.no_baseline:
        baseline = baseline_run(args, bench_url, setup, clients, timing, 1)
        if args.bulk:
            batched = baseline_run(args, bench_url, setup, clients, timing, args.batch_size)
            baseline["batched"] = summary.printed_only(batched)
            baseline["errors"] += batched["errors"]
    if args.pgbench:
        baseline["pgbench"] = run_pgbench(bench_url, setup, clients, args.duration, args.database)
        report.print_pgbench(baseline["pgbench"], clients)
    return baseline


def baseline_run(
    args: argparse.Namespace,
    bench_url: str,
    setup: Setup,
    clients: int,
    timing: Timing,
    batch_size: int,
) -> dict[str, Any]:
    """One psycopg baseline run of `batch_size` events per transaction, printed."""
    procs = args.baseline_procs
    result = run_baseline(bench_url, setup, clients, procs, timing, args.database, batch_size)
    report.print_baseline(result, clients)
    return result


def import_csv(args: argparse.Namespace, bench_url: str) -> dict[str, Any]:
    """--bulk: the timed `patron import` of a generated CSV, printed."""
    result = run_import(bench_url, args.csv_orders, args.members, args.batch_size)
    report.print_import(result, args.batch_size)
    return result


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception:  # the benchmark could not run (not: a request failed)
        import traceback

        traceback.print_exc()
        sys.exit(2)
