"""Sampling the server workers with py-spy during the measured window (`--py-spy DIR`), and
summing up the raw stacks it writes."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestlib.settings import BIN

#: Functions whose inclusive share of the samples is reported.
SPY_FUNCTIONS = [
    "record_order_paid",
    "caller",
    "solve_dependencies",
    "run_in_threadpool",
    "Queue.put",
    "Connection.execute",
    "ClauseElement._compile_w_cache",
    "HasCacheKey._generate_cache_key",
    "SQLCompiler.__init__",
    "DefaultExecutionContext._setup_result_proxy",
    "Cursor.execute",
    "Cursor.executemany",
    "Connection.wait",
    "BaseModel.model_dump",
    "request_fingerprint",
    "_json_dumps",
    "JSONResponse.render",
    "EventRepository.claim",
    "OrderRepository.insert",
    "MemberLedger.__init__",
    "MemberLedger.credit",
    "UnitOfWork.__enter__",
    "UnitOfWork.__exit__",
]
#: Seconds a py-spy recorder may take to finish after the window.
WAIT_TIMEOUT = 60


class Spies:
    """py-spy recorders of `pids`, writing raw stacks to `directory`/worker-PID.txt, started
    at the beginning of the measured window; nothing at all if `directory` is None. With
    `gil` only threads holding the GIL are sampled, otherwise all threads, idle too."""

    def __init__(self, directory: str | None, pids: list[int], gil: bool) -> None:
        self.directory = directory
        self.pids = pids
        self.gil = gil
        self.processes: list[subprocess.Popen[bytes]] = []

    def start_at(self, begin: float, end: float) -> None:
        """Sleep until monotonic time `begin`, then record until `end`."""
        if self.directory is None:
            return
        time.sleep(max(0.0, begin - time.monotonic()))
        Path(self.directory).mkdir(parents=True, exist_ok=True)
        self.processes = [self._record(pid, end - begin) for pid in self.pids]

    def wait(self) -> None:
        """Wait for the recorders to finish writing."""
        for process in self.processes:
            process.wait(timeout=WAIT_TIMEOUT)

    def _record(self, pid: int, duration: float) -> subprocess.Popen[bytes]:
        assert self.directory is not None
        output = Path(self.directory) / f"worker-{pid}.txt"
        command = [str(BIN / "py-spy"), "record", "--pid", str(pid)]
        command += ["--duration", str(int(duration)), "--rate", "200", "--format", "raw"]
        command += ["--nonblocking", "-o", str(output), "--gil" if self.gil else "--idle"]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@dataclass
class SpySummary:
    """Samples over all workers: own time by package of the innermost frame, by innermost
    frame, and inclusive time by function name."""

    total: int = 0
    packages: Counter[str] = field(default_factory=Counter)
    leaves: Counter[str] = field(default_factory=Counter)
    inclusive: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[str], count: int) -> None:
        """Count a stack (outermost frame first) sampled `count` times."""
        self.total += count
        leaf = frames[-1]
        self.leaves[leaf] += count
        location = leaf[leaf.find("(") + 1 :].split(":")[0]
        package = location.split("/")[0] if "/" in location else "stdlib/" + location
        self.packages[package] += count
        for name in {frame.split(" (")[0] for frame in frames}:
            self.inclusive[name] += count

    def pct(self, count: int) -> float:
        """`count` as a percentage of all samples."""
        return 100 * count / self.total

    def shares(self) -> dict[str, float]:
        """The inclusive percentage of each of SPY_FUNCTIONS (one decimal)."""
        return {name: round(self.pct(self.inclusive[name]), 1) for name in SPY_FUNCTIONS}

    def as_json(self) -> dict[str, Any]:
        """Samples, top 10 packages' and SPY_FUNCTIONS' percentages; {} without samples."""
        if not self.total:
            return {}
        return {
            "samples": self.total,
            "packages_pct": {k: round(self.pct(v), 1) for k, v in self.packages.most_common(10)},
            "inclusive_pct": self.shares(),
        }


def summarize(directory: str) -> SpySummary:
    """Sum up the raw stacks ("frame;frame;... count" lines) of every worker-*.txt."""
    summary = SpySummary()
    for path in Path(directory).glob("worker-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, count_text = line.rpartition(" ")
            if count_text.isdigit():
                summary.add(stack.split(";"), int(count_text))
    return summary
