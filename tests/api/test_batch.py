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
