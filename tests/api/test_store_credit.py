"""Store credit (cashback wallet) through the API: earned by percent-back rules, issued at
once or on a schedule, taken back by refunds, spent and given back at checkout, and never
mixed with points."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.worker.jobs import run_job
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, refund

CASHBACK: dict[str, Any] = {
    "code": "cashback",
    "name": "2% back",
    "trigger": "order.paid",
    "award": {"kind": "percent_back", "percent": "2"},
}


def _with_rule(client: TestClient, tenant: Tenant, **award: Any) -> None:
    body = {**CASHBACK, "award": {**CASHBACK["award"], **award}}
    response = client.post("/v1/rules", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text


def _wallet(client: TestClient, tenant: Tenant, customer: str = "c1") -> dict[str, Any]:
    member = client.get(f"/v1/members/{customer}", headers=tenant.headers).json()
    return {"credit": member["store_credit"], "points": member["balance"]}


def test_cashback_is_issued_refunded_spent_and_never_mixed_with_points(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given 2% back as store credit (and the base 1 point per 1.00)
    _with_rule(client, tenant)
    # when c1 pays $123.45
    paid = client.post("/v1/orders", json=order("o1", lines=[(1, 12_345)]), headers=tenant.headers)
    # then it earns 246 cents of store credit and its 123 points, separately
    assert paid.status_code == 201, paid.text
    assert (paid.json()["points"], paid.json()["store_credit"]) == (123, 246)
    wallet = _wallet(client, tenant)
    assert wallet["credit"] == {
        "currency": "USD",
        "available": 246,
        "pending": 0,
        "lifetime_earned": 246,
    }
    assert wallet["points"]["available"] == 123
    # when the whole order is refunded in two steps, exactly the 246 goes back
    body = refund("r1", "o1", amount=6_000)
    first = client.post("/v1/refunds", json=body, headers=tenant.headers).json()
    assert first["store_credit_reversed"] == 6_000 * 246 // 12_345
    body = refund("r2", "o1", amount=6_345)
    second = client.post("/v1/refunds", json=body, headers=tenant.headers).json()
    assert first["store_credit_reversed"] + second["store_credit_reversed"] == 246
    assert _wallet(client, tenant)["credit"]["available"] == 0
    assert_ledger_ok(engine)


def test_spend_and_give_back_at_checkout(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given c1 with $10.00 of store credit
    _with_rule(client, tenant, percent="10")
    client.post("/v1/orders", json=order("o1", lines=[(1, 10_000)]), headers=tenant.headers)
    assert _wallet(client, tenant)["credit"]["available"] == 1_000
    # when the store spends $7.50 of it on order o2
    spend = client.post(
        "/v1/members/c1/store-credit/spends",
        json={"amount": money(750), "order_id": "o2"},
        headers=tenant.headers,
    )
    # then $2.50 is left
    assert spend.status_code == 201, spend.text
    spent = spend.json()
    assert (spent["amount"], spent["refunded"], spent["order_id"]) == (750, 0, "o2")
    assert spent["balance"]["available"] == 250
    # and spending $2.51 more is refused, writing nothing
    rows = count_rows(engine)
    over = client.post(
        "/v1/members/c1/store-credit/spends",
        json={"amount": money(251)},
        headers=tenant.headers,
    )
    assert over.status_code == 422, over.text
    assert (over.json()["code"], over.json()["field"]) == (
        "insufficient-store-credit",
        "amount.amount",
    )
    euros = client.post(
        "/v1/members/c1/store-credit/spends",
        json={"amount": money(100, "EUR")},
        headers=tenant.headers,
    )
    assert (euros.status_code, euros.json()["field"]) == (422, "amount.currency")
    assert count_rows(engine) == rows
    # when o2 is refunded, the store gives back $5.00 of the spend, then the rest
    url = f"/v1/store-credit/spends/{spent['id']}/refunds"
    back = client.post(url, json={"amount": money(500)}, headers=tenant.headers).json()
    assert (back["refunded"], back["balance"]["available"]) == (500, 750)
    too_much = client.post(url, json={"amount": money(251)}, headers=tenant.headers)
    assert (too_much.status_code, too_much.json()["code"]) == (409, "conflict")
    rest = client.post(url, json={"amount": money(250)}, headers=tenant.headers).json()
    assert (rest["refunded"], rest["balance"]["available"]) == (750, 1_000)
    # and the spend reads back as it is
    seen = client.get(f"/v1/store-credit/spends/{spent['id']}", headers=tenant.headers).json()
    assert (seen["amount"], seen["refunded"], seen["customer_id"]) == (750, 750, "c1")
    assert_ledger_ok(engine)


def test_quarterly_cashback_accumulates_and_is_issued_at_quarter_end(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 2% back issued quarterly, in Taipei
    tenant = make_tenant(engine, "pharmacy", time_zone="Asia/Taipei")
    _with_rule(client, tenant, issue="quarter")
    # when c1 pays $50.00 on 1 March and $25.00 on 31 March (local)
    client.post("/v1/orders", json=order("o1", lines=[(1, 5_000)]), headers=tenant.headers)
    late = datetime(2026, 3, 31, 15, 59, tzinfo=UTC)  # 23:59 in Taipei
    body = order("o2", lines=[(1, 2_500)], occurred_at=late)
    client.post("/v1/orders", json=body, headers=tenant.headers)
    # then 150 cents accumulate as pending
    assert _wallet(client, tenant)["credit"]["pending"] == 150
    # and the credit job issues them when the quarter ends in Taipei, not before
    assert (
        run_job(engine, "credit", datetime(2026, 3, 31, 15, 59, tzinfo=UTC))[0].result["points"]
        == 0
    )
    issued = run_job(engine, "credit", datetime(2026, 3, 31, 16, 0, tzinfo=UTC))
    assert issued[0].result == {"members": 1, "lots": 2, "points": 150}
    clock.now = datetime(2026, 4, 1, tzinfo=UTC)
    assert _wallet(client, tenant)["credit"]["available"] == 150
    assert_ledger_ok(engine)


def test_an_unknown_spend_is_404_and_a_blocked_member_cannot_spend(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    rows = count_rows(engine)
    missing = client.post(
        "/v1/store-credit/spends/scs_0000000000000000/refunds",
        json={"amount": money(1)},
        headers=tenant.headers,
    )
    assert (missing.status_code, missing.json()["field"]) == (404, "spend_id")
    client.post("/v1/members", json={"external_id": "c1"}, headers=tenant.headers)
    client.patch("/v1/members/c1", json={"status": "blocked"}, headers=tenant.headers)
    rows = count_rows(engine)
    blocked = client.post(
        "/v1/members/c1/store-credit/spends", json={"amount": money(1)}, headers=tenant.headers
    )
    assert (blocked.status_code, blocked.json()["field"]) == (422, "customer_id")
    assert count_rows(engine) == rows
