"""Granted rewards: a catalogue reward given for 0 points (goodwill, campaigns, referrals)
is a redemption like any other — code, stock, validity, checkout — and moves no points."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Tenant, count_rows
from tests.helpers import assert_ledger_ok, money


def _reward(client: TestClient, tenant: Tenant, **extra: object) -> dict[str, object]:
    body = {"name": "$5 off", "code": "welcome", "points_cost": 500, "value": money(500)}
    created = client.post("/v1/rewards", json=body | extra, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _enrol(client: TestClient, tenant: Tenant, customer: str = "c1") -> None:
    enrolled = client.post("/v1/members", json={"external_id": customer}, headers=tenant.headers)
    assert enrolled.status_code == 201, enrolled.text


def test_a_granted_reward_is_a_usable_code_for_no_points(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # given a $5 reward (500 points) and a member with no points
    _reward(client, tenant, validity_days=30)
    _enrol(client, tenant)
    # when the merchant grants it
    granted = client.post(
        "/v1/members/c1/grants",
        json={"reward": "welcome", "reason": "sorry for the late parcel"},
        headers=tenant.headers,
    )
    # then the member has a code worth $5 that cost nothing, and the ledger did not move
    assert granted.status_code == 201, granted.text
    body = granted.json()
    assert (body["points"], body["value"], body["status"]) == (0, money(500), "issued")
    assert body["code"] and body["expires_at"] is not None
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["balance"]["available"] == 0
    assert client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"] == []
    check = client.post("/v1/coupons/validate", json={"code": body["code"]}, headers=tenant.headers)
    assert check.json()["valid"] is True
    assert_ledger_ok(engine)


def test_a_granted_store_credit_reward_pays_into_the_wallet(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    _reward(client, tenant, kind="store_credit", code="credit")
    _enrol(client, tenant)
    granted = client.post(
        "/v1/members/c1/grants", json={"reward": "credit", "reason": "r"}, headers=tenant.headers
    )
    assert granted.status_code == 201, granted.text
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert (member["balance"]["available"], member["store_credit"]["available"]) == (0, 500)
    assert_ledger_ok(engine)


def test_grants_take_stock_and_stop_when_it_is_gone(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    _reward(client, tenant, stock=1)
    _enrol(client, tenant, "c1")
    _enrol(client, tenant, "c2")
    first = client.post(
        "/v1/members/c1/grants", json={"reward": "welcome", "reason": "r"}, headers=tenant.headers
    )
    assert first.status_code == 201
    before = count_rows(engine)
    second = client.post(
        "/v1/members/c2/grants", json={"reward": "welcome", "reason": "r"}, headers=tenant.headers
    )
    assert second.status_code == 409 and second.json()["code"] == "out-of-stock"
    assert count_rows(engine) == before


def test_bad_grants_write_nothing(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    _reward(client, tenant)
    variable = {
        "name": "Points off",
        "code": "variable",
        "value_step": money(100),
        "points_step": 100,
    }
    assert client.post("/v1/rewards", json=variable, headers=tenant.headers).status_code == 201
    _enrol(client, tenant)
    before = count_rows(engine)
    cases = [
        ("/v1/members/c1/grants", {"reward": "nope", "reason": "r"}, 404, "reward"),
        ("/v1/members/c1/grants", {"reward": "variable", "reason": "r"}, 422, "reward"),
        ("/v1/members/zz/grants", {"reward": "welcome", "reason": "r"}, 404, "customer_id"),
        ("/v1/members/c1/grants", {"reward": "welcome"}, 422, "reason"),
    ]
    for path, body, status, field in cases:
        response = client.post(path, json=body, headers=tenant.headers)
        assert response.status_code == status, (body, response.text)
        assert response.json()["field"] == field, response.json()
    assert count_rows(engine) == before
