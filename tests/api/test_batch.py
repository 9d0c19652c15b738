"""Bulk ingestion: many orders in one transaction, each exactly once, a bad one rejected
on its own without losing the others."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.services.verify import verify
from tests.conftest import Tenant, count_rows, make_tenant
from tests.helpers import order


def test_batch_creates_replays_and_rejects_item_by_item(client: TestClient, engine: Engine) -> None:
    tenant = make_tenant(engine, "shop", auto_enroll=False)
    client.post("/v1/members", json={"external_id": "known"}, headers=tenant.headers)
    client.post("/v1/orders", json=order("o1", "known", lines=[(1, 1_000)]), headers=tenant.headers)
    batch = {
        "orders": [
            order("o2", "known", lines=[(1, 2_000)]),
            order("o3", "stranger", lines=[(1, 3_000)]),  # unknown member, no auto-enrol
            order("o1", "known", lines=[(1, 1_000)]),  # already recorded
            order("o4", "known", lines=[(2, 2_000)]),
        ]
    }
    response = client.post("/v1/orders/batch", json=batch, headers=tenant.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["created"], body["replayed"], body["rejected"]) == (2, 1, 1)
    assert [item["status"] for item in body["results"]] == [
        "created",
        "rejected",
        "replayed",
        "created",
    ]
    assert [item["index"] for item in body["results"]] == [0, 1, 2, 3]
    assert body["results"][1]["problem"]["code"] == "not-found"
    assert body["results"][1]["problem"]["field"] == "customer_id"
    assert body["results"][2]["result"]["points"] == 10
    member = client.get("/v1/members/known", headers=tenant.headers).json()
    assert member["balance"]["available"] == 10 + 20 + 40
    with engine.connect() as connection:
        assert verify(connection).ok


def test_the_same_batch_again_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    batch = {"orders": [order(f"o{i}", f"c{i % 3}", lines=[(1, 1_500)]) for i in range(30)]}
    first = client.post("/v1/orders/batch", json=batch, headers=tenant.headers).json()
    assert first["created"] == 30
    before = count_rows(engine)
    again = client.post("/v1/orders/batch", json=batch, headers=tenant.headers).json()
    assert (again["created"], again["replayed"]) == (0, 30)
    assert count_rows(engine) == before
    assert [item["result"] for item in again["results"]] == [
        item["result"] for item in first["results"]
    ]


def test_an_invalid_item_rejects_the_whole_request_before_writing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    before = count_rows(engine)
    bad = order("o2", lines=[(1, 1_000)])
    bad["lines"][0]["quantity"] = -1
    response = client.post(
        "/v1/orders/batch", json={"orders": [order("o1"), bad]}, headers=tenant.headers
    )
    assert response.status_code == 422
    assert response.json()["field"] == "orders.1.lines.0.quantity"
    assert count_rows(engine) == before


def test_an_order_twice_in_one_batch_is_recorded_once(client: TestClient, tenant: Tenant) -> None:
    batch = {"orders": [order("o1", lines=[(1, 2_000)]), order("o1", lines=[(1, 2_000)])]}
    body = client.post("/v1/orders/batch", json=batch, headers=tenant.headers).json()
    assert [item["status"] for item in body["results"]] == ["created", "replayed"]
    assert body["results"][1]["result"] == body["results"][0]["result"]
    assert client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]["available"] == 20


def test_a_blocked_member_in_a_batch_earns_nothing(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/members", json={"external_id": "b"}, headers=tenant.headers)
    client.patch("/v1/members/b", json={"status": "blocked"}, headers=tenant.headers)
    batch = {"orders": [order("o1", "b"), order("o2", "ok")]}
    results = client.post("/v1/orders/batch", json=batch, headers=tenant.headers).json()["results"]
    assert [(r["result"]["points"], r["result"]["points_status"]) for r in results] == [
        (0, "none"),
        (100, "available"),
    ]
    assert results[0]["result"]["explanation"]["reason"] == "member blocked"
    assert client.get("/v1/orders/o1", headers=tenant.headers).json()["points_awarded"] == 0
