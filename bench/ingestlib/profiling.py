"""The in-process profile (`--profile N`): SQL statements and protocol round trips per order
through the real app (FastAPI's TestClient, one order at a time), then where the CPU goes
without HTTP (dependencies + route function, timed, then under cProfile)."""

from __future__ import annotations

import asyncio
import cProfile
import io
import json
import pstats
import random
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from ingestlib.database import Setup
from ingestlib.settings import HOST
from ingestlib.workload import order_body

#: Seed of the profiled orders.
SEED = 11


def describe(statement: str) -> str:
    """'INSERT events', 'SELECT members', 'SELECT member_balances FOR UPDATE'..."""
    words = statement.split()
    verb = words[0].upper() if words else "?"
    if verb == "INSERT":
        table = words[2]
    elif verb == "UPDATE":
        table = words[1]
    else:
        match = re.search(r"\bFROM\s+(\w+)", statement)
        table = match.group(1) if match else " ".join(words[1:3])
    suffix = " FOR UPDATE" if "FOR UPDATE" in statement else ""
    return f"{verb} {table}{suffix}"


class SqlRecorder:
    """Counts the statements an engine executes (with commits and rollbacks, in order), and
    once started traces the libpq protocol of every connection from its next use: new
    ones when they connect, pooled ones when they come back (so their next pre-ping is
    traced too) or, if idle in the pool, at `start`."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: Counter[str] = Counter()
        self.sequence: list[str] = []
        self._traced: list[tuple[Any, Any]] = []  # (psycopg connection, its trace file)
        self._tracing = threading.Event()
        event.listen(engine, "connect", self._on_pool_event)
        event.listen(engine, "checkin", self._on_pool_event)
        event.listen(engine, "before_cursor_execute", self._count)
        for name in ("commit", "rollback"):
            event.listen(engine, name, lambda _c, name=name: self.sequence.append(name.upper()))

    def start(self) -> None:
        """Start tracing (pooled connections at once) and counting from zero."""
        self._tracing.set()
        for record in list(self.engine.pool._pool.queue):
            self._trace(record.dbapi_connection)
        self.statements.clear()
        self.sequence.clear()

    def stop(self) -> None:
        """Trace no further connections (those traced stay traced until `protocol`)."""
        self._tracing.clear()

    def protocol(self) -> tuple[Counter[str], Counter[str], int]:
        """End the traces: protocol messages by type, simple-protocol commands by verb, and
        server-side PREPAREs of psycopg's automatic prepared statements."""
        messages: Counter[str] = Counter()
        simple_queries: Counter[str] = Counter()
        prepares = 0
        for dbapi_connection, handle in self._traced:
            dbapi_connection.pgconn.untrace()
            handle.seek(0)
            trace_text = handle.read()
            handle.close()
            messages.update(_message_types(trace_text))
            simple_queries.update(re.findall(r'\tQuery\t "(\w+)', trace_text))
            prepares += len(re.findall(r'\tParse\t "_pg3_', trace_text))
        return messages, simple_queries, prepares

    def _on_pool_event(self, dbapi_connection: Any, _record: Any) -> None:
        self._trace(dbapi_connection)

    def _trace(self, dbapi_connection: Any) -> None:
        """Trace `dbapi_connection` from now on, if tracing and not traced yet."""
        if not self._tracing.is_set():
            return
        if not any(dbapi_connection is connection for connection, _ in self._traced):
            from psycopg.pq import Trace

            handle = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed in protocol()
            dbapi_connection.pgconn.trace(handle.fileno())
            dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)
            self._traced.append((dbapi_connection, handle))

    def _count(
        self, _conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, many: bool
    ) -> None:
        label = describe(statement) + (" (executemany)" if many else "")
        cache = getattr(context, "cache_hit", None)
        if cache is not None and cache.name != "CACHE_HIT":
            label += f" [compile cache: {cache.name}]"
        self.statements[label] += 1
        self.sequence.append(label)


def _message_types(trace_text: str) -> list[str]:
    """The message type of each line of a libpq trace ("F\\tlen\\tType..." lines)."""
    return [
        line.split("\t")[1 + line.startswith(("F\t", "B\t"))]
        for line in trace_text.splitlines()
        if line.count("\t") >= 2
    ]


