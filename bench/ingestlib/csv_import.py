"""The CSV import (`--bulk`): a generated orders CSV timed through `patron import`."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestlib.settings import BIN, CURRENCY, ROOT, TENANT
from ingestlib.workload import order_body

#: The seed of the CSV's orders (the same file for the same size and members).
SEED = 7


def write_csv(path: Path, orders: int, members: int) -> None:
    """Write `orders` random orders of the first `members` members, one row per line, in
    the columns `patron import` reads."""
    from patron.services.importer import COLUMNS

    rng = random.Random(SEED)
    occurred = datetime.now(UTC).isoformat()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for number in range(orders):
            body = order_body(f"csv-{number}", rng.randrange(members), rng, occurred)
            writer.writerows(_rows(body))


def _rows(body: dict[str, Any]) -> list[list[Any]]:
    """An order's CSV rows, one per line (in the order of importer.COLUMNS)."""
    return [
        [
            body["order_id"],
            body["customer_id"],
            "",
            body["occurred_at"],
            CURRENCY,
            line["line_id"],
            line["sku"],
            "",
            line["quantity"],
            line["unit_price"]["amount"],
            "",
            "",
            "",
            body["total"]["amount"],
        ]
        for line in body["lines"]
    ]


def run_import(bench_url: str, orders: int, members: int, batch_size: int) -> dict[str, Any]:
    """Import a CSV of `orders` orders into the bench tenant with `patron import
    --batch-size batch_size`, timed from start to exit: orders, created, rejected,
    seconds, events/s (created / seconds), exit status and the end of its stderr."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "orders.csv"
        write_csv(path, orders, members)
        env = {**os.environ, "PATRON_DATABASE_URL": bench_url}
        command = [str(BIN / "patron"), "import", str(path), "--tenant", TENANT]
        command += ["--batch-size", str(batch_size)]
        began = time.monotonic()
        completed = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
        elapsed = time.monotonic() - began
    summary = _summary(completed.stdout)
    created = int(summary.get("created", 0))
    return {
        "orders": orders,
        "created": created,
        "rejected": int(summary.get("rejected", orders)),
        "seconds": elapsed,
        "events_per_s": created / elapsed,
        "exit": completed.returncode,
        "stderr": completed.stderr[-2000:],
    }


def _summary(stdout: str) -> dict[str, Any]:
    """The last JSON object line `patron import` printed ({} if none)."""
    summary: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            summary = json.loads(line)
    return summary
