"""The generated workload: paid orders of pre-enrolled members, as every party sends them."""

from __future__ import annotations

import random
from typing import Any

from ingestlib.settings import CURRENCY


def customer_id(index: int) -> str:
    """The external id of the pre-enrolled member number `index` (0-based)."""
    return f"m{index:07d}"


def order_body(
    order_id: str, member_index: int, rng: random.Random, occurred: str
) -> dict[str, Any]:
    """A paid order of 1-3 lines (the shape of tests/helpers.py `order`), drawn from `rng`,
    for member `member_index`, with `occurred` (ISO 8601) as its time."""
    lines = [_line(number, rng) for number in range(rng.randint(1, 3))]
    total = sum(line["quantity"] * line["unit_price"]["amount"] for line in lines)
    return {
        "order_id": order_id,
        "customer_id": customer_id(member_index),
        "currency": CURRENCY,
        "lines": lines,
        "total": {"amount": total, "currency": CURRENCY},
        "occurred_at": occurred,
    }


def _line(number: int, rng: random.Random) -> dict[str, Any]:
    """Order line `number`: 1-3 units of a random SKU at 5.00-199.99."""
    quantity, price = rng.randint(1, 3), rng.randrange(500, 20_000)
    return {
        "line_id": f"L{number}",
        "sku": f"SKU{rng.randrange(1000)}",
        "quantity": quantity,
        "unit_price": {"amount": price, "currency": CURRENCY},
    }
