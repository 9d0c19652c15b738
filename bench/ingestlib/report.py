"""Everything the benchmark prints: readable lines as it goes, then the final JSON line."""

from __future__ import annotations

import json
import math
from typing import Any

from ingestlib.pyspy import SpySummary


def print_conditions(conditions: dict[str, Any]) -> None:
    """The conditions, one per line."""
    print("conditions:")
    for key, value in conditions.items():
        print(f"  {key:16} {value}")


def print_setup(members: int, seconds: float) -> None:
    """How long the set-up took."""
    print(f"set-up: {members} members in {seconds:.1f} s")


def print_load_start(mode: str, clients: int, warmup: float, duration: float) -> None:
    """What the load generator is about to do."""
    print(f"load: {mode}, {clients} clients, {warmup:g} s warm-up + {duration:g} s")


def print_load(mode: str, results: dict[str, Any], batch_size: int) -> None:
    """Patron's figures under load: rates, latencies, errors, CPU, orders in the database."""
    unit = "batch" if mode == "bulk" else "request"
    print(f"Patron ({mode}):")
    print(f"  events/s          {results['events_per_s']:,.1f}")
    if mode == "bulk":
        print(f"  batches/s         {results['requests_per_s']:,.2f} ({batch_size} orders each)")
    print(
        f"  latency per {unit}  p50 {results['p50_ms']:.1f} ms  p90 {results['p90_ms']:.1f} ms"
        f"  p99 {results['p99_ms']:.1f} ms  max {results['max_ms']:.1f} ms"
    )
    print(f"  errors            {results['errors']}  statuses {results['statuses']}")
    _print_errors(results["error_samples"])
    print(
        f"  CPU (cores)       server {results['server_cpu_cores']} "
        f"({100 * results['server_system_cpu_share']:.0f} % in the kernel)  "
        f"PostgreSQL {results['postgres_cpu_cores']}  "
        f"client/process {results['client_cpu_per_process']}  idle {results['machine_idle']}  "
        f"other {results['other_cpu_cores']}"
    )
    print(f"  acknowledged {results['events_total']} orders; {results['db_events']} in DB")


def print_py_spy(directory: str, summary: SpySummary) -> None:
    """Own time by package, the hottest frames, inclusive shares; nothing without samples."""
    if not summary.total:
        return
    print(f"py-spy ({directory}): {summary.total} samples")
    packages = summary.packages.most_common(10)
    print(
        "  own time by package: "
        + ", ".join(f"{name} {summary.pct(count):.1f}%" for name, count in packages)
    )
    print("  hottest frames:")
    for leaf, count in summary.leaves.most_common(12):
        print(f"    {summary.pct(count):5.1f}%  {leaf}")
    shares = summary.shares().items()
    print("  inclusive: " + ", ".join(f"{name} {pct}%" for name, pct in shares))


def print_baseline(result: dict[str, Any], clients: int) -> None:
    """What a baseline run did and its figures."""
    batch_size = result["batch_size"]
    if batch_size == 1:
        what = (
            "BEGIN, INSERT events, UPDATE member_balances, INSERT ledger_transactions, "
            "INSERT 2 ledger_entries, COMMIT"
        )
    else:
        what = (
            f"{batch_size} events per transaction: BEGIN, lock balances in member order, then "
            "one multi-row statement each for events, member_balances, ledger_transactions, "
            "ledger_entries, COMMIT"
        )
    print(
        f"baseline (psycopg async, {clients} connections in {result['procs']} processes; "
        f"{what}; on Patron's tables):"
    )
    print(
        f"  {result['tx_per_s']:,.1f} tx/s = {result['events_per_s']:,.0f} events/s  "
        f"p50 {result['p50_ms']:.1f} ms  p99 {result['p99_ms']:.1f} ms  "
        f"errors {result['errors']}  client CPU/process {result['client_cpu_per_process']}  "
        f"PostgreSQL CPU {result['postgres_cpu_cores']} cores  idle {result['machine_idle']}  "
        f"other {result['other_cpu_cores']} cores"
    )
    _print_errors(result["error_samples"])


