"""The hand-written baseline: the essential writes of a paid order (event, balance, ledger
transaction, two entries) straight on psycopg, one transaction per event (or per batch),
with the same concurrency as Patron's clients, on Patron's own tables."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ingestlib.baseline_sql import BATCH, SINGLE
from ingestlib.cpu import CpuSampler, cpu_per_event, other_cpu
from ingestlib.database import Setup, libpq_url
from ingestlib.harness import StartSignal, Timing, run_processes, split
from ingestlib.measure import Window, merge
from ingestlib.workload import order_body

Connection = psycopg.AsyncConnection[Any]
#: A transaction of a client: (job, connection, rng, order id) -> events written.
Transaction = Callable[["BaselineJob", Connection, random.Random, str], Awaitable[int]]


@dataclass(frozen=True)
class BaselineJob:
    """What one baseline process does: `clients` connections to `dsn` (libpq URL), each
    running transactions of `batch_size` events (1: the single-event transaction)."""

    dsn: str
    setup: Setup
    clients: int
    timing: Timing
    batch_size: int = 1
    proc: int = 0


def run_baseline(
    bench_url: str,
    setup: Setup,
    clients: int,
    procs: int,
    timing: Timing,
    database: str,
    batch_size: int = 1,
) -> dict[str, Any]:
    """Run the baseline with `clients` connections in `procs` processes; its rates,
    latencies, errors and CPU figures (PostgreSQL's: backends of `database` only)."""
    jobs = [
        BaselineJob(libpq_url(bench_url), setup, count, timing, batch_size, proc)
        for proc, count in enumerate(split(clients, procs))
    ]
    sampler = CpuSampler([], database)
    merged = merge(run_processes(drive, jobs, timing, sampler), timing.duration)
    return {
        **_figures(merged, sampler, timing.duration),
        "procs": len(jobs),
        "batch_size": batch_size,
        "tables": "Patron's own: events, member_balances, ledger_transactions, ledger_entries",
    }


def _figures(merged: dict[str, Any], sampler: CpuSampler, duration: float) -> dict[str, Any]:
    """Rates, latencies, errors and CPU of a run from its merged results and its sampler."""
    postgres_cores = round(sampler.postgres_cpu / duration, 2)
    client_cpu = merged["client_cpu_per_process"]
    return {
        "tx_per_s": merged["requests_per_s"],
        "events_per_s": merged["events_per_s"],
        "p50_ms": round(merged["p50_ms"], 2),
        "p99_ms": round(merged["p99_ms"], 2),
        "errors": merged["errors"],
        "error_samples": merged["error_samples"],
        "client_cpu_per_process": client_cpu,
        "postgres_cpu_cores": postgres_cores,
        "machine_idle": round(sampler.idle_fraction, 2),
        "other_cpu_cores": other_cpu(sampler, postgres_cores, client_cpu),
        "cpu_ms_per_tx": cpu_per_event(
            merged["requests_per_s"],
            postgres=sampler.postgres_cpu / duration,
            client=sum(client_cpu),
        ),
    }


async def drive(job: BaselineJob, start: StartSignal) -> dict[str, Any]:
    """One baseline process: `job.clients` connections (opened before the start), each
    running transactions until the end of the window; its `Window.result()`."""
    connections = [
        await psycopg.AsyncConnection.connect(job.dsn, autocommit=True) for _ in range(job.clients)
    ]
    window = Window(await start.wait(), job.timing)
    transaction = _batch if job.batch_size > 1 else _single
    clients = [
        _client(job, number, connection, window, transaction)
        for number, connection in enumerate(connections)
    ]
    await asyncio.gather(window.mark_cpu(), *clients)
    for connection in connections:
        await connection.close()
    return window.result()


async def _client(
    job: BaselineJob,
    number: int,
    connection: Connection,
    window: Window,
    transaction: Transaction,
) -> None:
    """Client `number`: one transaction after another while the window runs; a failed
    one counts as an error."""
    rng = random.Random(f"baseline-{job.proc}-{number}")
    order_ids = (f"b-{job.proc}-{number}-{sequence}" for sequence in itertools.count())
    while window.running():
        order_id = next(order_ids)
        began = time.monotonic()
        try:
            events = await transaction(job, connection, rng, order_id)
        except Exception as error:
            window.fail(repr(error)[:300])
            continue
        ended = time.monotonic()
        window.count_status("commit")
        window.succeed(began, ended, events)


async def _fetch(connection: Connection, sql: str, params: tuple[Any, ...]) -> Any:
    """Execute `sql`; its first row (which must exist)."""
    row = await (await connection.execute(sql, params)).fetchone()
    assert row is not None
    return row


def _random_member(setup: Setup, rng: random.Random) -> tuple[int, int]:
    """(index, id) of a random pre-enrolled member."""
    index = rng.randrange(setup["last_member_id"] - setup["first_member_id"] + 1)
    return index, setup["first_member_id"] + index


def _accounts(brand: int, member_id: int) -> list[str]:
    """The ledger accounts an earn moves points between: the brand's issued points, the
    member's available points."""
    return [f"brand:{brand}:issued", f"member:{member_id}:available"]


async def _single(
    job: BaselineJob, connection: Connection, rng: random.Random, order_id: str
) -> int:
    """BEGIN; INSERT event; UPDATE balance; INSERT ledger transaction; INSERT 2 entries;
    COMMIT -- one round trip each. 1 (event)."""
    setup = job.setup
    tenant, program, brand = setup["tenant_id"], setup["program_id"], setup["brand_id"]
    member_index, member_id = _random_member(setup, rng)
    now = datetime.now(UTC)
    payload = order_body(order_id, member_index, rng, now.isoformat())
    points = payload["total"]["amount"] // 100
    event_row = (tenant, program, order_id, brand, member_id, Jsonb(payload), now, now)
    async with connection.transaction():
        event = await _fetch(connection, SINGLE["event"], event_row)
        await connection.execute(SINGLE["balance"], (points, points, member_id))
        tx_row = (tenant, program, member_id, event[0], setup["api_key_id"], now, now)
        tx = await _fetch(connection, SINGLE["transaction"], tx_row)
        issued, available = _accounts(brand, member_id)
        entries = (tx[0], tenant, issued, -points, tx[0], tenant, available, points, member_id)
        await connection.execute(SINGLE["entries"], entries)
    return 1


@dataclass
class _Batch:
    """A batch's orders as columns: order ids, member ids, JSON payloads, points by id."""

    ids: list[str] = field(default_factory=list)
    members: list[int] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)
    points: dict[str, int] = field(default_factory=dict)

    def add(self, payload: dict[str, Any], member_id: int) -> None:
        """Append an order of `member_id`."""
        self.ids.append(payload["order_id"])
        self.members.append(member_id)
        self.payloads.append(json.dumps(payload, separators=(",", ":")))
        self.points[payload["order_id"]] = payload["total"]["amount"] // 100