def profile(bench_url: str, setup: Setup, orders: int, members: int) -> dict[str, Any]:
    """Record `orders` orders one by one through the app (after one unmeasured order),
    counting statements and round trips per order; then `orders // 2` orders through the
    route function, timed; then `orders - orders // 2` under cProfile. The figures per
    order, and the cProfile report as text under "cprofile"."""
    from patron.api.app import create_app
    from patron.db.engine import make_engine

    engine = make_engine(bench_url)
    recorder = SqlRecorder(engine)
    app = create_app(engine)
    bodies = _bodies(2 * orders + 1, members)
    http = _through_http(app, recorder, setup["token"], bodies[-1], bodies[:orders])
    messages, simple_queries, prepares = recorder.protocol()
    half = orders + orders // 2
    direct = _without_http(app, setup["token"], bodies[orders:half], bodies[half : 2 * orders])
    engine.dispose()
    return {
        "orders": orders,
        "statements_per_order": sum(http["statements"].values()) / orders,
        "statements": {k: v / orders for k, v in http["statements"].most_common()},
        "one_order_sequence": http["one_order"],
        "round_trips_per_order": messages.get("ReadyForQuery", 0) / orders,
        "protocol_messages_per_order": {k: v / orders for k, v in messages.most_common()},
        "simple_queries_per_order": {k: v / orders for k, v in simple_queries.items()},
        "server_side_prepares_per_order": prepares / orders,
        "in_process_http_ms_per_order": http["elapsed"] / orders * 1000,
        "in_process_http_cpu_ms_per_order": http["cpu"] / orders * 1000,
        "in_process_direct_ms_per_order": direct["elapsed"] / (half - orders) * 1000,
        "in_process_direct_cpu_ms_per_order": direct["cpu"] / (half - orders) * 1000,
        "cprofile": direct["cprofile"],
    }


def _bodies(count: int, members: int) -> list[str]:
    """`count` orders of random members as JSON (the same for the same arguments, but
    for their times)."""
    rng = random.Random(SEED)
    return [
        json.dumps(order_body(f"p-{i}", rng.randrange(members), rng, datetime.now(UTC).isoformat()))
        for i in range(count)
    ]


def _through_http(
    app: Any, recorder: SqlRecorder, token: str, warmup: str, bodies: Sequence[str]
) -> dict[str, Any]:
    """Post `warmup`, then `bodies` with the recorder on: wall and CPU seconds, the
    statements counted, and the statements of the first order in order."""
    from fastapi.testclient import TestClient

    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    with TestClient(app) as client:

        def post(body: str) -> None:
            response = client.post("/v1/orders", content=body, headers=headers)
            assert response.status_code == 201, response.text

        post(warmup)
        recorder.start()
        elapsed, cpu = _timed(post, bodies)
        recorder.stop()
        return {
            "elapsed": elapsed,
            "cpu": cpu,
            "statements": Counter(recorder.statements),
            "one_order": list(recorder.sequence[: len(recorder.sequence) // len(bodies)]),
        }


def _without_http(
    app: Any, token: str, timed: Sequence[str], profiled: Sequence[str]
) -> dict[str, Any]:
    """Record the `timed` orders through the route function, then the `profiled` ones
    under cProfile: wall and CPU seconds of the first, cProfile's report of the second."""
    loop = asyncio.new_event_loop()
    try:
        record = _direct_call(app, token, loop)
        elapsed, cpu = _timed(record, timed)
        return {"elapsed": elapsed, "cpu": cpu, "cprofile": _cprofiled(record, profiled)}
    finally:
        loop.close()


def _direct_call(app: Any, token: str, loop: asyncio.AbstractEventLoop) -> Callable[[str], None]:
    """A function that records one order (JSON) through the dependencies and the route
    function in this thread, as the API would without HTTP: the `caller` dependency (a
    coroutine function) on `loop`, the route function (synchronous) directly."""
    from starlette.requests import Request

    from patron.api.context import ApiContext
    from patron.api.deps import caller
    from patron.api.routers.orders import order_paid
    from patron.schemas.orders import OrderPaidIn

    def one(body: str) -> None:
        request = Request({**_SCOPE, "app": app})
        who = loop.run_until_complete(caller(request, f"Bearer {token}"))
        order = OrderPaidIn.model_validate_json(body)
        context = ApiContext(request, who, datetime.now(UTC), None, None)
        response = order_paid(order, context)
        assert response.status_code == 201, response.body

    return one


#: The ASGI scope of a `POST /v1/orders` (plus "app") for the route function.
_SCOPE: dict[str, Any] = {
    "type": "http",
    "method": "POST",
    "path": "/v1/orders",
    "headers": [],
    "query_string": b"",
    "server": (HOST, 80),
    "scheme": "http",
}


def _timed(record: Callable[[str], None], bodies: Sequence[str]) -> tuple[float, float]:
    """Call `record` on each body: (wall seconds, CPU seconds of this process)."""
    began, cpu_began = time.perf_counter(), time.process_time()
    for body in bodies:
        record(body)
    return time.perf_counter() - began, time.process_time() - cpu_began


def _cprofiled(record: Callable[[str], None], bodies: Sequence[str]) -> str:
    """Call `record` on each body under cProfile: the 45 top functions by cumulative time,
    then the 30 top by own time, as text."""
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies:
        record(body)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(45)
    stats.sort_stats("tottime").print_stats(30)
    return stream.getvalue()
