"""The baseline transaction under pgbench (`--pgbench`): a C client, so what PostgreSQL does
when the client costs almost nothing."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from typing import Any

from ingestlib.cpu import CpuSampler, cpu_per_event
from ingestlib.database import Setup, libpq_url
from ingestlib.workload import order_body

#: The seconds cut from each end of the run when sampling CPU (pgbench's backends must be
#: alive throughout the sampled window).
CPU_MARGIN = 1

#: pgbench substitutes `:name` everywhere, quoted text too, so colons in text are written
#: as chr(58).
PGBENCH_SCRIPT = """\
\\set m random({first}, {last})
\\set p random(5, 400)
\\set np -1 * :p
BEGIN;
INSERT INTO events (tenant_id, program_id, source, type, source_id, brand_id, member_id, \
payload, occurred_at, received_at) VALUES ({tenant}, {program}, 'pgbench', 'order.paid', \
gen_random_uuid()::text, {brand}, :m, replace('{payload}', '#', chr(58))::jsonb, now(), now()) \
RETURNING id AS event_id \\gset
UPDATE member_balances SET available = available + :p, lifetime_earned = lifetime_earned + :p \
WHERE member_id = :m AND asset = 'points';
INSERT INTO ledger_transactions (tenant_id, program_id, member_id, kind, event_id, api_key_id, \
details, occurred_at, created_at) VALUES ({tenant}, {program}, :m, 'earn', :event_id, {key}, \
'{{}}', now(), now()) RETURNING id AS tx_id \\gset
INSERT INTO ledger_entries (transaction_id, tenant_id, account, asset, amount, member_id) \
VALUES (:tx_id, {tenant}, 'brand' || chr(58) || '{brand}' || chr(58) || 'issued', 'points', \
:np, NULL), (:tx_id, {tenant}, 'member' || chr(58) || :m || chr(58) || 'available', 'points', \
:p, :m);
COMMIT;
"""


def run_pgbench(
    bench_url: str, setup: Setup, clients: int, duration: float, database: str
) -> dict[str, Any]:
    """Run the single-event baseline transaction under `pgbench -M prepared` with `clients`
    connections for `duration` s: its tx/s and CPU ms per transaction (PostgreSQL's for
    `database`, pgbench's as "client"); only a NaN tx/s if pgbench failed."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as handle:
        handle.write(_script(setup))
    try:
        command = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2"]
        command += ["-T", str(int(duration)), "-f", handle.name, libpq_url(bench_url)]
        return _run(command, duration, database)
    finally:
        os.unlink(handle.name)


def _script(setup: Setup) -> str:
    """PGBENCH_SCRIPT for the bench tenant, with an order as the event payload."""
    payload = json.dumps(order_body("x", 0, random.Random(0), datetime.now(UTC).isoformat()))
    return PGBENCH_SCRIPT.format(
        first=setup["first_member_id"],
        last=setup["last_member_id"],
        tenant=setup["tenant_id"],
        program=setup["program_id"],
        brand=setup["brand_id"],
        key=setup["api_key_id"],
        payload=payload.replace(":", "#"),
    )


def _run(command: list[str], duration: float, database: str) -> dict[str, Any]:
    """Run pgbench, sampling CPU while its backends are alive; parse its tps."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = CpuSampler([process.pid], database)
    began = time.monotonic()
    window = threading.Thread(
        target=sampler, args=(began + CPU_MARGIN, began + duration - CPU_MARGIN)
    )
    window.start()
    output, errors = process.communicate()
    window.join()
    if process.returncode != 0:
        print(f"pgbench failed ({process.returncode}):\n{errors}", file=sys.stderr)
        return {"tx_per_s": math.nan}
    seconds = duration - 2 * CPU_MARGIN
    match = re.search(r"tps = ([\d.]+)", output)
    tps = float(match.group(1)) if match else math.nan
    return {
        "tx_per_s": tps,
        "cpu_ms_per_tx": cpu_per_event(
            tps, postgres=sampler.postgres_cpu / seconds, client=sampler.server_cpu / seconds
        ),
    }
