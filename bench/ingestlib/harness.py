"""Worker processes that start their measured work together, and the window they measure.

A worker is an async function `worker(job, start) -> dict` defined at module level (it is
pickled by reference for the `spawn` start method). It prepares (connections...), awaits
`start.wait()`, which returns the common monotonic start time, and returns its result;
`run_processes` runs one per job and collects the results.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

Job = TypeVar("Job")
Worker = Callable[[Job, "StartSignal"], Awaitable[dict[str, Any]]]

#: Seconds between releasing the workers and the start of their warm-up.
START_DELAY = 0.2
#: Seconds a worker may take to get ready; seconds a result may come after the window.
READY_TIMEOUT, RESULT_GRACE = 120, 300


@dataclass(frozen=True)
class Timing:
    """An unmeasured warm-up, then the measured window, both in seconds."""

    warmup: float
    duration: float


@dataclass(frozen=True)
class StartSignal:
    """The handshake with the parent: say ready, wait for go, read the start time."""

    ready: Any  # multiprocessing Queue: the worker's pid when ready
    go: Any  # multiprocessing Event: set once every worker is ready
    start: Any  # multiprocessing Value("d"): the common monotonic start time

    async def wait(self) -> float:
        """Report ready, wait (without blocking the event loop) for go; the start time."""
        self.ready.put(os.getpid())
        await asyncio.get_running_loop().run_in_executor(None, self.go.wait)
        return float(self.start.value)


def split(total: int, parts: int) -> list[int]:
    """`total` divided into at most `parts` near-equal positive parts (at least one)."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_async(awaitable: Awaitable[dict[str, Any]]) -> dict[str, Any]:
    """Run a coroutine to completion on uvloop if it is installed, asyncio otherwise."""
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    result: dict[str, Any] = runner(awaitable)
    return result


def _process_main(worker: Worker[Any], job: Any, start: StartSignal, out: Any) -> None:
    """The body of one worker process: run the worker, put its result on `out`."""
    out.put(run_async(worker(job, start)))


def run_processes(
    worker: Worker[Job],
    jobs: Sequence[Job],
    timing: Timing,
    on_window: Callable[[float, float], None],
) -> list[dict[str, Any]]:
    """Run `worker` in one spawned process per job, released together once all are ready;
    their results, in the order the workers finish. `on_window(begin, end)` runs in this
    process in a thread with the monotonic bounds of the measured window (to sample server
    and PostgreSQL CPU); it is joined before returning. Processes still alive at the end
    are terminated."""
    context = mp.get_context("spawn")
    ready, out = context.Queue(), context.Queue()
    signal = StartSignal(ready, context.Event(), context.Value("d", 0.0))
    processes = [
        context.Process(target=_process_main, args=(worker, job, signal, out)) for job in jobs
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=READY_TIMEOUT)
        watcher = _release(signal, timing, on_window)
        timeout = timing.warmup + timing.duration + RESULT_GRACE
        results = [out.get(timeout=timeout) for _ in processes]
        watcher.join()
        for process in processes:
            process.join(timeout=30)
        return results
    finally:
        _terminate(processes)


def _release(
    signal: StartSignal, timing: Timing, on_window: Callable[[float, float], None]
) -> threading.Thread:
    """Set the start time, release the workers, start `on_window` in a thread (returned)."""
    signal.start.value = time.monotonic() + START_DELAY
    signal.go.set()
    begin = signal.start.value + timing.warmup
    watcher = threading.Thread(target=on_window, args=(begin, begin + timing.duration), daemon=True)
    watcher.start()
    return watcher


def _terminate(processes: Sequence[Any]) -> None:
    """Terminate and reap those of `processes` still alive."""
    for process in processes:
        if process.is_alive():
            process.terminate()
            process.join()
