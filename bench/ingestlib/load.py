"""The load generator: processes of concurrent keep-alive clients posting paid orders to
Patron (`POST /v1/orders`, or `POST /v1/orders/batch` in bulk mode) for a fixed time."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ingestlib.clients import Connections, Http
from ingestlib.harness import StartSignal, Timing, run_processes, split
from ingestlib.measure import Window, merge
from ingestlib.workload import order_body


@dataclass(frozen=True)
class LoadJob:
    """What one load-generator process does. `proc` numbers the process (order ids and
    random seeds are unique per process and client)."""

    port: int
    token: str
    clients: int
    members: int
    bulk: bool
    batch_size: int
    client: str  # "raw" or "httpx"
    timing: Timing
    seed: str
    proc: int = 0


@dataclass
class _Request:
    """One request to send: where, what, which status means success, how many orders,
    and whether it is a batch (whose response says how many were created)."""

    path: str
    body: bytes
    expected: int
    size: int
    batch: bool


def run_load(job: LoadJob, procs: int, on_window: Callable[[float, float], None]) -> dict[str, Any]:
    """Drive the server with `job.clients` clients spread over `procs` processes; the
    merged results (see `measure.merge`). `on_window` is as in `harness.run_processes`."""
    jobs = [
        replace(job, clients=count, proc=proc)
        for proc, count in enumerate(split(job.clients, procs))
    ]
    return merge(run_processes(drive, jobs, job.timing, on_window), job.timing.duration)


async def drive(job: LoadJob, start: StartSignal) -> dict[str, Any]:
    """One load-generator process: `job.clients` concurrent clients on asyncio until the
    end of the window; its `Window.result()`."""
    connections = Connections(job.client, job.port, job.token, job.clients)
    window = Window(await start.wait(), job.timing)
    clients = [_client(job, n, connection, window) for n, connection in enumerate(connections.each)]
    await asyncio.gather(window.mark_cpu(), *clients)
    await connections.close()
    return window.result()


async def _client(job: LoadJob, number: int, connection: Http, window: Window) -> None:
    """Client `number`: post one request after another while the window runs."""
    rng = random.Random(f"{job.seed}-{job.proc}-{number}")
    order_ids = (f"o-{job.proc}-{number}-{sequence}" for sequence in itertools.count())
    while window.running():
        request = _request(job, rng, order_ids)
        began = time.monotonic()
        try:
            status, data = await connection.post(request.path, request.body)
        except Exception as error:
            status, data = 0, repr(error).encode()
        _record(window, request, status, data, began, time.monotonic())


def _request(job: LoadJob, rng: random.Random, order_ids: Iterator[str]) -> _Request:
    """The next request: one order, or in bulk mode a batch of `job.batch_size` orders,
    of random members, occurring now."""
    occurred = datetime.now(UTC).isoformat()
    if job.bulk:
        orders = [
            order_body(next(order_ids), rng.randrange(job.members), rng, occurred)
            for _ in range(job.batch_size)
        ]
        return _Request("/v1/orders/batch", _json({"orders": orders}), 200, len(orders), True)
    order = order_body(next(order_ids), rng.randrange(job.members), rng, occurred)
    return _Request("/v1/orders", _json(order), 201, 1, False)


def _json(payload: dict[str, Any]) -> bytes:
    """`payload` as compact JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()


def _record(
    window: Window, request: _Request, status: int, data: bytes, began: float, ended: float
) -> None:
    """Count a response: success only with the expected status and, for a batch, every
    order created."""
    window.count_status(status)
    created = request.size
    if status == request.expected and request.batch:
        created = json.loads(data)["created"]
    if status != request.expected or created != request.size:
        window.fail(f"{status}: {data[:300]!r}")
    else:
        window.succeed(began, ended, created)
