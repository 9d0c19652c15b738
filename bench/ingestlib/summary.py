"""The comparison figures of a run (ratios, error count) and its final JSON line."""

from __future__ import annotations

import math
from typing import Any

#: Keys left out of the final line (printed already, too long).
_PRINTED_ONLY = ("error_samples", "stderr")


def count_errors(
    results: dict[str, Any], baseline: dict[str, Any], csv_import: dict[str, Any] | None
) -> int:
    """Failed requests and baseline transactions, plus one for a failed or incomplete CSV
    import (None: none ran) and one if the database disagrees with what was acknowledged."""
    errors = int(results["errors"]) + int(baseline.get("errors", 0))
    if csv_import is not None and (csv_import["exit"] != 0 or csv_import["rejected"]):
        errors += 1
    if results["db_events"] != results["events_total"]:
        errors += 1
    return errors


def ratio(results: dict[str, Any], baseline: dict[str, Any]) -> float:
    """Patron's events/s over the single-event baseline's tx/s (NaN without a baseline)."""
    baseline_tps = baseline.get("tx_per_s", math.nan)
    return results["events_per_s"] / baseline_tps if baseline_tps else math.nan


def cpu_bound_ratio(results: dict[str, Any], baseline: dict[str, Any]) -> float:
    """The ratio of CPU-bound rates: what `ratio` would be on an otherwise idle machine if
    both stayed CPU-bound (NaN if either is unknown)."""
    patron = results["cpu_ms_per_event"].get("cpu_bound_rate", math.nan)
    other = baseline.get("cpu_ms_per_tx", {}).get("cpu_bound_rate", math.nan)
    return float(patron / other) if other else math.nan


def add_bulk_ratio(results: dict[str, Any], baseline: dict[str, Any]) -> float:
    """Patron's events/s over the batched baseline's, also stored as its "ratio"."""
    bulk_ratio: float = results["events_per_s"] / baseline["batched"]["events_per_s"]
    baseline["batched"]["ratio"] = round(bulk_ratio, 4)
    return bulk_ratio


def printed_only(part: dict[str, Any]) -> dict[str, Any]:
    """`part` without what is only printed (error samples, stderr)."""
    return {key: value for key, value in part.items() if key not in _PRINTED_ONLY}


def final_line(
    results: dict[str, Any],
    baseline: dict[str, Any],
    csv_import: dict[str, Any] | None,
    errors: int,
    conditions: dict[str, Any],
) -> dict[str, Any]:
    """The final JSON object of a load run (its `mode` from `conditions`); `csv_import` is
    included in bulk mode (not None)."""
    line = {
        "mode": conditions["mode"],
        "events_per_s": round(results["events_per_s"], 1),
        "p50_ms": round(results["p50_ms"], 2),
        "p99_ms": round(results["p99_ms"], 2),
        "baseline_tx_per_s": round(baseline.get("tx_per_s", math.nan), 1),
        "ratio": round(ratio(results, baseline), 3),
        "errors": errors,
        "requests_per_s": round(results["requests_per_s"], 1),
        "p90_ms": round(results["p90_ms"], 2),
        "max_ms": round(results["max_ms"], 2),
        "cpu_ms_per_event": results["cpu_ms_per_event"],
        "cpu_bound_ratio": round(cpu_bound_ratio(results, baseline), 3),
        **{key: results[key] for key in _CPU_KEYS},
        "baseline": printed_only(baseline),
        "py_spy": results.get("py_spy"),
        "conditions": conditions,
    }
    if csv_import is not None:
        line["csv_import"] = printed_only(csv_import)
    return line


_CPU_KEYS = (
    "server_cpu_cores",
    "server_system_cpu_share",
    "postgres_cpu_cores",
    "client_cpu_per_process",
    "machine_idle",
    "other_cpu_cores",
)


def profile_line(report: dict[str, Any], conditions: dict[str, Any]) -> dict[str, Any]:
    """The final JSON object of `--profile`: the report without cProfile's text."""
    line = {key: value for key, value in report.items() if key != "cprofile"}
    line.update(mode="profile", conditions=conditions)
    return line