def _draw_batch(job: BaselineJob, rng: random.Random, order_id: str, occurred: str) -> _Batch:
    """`job.batch_size` orders of random members, ids `order_id`-0, -1..."""
    batch = _Batch()
    for index in range(job.batch_size):
        member_index, member_id = _random_member(job.setup, rng)
        batch.add(order_body(f"{order_id}-{index}", member_index, rng, occurred), member_id)
    return batch


async def _batch(
    job: BaselineJob, connection: Connection, rng: random.Random, order_id: str
) -> int:
    """One transaction for a whole batch: lock the balances in member order, then one
    multi-row statement each for events, balances, ledger transactions and entries. The
    number of events written."""
    setup = job.setup
    tenant, program, brand = setup["tenant_id"], setup["program_id"], setup["brand_id"]
    now = datetime.now(UTC)
    batch = _draw_batch(job, rng, order_id, now.isoformat())
    event_points = [batch.points[source_id] for source_id in batch.ids]
    async with connection.transaction():
        await connection.execute(BATCH["lock"], (sorted(set(batch.members)),))
        cursor = await connection.execute(
            BATCH["events"],
            (tenant, program, brand, now, now, batch.ids, batch.members, batch.payloads),
        )
        events = await cursor.fetchall()
        await connection.execute(BATCH["balances"], (batch.members, event_points))
        event_ids, member_ids = [row[0] for row in events], [row[1] for row in events]
        cursor = await connection.execute(
            BATCH["transactions"],
            (tenant, program, setup["api_key_id"], now, now, event_ids, member_ids),
        )
        by_event = {row[0]: batch.points[row[2]] for row in events}
        entries = _entry_columns(await cursor.fetchall(), by_event, brand)
        await connection.execute(BATCH["entries"], (tenant, *entries))
    return len(events)


def _entry_columns(
    transactions: list[Any], by_event: dict[int, int], brand: int
) -> tuple[list[int], list[str], list[int], list[int | None]]:
    """The ledger entries of (transaction id, member id, event id) rows, two each, as
    columns: transaction ids, accounts, amounts, owning members."""
    tx_ids: list[int] = []
    accounts: list[str] = []
    amounts: list[int] = []
    owners: list[int | None] = []
    for tx_id, member_id, event_id in transactions:
        amount = by_event[event_id]
        tx_ids += [tx_id, tx_id]
        accounts += _accounts(brand, member_id)
        amounts += [-amount, amount]
        owners += [None, member_id]
    return tx_ids, accounts, amounts, owners
