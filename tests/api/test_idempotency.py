"""Exactly once (DESIGN.md section 3): a POST retried with its Idempotency-Key returns the
stored first response and writes nothing; the same key with other input is a 409; keys
belong to one tenant; an event (order, refund) replayed by its source id credits once.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import money, order, refund

REPLAYED = "Idempotent-Replayed"


def keyed(tenant: Tenant, key: str) -> dict[str, str]:
    return {**tenant.headers, "Idempotency-Key": key}


def balance(client: TestClient, tenant: Tenant, customer: str = "c1") -> dict[str, int]:
    response = client.get(f"/v1/members/{customer}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    result: dict[str, int] = response.json()["balance"]
    return result


def assert_replay_of(first: Response, again: Response, status: int | None = None) -> None:
    """`again` is `first` replayed: same status (or `status`), same body, marked replayed."""
    assert again.status_code == (status or first.status_code), again.text
    assert again.json() == first.json()
    assert again.headers[REPLAYED] == "true"
    assert again.headers["content-type"] == "application/json"


@pytest.fixture
def member(client: TestClient, tenant: Tenant) -> None:
    """Member c1 with 1,000 points (order o1, $1,000.00)."""
    paid = client.post("/v1/orders", json=order("o1", lines=[(1, 100_000)]), headers=tenant.headers)
    assert paid.status_code == 201, paid.text
    assert paid.json()["points"] == 1_000


# --- Idempotency-Key -------------------------------------------------------------------------


def test_same_key_and_body_returns_the_stored_adjustment_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, member: None
) -> None:
    # given an adjustment made with an Idempotency-Key
    body = {"points": 25, "reason": "goodwill"}
    first = client.post("/v1/members/c1/adjustments", json=body, headers=keyed(tenant, "adj-1"))
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert first.json()["points"] == 25
    rows = count_rows(engine)
    # when it is sent again, twice, with the same key and body
    again = client.post("/v1/members/c1/adjustments", json=body, headers=keyed(tenant, "adj-1"))
    third = client.post("/v1/members/c1/adjustments", json=body, headers=keyed(tenant, "adj-1"))
    # then both are the first response, and nothing more was written
    assert_replay_of(first, again)
    assert_replay_of(first, third)
    assert count_rows(engine) == rows
    assert balance(client, tenant)["available"] == 1_025


def test_same_key_replays_an_enrolment_instead_of_a_conflict(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = {"external_id": "c7", "email": "c7@example.com", "tags": ["vip"]}
    first = client.post("/v1/members", json=body, headers=keyed(tenant, "enrol-c7"))
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    # a retry with the key is the stored 201, not a 409 "member exists"
    again = client.post("/v1/members", json=body, headers=keyed(tenant, "enrol-c7"))
    assert_replay_of(first, again)
    assert count_rows(engine) == rows
    # without the key, the same request is a new one, and a conflict
    fresh = client.post("/v1/members", json=body, headers=tenant.headers)
    assert fresh.status_code == 409
    assert fresh.json()["code"] == "conflict"


def test_same_key_replays_a_redemption_with_the_same_code_and_spends_once(
    client: TestClient, tenant: Tenant, engine: Engine, member: None
) -> None:
    reward = client.post(
        "/v1/rewards",
        json={"name": "$3 off", "points_cost": 300, "value": money(300)},
        headers=tenant.headers,
    ).json()
    body = {"reward_id": reward["id"]}
    first = client.post("/v1/members/c1/redemptions", json=body, headers=keyed(tenant, "rd-1"))
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    again = client.post("/v1/members/c1/redemptions", json=body, headers=keyed(tenant, "rd-1"))
    assert_replay_of(first, again)
    assert again.json()["code"] == first.json()["code"]
    assert count_rows(engine) == rows
    assert balance(client, tenant)["available"] == 700
    listed = client.get("/v1/members/c1/redemptions", headers=tenant.headers).json()
    assert [r["id"] for r in listed] == [first.json()["id"]]


def test_same_key_replays_a_member_update(
    client: TestClient, tenant: Tenant, engine: Engine, member: None, clock: Clock
) -> None:
    first = client.patch(
        "/v1/members/c1", json={"first_name": "Ada"}, headers=keyed(tenant, "patch-1")
    )
    assert first.status_code == 200, first.text
    rows = count_rows(engine)
    clock.advance(minutes=5)
    again = client.patch(
        "/v1/members/c1", json={"first_name": "Ada"}, headers=keyed(tenant, "patch-1")
    )
    assert_replay_of(first, again)
    assert count_rows(engine) == rows
    # updated_at is the first update's: the replay did not touch the member
    current = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert current["updated_at"] == first.json()["updated_at"]


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/v1/members/c1/adjustments", {"points": 26, "reason": "goodwill"}),
        ("/v1/members/c1/adjustments", {"points": 25, "reason": "good will"}),
        ("/v1/members", {"external_id": "c9"}),
    ],
    ids=["other points", "other reason", "other endpoint"],
)
def test_same_key_with_other_input_is_409(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    member: None,
    url: str,
    body: dict[str, Any],
) -> None:
    # given a key used for an adjustment of 25 points
    first = client.post(
        "/v1/members/c1/adjustments",
        json={"points": 25, "reason": "goodwill"},
        headers=keyed(tenant, "adj-1"),
    )
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    # when the key is sent with another request
    response = client.post(url, json=body, headers=keyed(tenant, "adj-1"))
    # then it is a conflict, and nothing is written
    assert response.status_code == 409, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "idempotency-key-reused"
    assert problem["type"] == "/problems/idempotency-key-reused"
    assert problem["field"] == "Idempotency-Key"
    assert problem["detail"] == "this Idempotency-Key was used for a different request"
    assert count_rows(engine) == rows
    assert balance(client, tenant)["available"] == 1_025


def test_same_key_for_another_program_is_409(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    created = client.post(
        "/v1/programs",
        json={"code": "second", "name": "Second", "currency": "USD"},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    body = {"external_id": "c7"}
    first = client.post("/v1/members", json=body, headers=keyed(tenant, "k"))
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    other = {**keyed(tenant, "k"), "Patron-Program": "second"}
    response = client.post("/v1/members", json=body, headers=other)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "idempotency-key-reused"
    assert count_rows(engine) == rows


def test_keys_belong_to_one_tenant(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    # given tenant A used key "k-1" to enrol c7
    other = make_tenant(engine, "other")
    body = {"external_id": "c7"}
    first = client.post("/v1/members", json=body, headers=keyed(tenant, "k-1"))
    assert first.status_code == 201, first.text
    # when tenant B sends the same key string, with the same body and then another
    same = client.post("/v1/members", json=body, headers=keyed(other, "k-1"))
    # then B's request runs for B: a new member, not A's stored response, not a conflict
    assert same.status_code == 201, same.text
    assert REPLAYED not in same.headers
    assert same.json()["external_id"] == "c7"
    # and B's key now replays B's own response
    again = client.post("/v1/members", json=body, headers=keyed(other, "k-1"))
    assert_replay_of(same, again)
    conflict = client.post("/v1/members", json={"external_id": "c8"}, headers=keyed(other, "k-1"))
    assert conflict.status_code == 409
    # and A's key is untouched: A still replays its own
    assert_replay_of(first, client.post("/v1/members", json=body, headers=keyed(tenant, "k-1")))
    counts = count_rows(engine)
    assert counts["members"] == 2
    assert counts["idempotency_keys"] == 2


def test_a_failed_request_does_not_use_up_its_key(
    client: TestClient, tenant: Tenant, engine: Engine, member: None
) -> None:
    # given a redemption that fails (2,000 points needed, 1,000 available)
    reward = client.post(
        "/v1/rewards",
        json={"name": "$20 off", "points_cost": 2_000, "value": money(2_000)},
        headers=tenant.headers,
    ).json()
    body = {"reward_id": reward["id"]}
    rows = count_rows(engine)
    failed = client.post("/v1/members/c1/redemptions", json=body, headers=keyed(tenant, "rd-1"))
    assert failed.status_code == 422
    assert failed.json()["code"] == "insufficient-points"
    assert count_rows(engine) == rows  # the key was not stored either
    # when the member has earned enough and the client retries with the same key
    client.post("/v1/orders", json=order("o2", lines=[(1, 100_000)]), headers=tenant.headers)
    retried = client.post("/v1/members/c1/redemptions", json=body, headers=keyed(tenant, "rd-1"))
    # then the retry runs (it is not a replay of the failure)
    assert retried.status_code == 201, retried.text
    assert REPLAYED not in retried.headers
    assert balance(client, tenant)["available"] == 0


# --- events: exactly once by source id ---------------------------------------------------------


def test_same_order_three_times_credits_once(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = order("o1", lines=[(3, 2_500)])
    # when the same paid order arrives three times
    first = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert first.status_code == 201, first.text
    assert REPLAYED not in first.headers
    assert (first.json()["points"], first.json()["member_enrolled"]) == (75, True)
    rows = count_rows(engine)
    second = client.post("/v1/orders", json=body, headers=tenant.headers)
    third = client.post("/v1/orders", json=body, headers=tenant.headers)
    # then the replays are 200 with the first body, and only one credit exists
    assert_replay_of(first, second, status=200)
    assert_replay_of(first, third, status=200)
    assert count_rows(engine) == rows
    assert balance(client, tenant) == {
        "available": 75,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 75,
    }
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()
    assert [(tx["kind"], tx["points"]) for tx in ledger["data"]] == [("earn", 75)]


def test_order_replay_with_another_payload_returns_the_first_result(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    first = client.post("/v1/orders", json=order("o1", lines=[(1, 5_000)]), headers=tenant.headers)
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    # when the store sends order o1 again, now for $900.00 and another customer
    changed = order("o1", "c2", lines=[(9, 10_000)])
    again = client.post("/v1/orders", json=changed, headers=tenant.headers)
    # then it is the first result, and the order is as first recorded
    assert_replay_of(first, again, status=200)
    assert again.json()["points"] == 50
    assert count_rows(engine) == rows
    seen = client.get("/v1/orders/o1", headers=tenant.headers).json()
    assert (seen["customer_id"], seen["total"], seen["points_awarded"]) == ("c1", 5_000, 50)
    assert client.get("/v1/members/c2", headers=tenant.headers).status_code == 404


def test_order_with_an_idempotency_key_replays_with_the_stored_status(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = order("o1", lines=[(1, 5_000)])
    first = client.post("/v1/orders", json=body, headers=keyed(tenant, "order-o1"))
    assert first.status_code == 201, first.text
    rows = count_rows(engine)
    by_key = client.post("/v1/orders", json=body, headers=keyed(tenant, "order-o1"))
    by_source_id = client.post("/v1/orders", json=body, headers=tenant.headers)
    by_other_key = client.post("/v1/orders", json=body, headers=keyed(tenant, "order-o1-b"))
    assert_replay_of(first, by_key)  # the stored response: 201
    assert_replay_of(first, by_source_id, status=200)  # the recorded event: 200
    assert_replay_of(first, by_other_key, status=200)
    assert count_rows(engine) == rows
    assert balance(client, tenant)["available"] == 50


def test_same_refund_twice_reverses_once(
    client: TestClient, tenant: Tenant, engine: Engine, member: None
) -> None:
    body = refund("r1", "o1", amount=25_000)
    first = client.post("/v1/refunds", json=body, headers=tenant.headers)
    assert first.status_code == 201, first.text
    assert first.json()["points_reversed"] == 250
    rows = count_rows(engine)
    again = client.post("/v1/refunds", json=body, headers=tenant.headers)
    bigger = client.post(
        "/v1/refunds", json=refund("r1", "o1", amount=50_000), headers=tenant.headers
    )
    assert_replay_of(first, again, status=200)
    assert_replay_of(first, bigger, status=200)
    assert count_rows(engine) == rows
    assert balance(client, tenant)["available"] == 750
    assert client.get("/v1/orders/o1", headers=tenant.headers).json()["points_reversed"] == 250


def test_batch_replays_orders_already_recorded(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # given o1 recorded on its own
    first = client.post("/v1/orders", json=order("o1", lines=[(1, 5_000)]), headers=tenant.headers)
    assert first.status_code == 201
    # when a batch brings o1 again with o2
    body = {"orders": [order("o1", lines=[(1, 5_000)]), order("o2", lines=[(1, 2_000)])]}
    batch = client.post("/v1/orders/batch", json=body, headers=keyed(tenant, "batch-1"))
    assert batch.status_code == 200, batch.text
    result = batch.json()
    # then o1 is replayed with its first result and only o2 is credited
    assert (result["created"], result["replayed"], result["rejected"]) == (1, 1, 0)
    assert [item["status"] for item in result["results"]] == ["replayed", "created"]
    assert result["results"][0]["result"] == first.json()
    assert balance(client, tenant)["available"] == 70
    # and the same batch with the same key is the stored response, byte for byte
    rows = count_rows(engine)
    again = client.post("/v1/orders/batch", json=body, headers=keyed(tenant, "batch-1"))
    assert_replay_of(batch, again)
    assert count_rows(engine) == rows
