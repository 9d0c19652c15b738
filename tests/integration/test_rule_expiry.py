"""A rule with an expiry of its own: its points go into their own lot, which expires by the
rule's policy while the rest follows the program's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.worker.jobs import run_job
from tests.conftest import Clock, Tenant
from tests.helpers import assert_ledger_ok, order, refund

BONUS: dict[str, Any] = {
    "code": "promo",
    "name": "Spring promo: 50 points that last a month",
    "trigger": "order.paid",
    "award": {"kind": "fixed_points", "points": 50},
    "expiry": {"months": 1, "round_to": "month"},
}


def _balance(client: TestClient, tenant: Tenant) -> dict[str, int]:
    body: dict[str, int] = client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]
    return body


def test_a_rules_points_expire_by_the_rule_and_the_rest_never(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a program whose points never expire, and a promo whose 50 points last a month
    created = client.post("/v1/rules", json=BONUS, headers=tenant.headers)
    assert created.status_code == 201, created.text
    # when c1 pays $100.00 on 1 March 2026 (UTC program)
    paid = client.post("/v1/orders", json=order("o1"), headers=tenant.headers).json()
    # then it earns 150 points in two lots: the promo's expires at the end of April
    assert paid["points"] == 150
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    earned = sorted(tx["points"] for tx in ledger if tx["kind"] == "earn")
    assert earned == [50, 100]
    # and the expiry job takes the promo's 50 on 1 May, not before, and nothing else
    assert (
        run_job(engine, "expire", datetime(2026, 4, 30, 23, 59, tzinfo=UTC))[0].result["lots"] == 0
    )
    expired = run_job(engine, "expire", datetime(2026, 5, 1, tzinfo=UTC))
    assert expired[0].result == {"members": 1, "lots": 1, "points": 50}
    clock.now = datetime(2026, 5, 2, tzinfo=UTC)
    assert _balance(client, tenant)["available"] == 100
    assert_ledger_ok(engine)


def test_refunding_the_order_takes_back_both_lots(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given an order that earned 100 base points and the promo's 50 in its own lot
    client.post("/v1/rules", json=BONUS, headers=tenant.headers)
    client.post("/v1/orders", json=order("o1"), headers=tenant.headers)
    # when the whole order is refunded
    body = refund("r1", "o1", lines=[("L0", 1)])
    refunded = client.post("/v1/refunds", json=body, headers=tenant.headers).json()
    # then all 150 points go back
    assert refunded["points_reversed"] == 150
    assert _balance(client, tenant)["available"] == 0
    assert_ledger_ok(engine)


def test_a_rule_expiry_out_of_range_is_refused(client: TestClient, tenant: Tenant) -> None:
    body = {**BONUS, "expiry": {"months": 0}}
    response = client.post("/v1/rules", json=body, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == "expiry.months"
