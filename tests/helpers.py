"""Request builders shared by tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from patron.services.verify import verify
from patron.worker.jobs import JobRun, run_job
from tests.conftest import START

#: A sample value for each path parameter of the API (a new parameter name must be added
#: here: the route sweeps fill every path with these).
PATH_SAMPLES = {
    "customer_id": "c1",
    "order_id": "o1",
    "reward_id": "rwd_0000000000000000",
    "redemption_id": "rdm_0000000000000000",
    "code": "SAVE-0000",
    "key_id": "000000000000",
    "spend_id": "scs_0000000000000000",
    "plan_code": "gold",
    "subscription_id": "sub_0000000000000000",
    "brand_code": "default",
    "period": "2026-Q1",
    "campaign_code": "hi",
    "segment_code": "vips",
    "charity_id": "chr_0000000000000000",
    "donation_id": "don_0000000000000000",
    "referral_id": "ref_0000000000000000",
}


def assert_ledger_ok(engine: Engine) -> None:
    """`patron verify` over the whole database: the ledger balances and matches."""
    with engine.connect() as connection:
        report = verify(connection)
    assert report.ok, report.problems


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def run_one_job(engine: Engine, name: str, at: datetime) -> JobRun:
    """Run job `name` as of `at` for the one program there is; the ledger must verify."""
    runs = run_job(engine, name, at)
    assert len(runs) == 1, runs
    assert_ledger_ok(engine)
    return runs[0]


def money(amount: int, currency: str = "USD") -> dict[str, Any]:
    return {"amount": amount, "currency": currency}


def order(
    order_id: str,
    customer_id: str = "c1",
    *,
    lines: list[tuple[int, int]] | None = None,
    occurred_at: datetime = START,
    currency: str = "USD",
    **extra: Any,
) -> dict[str, Any]:
    """A paid order; `lines` are (quantity, unit price) pairs, line ids L0, L1, ..."""
    lines = lines or [(1, 10_000)]
    body: dict[str, Any] = {
        "order_id": order_id,
        "customer_id": customer_id,
        "currency": currency,
        "lines": [
            {"line_id": f"L{i}", "sku": f"SKU{i}", "quantity": q, "unit_price": money(p, currency)}
            for i, (q, p) in enumerate(lines)
        ],
        "total": money(sum(q * p for q, p in lines), currency),
        "occurred_at": occurred_at.isoformat(),
    }
    body.update(extra)
    return body


def refund(
    refund_id: str,
    order_id: str,
    *,
    lines: list[tuple[str, int]] | None = None,
    amount: int | None = None,
    occurred_at: datetime = START,
    currency: str = "USD",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "refund_id": refund_id,
        "order_id": order_id,
        "currency": currency,
        "lines": [{"line_id": line_id, "quantity": q} for line_id, q in (lines or [])],
        "occurred_at": occurred_at.isoformat(),
    }
    if amount is not None:
        body["amount"] = money(amount, currency)
    body.update(extra)
    return body
