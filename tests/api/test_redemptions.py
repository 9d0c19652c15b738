"""Redemption lifecycle: issue, validate, consume once, cancel (points return to their
lots), expiry of unused codes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.services.verify import verify
from tests.conftest import Clock, Tenant
from tests.helpers import money, order


def _setup(client: TestClient, tenant: Tenant) -> str:
    reward = client.post(
        "/v1/rewards",
        json={"name": "$5 off", "points_cost": 500, "value": money(500), "validity_days": 30},
        headers=tenant.headers,
    )
    client.post("/v1/orders", json=order("o1", lines=[(1, 30_000)]), headers=tenant.headers)
    client.post("/v1/orders", json=order("o2", lines=[(1, 40_000)]), headers=tenant.headers)
    return str(reward.json()["id"])


def test_cancel_returns_points_to_the_lots_that_paid(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    reward_id = _setup(client, tenant)
    redemption = client.post(
        "/v1/members/c1/redemptions", json={"reward_id": reward_id}, headers=tenant.headers
    ).json()
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    spent = [(e["lot_id"], e["amount"]) for e in ledger[0]["entries"]]
    # the 500 points came from the older lot (300) then the newer (200)
    lots = [ledger[2]["entries"][0]["lot_id"], ledger[1]["entries"][0]["lot_id"]]
    assert spent == [(lots[0], -300), (lots[1], -200)]
    cancelled = client.post(f"/v1/redemptions/{redemption['id']}/cancel", headers=tenant.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    assert ledger[0]["kind"] == "redemption_cancel"
    assert [(e["lot_id"], e["amount"]) for e in ledger[0]["entries"]] == [
        (lots[0], 300),
        (lots[1], 200),
    ]
    assert (
        client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]["available"] == 700
    )
    # a cancelled code can be neither cancelled again nor used
    again = client.post(f"/v1/redemptions/{redemption['id']}/cancel", headers=tenant.headers)
    assert again.status_code == 422 and again.json()["code"] == "coupon-not-usable"
    check = client.post(
        "/v1/coupons/validate", json={"code": redemption["code"]}, headers=tenant.headers
    )
    assert check.json()["reason"] == "cancelled"
    use = client.post(
        f"/v1/coupons/{redemption['code']}/consume", json={"order_id": "o9"}, headers=tenant.headers
    )
    assert use.status_code == 422
    with engine.connect() as connection:
        assert verify(connection).ok


def test_a_used_code_cannot_be_cancelled(client: TestClient, tenant: Tenant) -> None:
    reward_id = _setup(client, tenant)
    redemption = client.post(
        "/v1/members/c1/redemptions", json={"reward_id": reward_id}, headers=tenant.headers
    ).json()
    client.post(
        f"/v1/coupons/{redemption['code']}/consume", json={"order_id": "o3"}, headers=tenant.headers
    )
    response = client.post(f"/v1/redemptions/{redemption['id']}/cancel", headers=tenant.headers)
    assert response.status_code == 422
    fetched = client.get(f"/v1/redemptions/{redemption['id']}", headers=tenant.headers).json()
    assert fetched["status"] == "consumed" and fetched["consumed_order_id"] == "o3"
    assert (
        client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]["available"] == 200
    )


def test_codes_expire_after_their_validity(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    reward_id = _setup(client, tenant)
    redemption = client.post(
        "/v1/members/c1/redemptions", json={"reward_id": reward_id}, headers=tenant.headers
    ).json()
    assert redemption["expires_at"] == "2026-03-31T12:00:00Z"
    clock.advance(days=30)
    check = client.post(
        "/v1/coupons/validate", json={"code": redemption["code"]}, headers=tenant.headers
    )
    assert check.json()["valid"] is False and check.json()["reason"] == "expired"
    use = client.post(
        f"/v1/coupons/{redemption['code']}/consume", json={"order_id": "o3"}, headers=tenant.headers
    )
    assert use.status_code == 422 and use.json()["code"] == "coupon-not-usable"
    listed = client.get("/v1/members/c1/redemptions", headers=tenant.headers).json()
    assert [item["status"] for item in listed] == ["expired"]


def test_unknown_code_is_invalid(client: TestClient, tenant: Tenant) -> None:
    check = client.post(
        "/v1/coupons/validate", json={"code": "NOPE"}, headers=tenant.headers
    ).json()
    assert check == {
        "valid": False,
        "reason": "unknown_code",
        "code": "NOPE",
        "value": None,
        "expires_at": None,
    }
