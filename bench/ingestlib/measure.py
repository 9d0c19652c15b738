"""What one worker process counts in the measured window, and the merged rates.

A worker records every request (or transaction) in a `Window`: its events count for the
part of its time inside the window, its latency only if it completed inside the window.
`Window.result()` is what crosses the process boundary; `merge` combines those.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from typing import Any

from ingestlib.harness import Timing

#: Error descriptions kept per process (and in the merged result).
ERROR_SAMPLES = 5


def window_share(began: float, ended: float, start: float, stop: float) -> float:
    """The part of a request's time inside the measured window: its events count for that
    part (a 10 s batch that straddles the window's end counts half if 5 s are inside)."""
    if ended <= began:
        return 1.0 if start <= ended < stop else 0.0
    return max(0.0, min(ended, stop) - max(began, start)) / (ended - began)


class Window:
    """The counters of one worker process over its run, given the common start time."""

    def __init__(self, start: float, timing: Timing) -> None:
        self.measure_from = start + timing.warmup
        self.stop_at = self.measure_from + timing.duration
        self.latencies_ms: list[float] = []
        self.ok_in_window = 0
        self.events_in_window = 0.0
        self.ok_total = 0
        self.events_total = 0
        self.errors = 0
        self.error_samples: list[str] = []
        self.statuses: Counter[Any] = Counter()
        self._cpu: dict[str, float] = {}

    def running(self) -> bool:
        """Whether a client should start another request (the window has not ended)."""
        return time.monotonic() < self.stop_at

    def count_status(self, status: Any) -> None:
        """Count one response status (or outcome)."""
        self.statuses[status] += 1

    def fail(self, description: str) -> None:
        """Count a failed request; keep its description if few are kept yet."""
        self.errors += 1
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(description)

    def succeed(self, began: float, ended: float, events: int) -> None:
        """Count a request of `events` events that ran from `began` to `ended`."""
        self.ok_total += 1
        self.events_total += events
        self.events_in_window += events * window_share(
            began, ended, self.measure_from, self.stop_at
        )
        if self.measure_from <= ended < self.stop_at:
            self.ok_in_window += 1
            self.latencies_ms.append((ended - began) * 1000)

    async def mark_cpu(self) -> None:
        """Read this process's CPU time at the window's start and end (run as a task)."""
        await asyncio.sleep(max(0.0, self.measure_from - time.monotonic()))
        self._cpu["from"] = time.process_time()
        await asyncio.sleep(max(0.0, self.stop_at - time.monotonic()))
        self._cpu["to"] = time.process_time()

    def result(self) -> dict[str, Any]:
        """The counters as a plain dict (for `merge`), with `cpu_s` used in the window."""
        return {
            "latencies_ms": self.latencies_ms,
            "ok_in_window": self.ok_in_window,
            "events_in_window": self.events_in_window,
            "ok_total": self.ok_total,
            "events_total": self.events_total,
            "errors": self.errors,
            "error_samples": self.error_samples,
            "statuses": dict(self.statuses),
            "cpu_s": self._cpu["to"] - self._cpu["from"],
        }


def merge(results: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """Rates, latency percentiles, errors and client CPU (cores per process) of all
    processes' `Window.result()`s over a window of `duration` s."""
    latencies = sorted(lat for result in results for lat in result["latencies_ms"])
    statuses: Counter[str] = Counter()
    for result in results:
        statuses.update({str(key): value for key, value in result["statuses"].items()})
    return {
        "requests_per_s": sum(r["ok_in_window"] for r in results) / duration,
        "events_per_s": sum(r["events_in_window"] for r in results) / duration,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else math.nan,
        "errors": sum(r["errors"] for r in results),
        "error_samples": [s for r in results for s in r["error_samples"]][:ERROR_SAMPLES],
        "ok_total": sum(r["ok_total"] for r in results),
        "events_total": sum(r["events_total"] for r in results),
        "statuses": dict(statuses),
        "client_cpu_per_process": [round(r["cpu_s"] / duration, 2) for r in results],
    }


def percentile(values: list[float], pct: float) -> float:
    """The nearest-rank `pct` percentile of sorted `values`; NaN if there are none."""
    if not values:
        return math.nan
    index = min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))
    return values[index]
