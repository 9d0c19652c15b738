"""Races through a real HTTP server: redemptions competing for the same points, the same
order delivered many times at once. On PostgreSQL these exercise the row locks and the
unique-index waits; on SQLite, the serialised write transactions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine

from tests.conftest import Tenant
from tests.helpers import assert_ledger_ok, money, order


def _post_all(
    url: str, bodies: list[dict[str, Any]], headers: dict[str, str]
) -> list[httpx.Response]:
    """POST every body at once from as many threads, each with its own connection."""
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [
            pool.submit(httpx.post, url, json=body, headers=headers, timeout=60) for body in bodies
        ]
        return [future.result() for future in futures]


def test_fifty_redemptions_race_for_ten_rewards(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given a member whose 1,000 points cover exactly 10 rewards of 100 points
    headers = tenant.headers
    reward = httpx.post(
        f"{live_server}/v1/rewards",
        headers=headers,
        json={"name": "$1 off", "points_cost": 100, "value": money(100)},
    ).json()
    earned = httpx.post(
        f"{live_server}/v1/orders", headers=headers, json=order("o1", "racer", lines=[(1, 100_000)])
    ).json()
    assert earned["points"] == 1000
    # when 50 redemptions arrive at once
    responses = _post_all(
        f"{live_server}/v1/members/racer/redemptions", [{"reward_id": reward["id"]}] * 50, headers
    )
    # then exactly 10 win, the 40 others get a clear 422, and the balance is 0
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 10 + [422] * 40
    losers = [r.json() for r in responses if r.status_code == 422]
    assert {problem["code"] for problem in losers} == {"insufficient-points"}
    codes = {r.json()["code"] for r in responses if r.status_code == 201}
    assert len(codes) == 10
    member = httpx.get(f"{live_server}/v1/members/racer", headers=headers).json()
    assert member["balance"] == {"available": 0, "pending": 0, "debt": 0, "lifetime_earned": 1000}
    assert_ledger_ok(engine)


def test_same_order_ten_times_at_once_credits_once(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # when the same paid order is delivered 10 times concurrently
    body = order("dup-1", "twin", lines=[(2, 2_550)])
    responses = _post_all(f"{live_server}/v1/orders", [body] * 10, tenant.headers)
    # then one delivery creates it and nine replay the first result, byte for byte
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * 9 + [201]
    first = next(r.json() for r in responses if r.status_code == 201)
    assert all(r.json() == first for r in responses)
    assert first["points"] == 51
    member = httpx.get(f"{live_server}/v1/members/twin", headers=tenant.headers).json()
    assert member["balance"]["available"] == 51
    assert [tx["kind"] for tx in member["recent_ledger"]] == ["earn"]
    assert_ledger_ok(engine)


def test_first_orders_of_new_customers_race_to_enrol(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # when 8 different first orders of the same unknown customer arrive at once
    bodies = [order(f"new-{i}", "newcomer", lines=[(1, 1_000)]) for i in range(8)]
    responses = _post_all(f"{live_server}/v1/orders", bodies, tenant.headers)
    # then all are recorded against one member, enrolled once
    assert sorted(r.status_code for r in responses) == [201] * 8, [r.text for r in responses]
    assert sum(r.json()["member_enrolled"] for r in responses) == 1
    member = httpx.get(f"{live_server}/v1/members/newcomer", headers=tenant.headers).json()
    assert member["balance"]["available"] == 80
    assert_ledger_ok(engine)


def test_same_idempotency_key_at_once_runs_once(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given a member with points
    httpx.post(
        f"{live_server}/v1/orders",
        headers=tenant.headers,
        json=order("o1", "k", lines=[(1, 5_000)]),
    )
    headers = {**tenant.headers, "Idempotency-Key": "adjust-once"}
    body = {"points": 7, "reason": "goodwill"}
    # when the same adjustment with the same key is sent 10 times at once
    responses = _post_all(f"{live_server}/v1/members/k/adjustments", [body] * 10, headers)
    # then it is applied once and every response carries the same transaction
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["id"] for r in responses}) == 1
    member = httpx.get(f"{live_server}/v1/members/k", headers=tenant.headers).json()
    assert member["balance"]["available"] == 57
    assert_ledger_ok(engine)


def test_overlapping_batches_at_once_neither_deadlock_nor_double_credit(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given 6 batches of 40 orders over the same 10 customers, overlapping by half, each
    # batch listing its orders in a different order
    batches = []
    for number in range(6):
        ids = list(range(number * 20, number * 20 + 40))
        ids = ids[::-1] if number % 2 else ids
        batches.append({"orders": [order(f"b{i}", f"c{i % 10}", lines=[(1, 1_000)]) for i in ids]})
    # when they all arrive at once
    responses = _post_all(f"{live_server}/v1/orders/batch", batches, tenant.headers)
    # then every order is credited exactly once: 140 distinct orders x 10 points
    assert {r.status_code for r in responses} == {200}
    assert sum(r.json()["created"] for r in responses) == 140
    assert sum(r.json()["replayed"] for r in responses) == 240 - 140
    total = 0
    for customer in range(10):
        member = httpx.get(f"{live_server}/v1/members/c{customer}", headers=tenant.headers).json()
        total += member["balance"]["available"]
    assert total == 1_400
    assert_ledger_ok(engine)
