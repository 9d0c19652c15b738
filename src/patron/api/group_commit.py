"""Group commit for single paid orders: concurrent `POST /v1/orders` requests of one
process are recorded together, in one transaction through `ingest.record_orders_paid`.

Each request still gets its own outcome (201 created, 200 replayed, or its 4xx) and its
response leaves only after the shared transaction has committed, so durability and
exactly-once are unchanged; what is shared is the cost of the statements and the commit.
A collector thread takes what has queued (up to `max_batch`), groups it by caller and
program, and runs each group through `run_write`. It stops when idle and starts again on
the next order. Requests with an Idempotency-Key do not come here (their stored response
belongs to their own transaction).
"""

from __future__ import annotations

import queue
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine

from patron.db.uow import UnitOfWork
from patron.schemas.orders import OrderPaidIn
from patron.services.context import Caller
from patron.services.ingest import Outcome, record_orders_paid
from patron.services.programs import resolve_program
from patron.services.write_path import WriteResult, run_write

IDLE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class _Request:
    caller: Caller
    program_code: str | None
    order: OrderPaidIn
    outcome: Future[Outcome] = field(default_factory=Future)


class OrderGroupCommit:
    """Records single orders of concurrent requests in shared transactions."""

    def __init__(
        self, engine: Engine, clock: Callable[[], datetime], *, max_batch: int = 200
    ) -> None:
        self._engine = engine
        self._clock = clock
        self._max_batch = max_batch
        self._queue: queue.Queue[_Request] = queue.Queue()
        self._lock = threading.Lock()
        self._running = False

    def record(self, caller: Caller, program_code: str | None, order: OrderPaidIn) -> Outcome:
        """Queue one order and wait for its outcome (blocking; call from a worker thread)."""
        request = _Request(caller, program_code, order)
        self._queue.put(request)
        self._ensure_collector()
        return request.outcome.result()

    def _ensure_collector(self) -> None:
        with self._lock:
            if not self._running:
                self._running = True
                threading.Thread(
                    target=self._collect, name="order-group-commit", daemon=True
                ).start()

    def _collect(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._running = False
                        return
                continue
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._record(batch)

    def _record(self, batch: list[_Request]) -> None:
        groups: dict[tuple[Caller, str | None], list[_Request]] = defaultdict(list)
        for request in batch:
            groups[(request.caller, request.program_code)].append(request)
        for (caller, program_code), requests in groups.items():
            try:
                outcomes = self._write(caller, program_code, [r.order for r in requests])
            except BaseException as error:
                for request in requests:
                    request.outcome.set_exception(error)
                continue
            for request, outcome in zip(requests, outcomes, strict=True):
                request.outcome.set_result(outcome)

    def _write(
        self, caller: Caller, program_code: str | None, orders: list[OrderPaidIn]
    ) -> list[Outcome]:
        now = self._clock()
        found: list[Outcome] = []

        def step(uow: UnitOfWork) -> WriteResult:
            program = resolve_program(uow, caller.tenant_id, program_code)
            found[:] = record_orders_paid(uow, caller, program, orders, now)
            return WriteResult(201, None)

        run_write(self._engine, step, tenant_id=caller.tenant_id, now=now)
        return found
