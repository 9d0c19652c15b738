"""`patron import orders.csv`: paid orders from a CSV file, committed in batches.

One row per order line; rows of one order are consecutive and repeat the order columns:

    order_id,customer_id,email,occurred_at,currency,line_id,sku,category,quantity,
    unit_price,line_discount,shipping,tax,total

Amounts are integer minor units; `occurred_at` is RFC 3339 with an offset. Each batch is
one transaction through the same path as `POST /v1/orders/batch`, so a re-run of the same
file replays (writes nothing) instead of double-crediting.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from datetime import datetime
from itertools import groupby
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from patron.db.uow import UnitOfWork
from patron.domain.errors import InvalidInput, NotFound
from patron.schemas.orders import OrderBatchIn, OrderPaidIn
from patron.services.batch import record_orders
from patron.services.context import Caller, Scope
from patron.services.programs import resolve_program

COLUMNS = [
    "order_id",
    "customer_id",
    "email",
    "occurred_at",
    "currency",
    "line_id",
    "sku",
    "category",
    "quantity",
    "unit_price",
    "line_discount",
    "shipping",
    "tax",
    "total",
]


def _money(value: str, currency: str) -> dict[str, Any] | None:
    return {"amount": int(value), "currency": currency} if value not in ("", "0") else None


def _order(rows: list[dict[str, str]], line_number: int) -> OrderPaidIn:
    head = rows[0]
    currency = head["currency"]
    try:
        return OrderPaidIn.model_validate(
            {
                "order_id": head["order_id"],
                "customer_id": head["customer_id"],
                "customer": {"email": head["email"]} if head.get("email") else None,
                "currency": currency,
                "occurred_at": head["occurred_at"],
                "lines": [
                    {
                        "line_id": row["line_id"],
                        "sku": row["sku"] or None,
                        "category": row["category"] or None,
                        "quantity": int(row["quantity"]),
                        "unit_price": {"amount": int(row["unit_price"]), "currency": currency},
                        "discount": _money(row["line_discount"], currency),
                    }
                    for row in rows
                ],
                "shipping": _money(head["shipping"], currency),
                "tax": _money(head["tax"], currency),
                "total": {"amount": int(head["total"]), "currency": currency},
            }
        )
    except (ValidationError, ValueError, KeyError) as error:
        raise InvalidInput(f"line {line_number}: {error}") from None


def read_orders(path: Path) -> Iterator[OrderPaidIn]:
    """Orders from the CSV, in file order; raises InvalidInput naming the bad line."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(COLUMNS) - set(reader.fieldnames or [])
        if missing:
            raise InvalidInput(f"missing columns: {', '.join(sorted(missing))}")
        line_number = 2
        for _, group in groupby(reader, key=lambda row: row["order_id"]):
            rows = list(group)
            yield _order(rows, line_number)
            line_number += len(rows)


def _chunks(orders: Iterator[OrderPaidIn], size: int) -> Iterator[list[OrderPaidIn]]:
    chunk: list[OrderPaidIn] = []
    for order in orders:
        chunk.append(order)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_csv(
    engine: Engine,
    path: Path,
    tenant: str,
    program_code: str | None,
    batch_size: int,
    clock: Callable[[], datetime],
    on_batch: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Import the file; returns counts of created, replayed and rejected orders."""
    with UnitOfWork(engine, write=False) as uow:
        row = uow.tenants.get_by_name(tenant)
        if row is None:
            raise NotFound(f"no tenant {tenant!r}", field="tenant")
        tenant_id = int(row.id)
    caller = Caller(tenant_id=tenant_id, api_key_id=None, scopes=frozenset(Scope))
    totals = {"created": 0, "replayed": 0, "rejected": 0}
    for chunk in _chunks(read_orders(path), batch_size):
        with UnitOfWork(engine) as uow:
            program = resolve_program(uow, tenant_id, program_code)
            result = record_orders(uow, caller, program, OrderBatchIn(orders=chunk), clock())
            uow.commit()
        totals["created"] += result.created
        totals["replayed"] += result.replayed
        totals["rejected"] += result.rejected
        if on_batch is not None:
            on_batch(len(chunk))
    return totals
