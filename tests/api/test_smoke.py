"""The main journey through the API: enrol, order, refund, balance, redeem, validate,
consume, cancel."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Clock, Tenant
from tests.helpers import money, order, refund


def test_order_earns_points_and_refund_reverses_them(client: TestClient, tenant: Tenant) -> None:
    # given a member
    response = client.post(
        "/v1/members", json={"external_id": "c1", "email": "a@example.com"}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    # when a $123.45 order is paid (1 point per $1, floor)
    response = client.post(
        "/v1/orders", json=order("o1", lines=[(1, 12_345)]), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["points"] == 123
    assert response.json()["points_status"] == "available"
    # then the balance shows them
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["balance"] == {"available": 123, "pending": 0, "debt": 0, "lifetime_earned": 123}
    # when the whole order is refunded
    response = client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    assert response.json()["points_reversed"] == 123
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["balance"]["available"] == 0
    assert [tx["kind"] for tx in member["recent_ledger"]] == ["reverse", "earn"]


def test_redeem_validate_consume(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    reward = client.post(
        "/v1/rewards",
        json={"name": "$5 off", "points_cost": 500, "value": money(500), "code_prefix": "SAVE-"},
        headers=tenant.headers,
    )
    assert reward.status_code == 201, reward.text
    client.post("/v1/orders", json=order("o1", lines=[(1, 60_000)]), headers=tenant.headers)
    redemption = client.post(
        "/v1/members/c1/redemptions",
        json={"reward_id": reward.json()["id"]},
        headers=tenant.headers,
    )
    assert redemption.status_code == 201, redemption.text
    code = redemption.json()["code"]
    assert code.startswith("SAVE-") and len(code) == 5 + 12
    assert (
        client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]["available"] == 100
    )
    check = client.post("/v1/coupons/validate", json={"code": code}, headers=tenant.headers).json()
    assert check["valid"] is True and check["value"] == money(500)
    used = client.post(
        f"/v1/coupons/{code}/consume", json={"order_id": "o2"}, headers=tenant.headers
    )
    assert used.status_code == 200, used.text
    assert used.json()["status"] == "consumed"
    again = client.post(
        f"/v1/coupons/{code}/consume", json={"order_id": "o3"}, headers=tenant.headers
    )
    assert again.status_code == 409
    check = client.post("/v1/coupons/validate", json={"code": code}, headers=tenant.headers).json()
    assert check == {
        "valid": False,
        "reason": "already_used",
        "code": code,
        "value": money(500),
        "expires_at": check["expires_at"],
    }