def print_pgbench(pgbench: dict[str, Any], clients: int) -> None:
    """pgbench's rate and CPU per transaction."""
    print(
        f"pgbench (C client, same transaction, prepared, {clients} connections): "
        f"{pgbench['tx_per_s']:,.0f} tx/s; CPU ms per tx {pgbench.get('cpu_ms_per_tx')}"
    )


def print_import(csv_import: dict[str, Any], batch_size: int) -> None:
    """The CSV import's rate, and its error output if it did not create every order."""
    print(
        f"CSV import (`patron import`, {csv_import['orders']} orders, batch "
        f"{batch_size}): {csv_import['created']} created in "
        f"{csv_import['seconds']:.1f} s = {csv_import['events_per_s']:,.0f} events/s"
        " (wall time of the command, start-up included)"
    )
    if csv_import["exit"] != 0 or csv_import["created"] != csv_import["orders"]:
        print(f"  import failed: exit {csv_import['exit']}\n{csv_import['stderr']}")


def print_mismatch(results: dict[str, Any]) -> None:
    """A warning if the database holds another number of orders than acknowledged."""
    if results["db_events"] != results["events_total"]:
        print(
            f"MISMATCH: {results['events_total']} orders acknowledged, "
            f"{results['db_events']} events in the database"
        )


def print_comparison(
    results: dict[str, Any], baseline: dict[str, Any], ratio: float, cpu_ratio: float
) -> None:
    """Patron's CPU per event and, if the baseline ran, the ratios to it."""
    print(f"CPU ms per event: Patron {results['cpu_ms_per_event']}")
    if "tx_per_s" in baseline:
        print(f"ratio: {ratio:.3f} (Patron events/s / single-event baseline tx/s)")
        print(
            f"CPU ms per transaction: baseline {baseline['cpu_ms_per_tx']}; CPU-bound "
            f"ratio {cpu_ratio:.3f} (the ratio on an otherwise idle machine, if both "
            "stay CPU-bound)"
        )


def print_bulk_ratio(ratio: float) -> None:
    """Patron's batches against the batched baseline."""
    print(f"bulk ratio: {ratio:.4f} (Patron events/s / batched baseline events/s)")


def print_profile(report: dict[str, Any]) -> None:
    """The in-process profile: times, statements, round trips, then cProfile's text."""
    print(f"in-process profile, {report['orders']} orders one at a time:")
    print(
        f"  via HTTP (TestClient): {report['in_process_http_ms_per_order']:.2f} ms/order, of "
        f"which {report['in_process_http_cpu_ms_per_order']:.2f} ms CPU in this process "
        "(TestClient included)"
    )
    print(
        f"  route only (no HTTP): {report['in_process_direct_ms_per_order']:.2f} ms/order, of "
        f"which {report['in_process_direct_cpu_ms_per_order']:.2f} ms CPU"
    )
    print(f"  SQL statements per order: {report['statements_per_order']:.1f}")
    for label, count in report["statements"].items():
        print(f"    {count:5.2f}  {label}")
    print(f"  protocol round trips (ReadyForQuery) per order: {report['round_trips_per_order']}")
    print(f"  simple-protocol commands per order: {report['simple_queries_per_order']}")
    print(
        "  server-side PREPAREs (Parse _pg3_*) per order: "
        f"{report['server_side_prepares_per_order']}"
    )
    print(f"  protocol messages per order: {report['protocol_messages_per_order']}")
    print("  one order, in order: " + " | ".join(report["one_order_sequence"]))
    print(report["cprofile"])


def print_line(line: dict[str, Any]) -> None:
    """The final line: one JSON object, NaN as null."""
    print(json.dumps(without_nan(line)))


def without_nan(value: Any) -> Any:
    """`value` with every NaN (a part that did not run) as None, recursively through dicts
    and lists, so that the line is strict JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {key: without_nan(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nan(item) for item in value]
    return value


def _print_errors(samples: list[str]) -> None:
    for sample in samples:
        print(f"  error: {sample}")
