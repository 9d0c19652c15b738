"""Refunds reverse exactly the points of the refunded part, once, under each policy; and
pending points wait for the return window."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.services.verify import verify
from tests.conftest import Clock, Tenant, make_tenant
from tests.helpers import money, order, refund


def _balance(client: TestClient, headers: dict[str, str], customer: str = "c1") -> dict[str, Any]:
    response = client.get(f"/v1/members/{customer}", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["balance"])


def _earn_spend_refund(client: TestClient, tenant: Tenant, *, spend: int) -> Any:
    """Earn 100 points on order o1, spend `spend` of them on a reward, refund o1 in full."""
    reward = client.post(
        "/v1/rewards",
        json={"name": "r", "points_cost": spend, "value": money(spend)},
        headers=tenant.headers,
    ).json()
    client.post("/v1/orders", json=order("o1"), headers=tenant.headers)
    client.post(
        "/v1/members/c1/redemptions", json={"reward_id": reward["id"]}, headers=tenant.headers
    )
    return client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )


def _ok(engine: Engine) -> None:
    with engine.connect() as connection:
        report = verify(connection)
    assert report.ok, report.problems


def test_line_by_line_refunds_reverse_exactly_what_the_order_earned(
    client: TestClient, engine: Engine
) -> None:
    # given an order of 3 x 33.33 + 1 x 0.01 + 2 x 49.99 = 199.98 with a 5.00 order discount;
    # the discount is spread 2.50 / 0.00 / 2.50, so lines are worth 97.49, 0.01 and 97.48
    tenant = make_tenant(engine, "shop")
    body = order("o1", lines=[(3, 3_333), (1, 1), (2, 4_999)], discount=money(500))
    earned = client.post("/v1/orders", json=body, headers=tenant.headers).json()
    assert earned["eligible_amount"] == 19_498
    assert earned["points"] == 194
    # when it is refunded unit by unit, in five refunds
    steps = [[("L0", 1)], [("L0", 1), ("L2", 1)], [("L1", 1)], [("L0", 1)], [("L2", 1)]]
    reversed_points = []
    for number, lines in enumerate(steps):
        response = client.post(
            "/v1/refunds", json=refund(f"r{number}", "o1", lines=lines), headers=tenant.headers
        )
        assert response.status_code == 201, response.text
        reversed_points.append(response.json()["points_reversed"])
    # then each refund reverses floor(194 x refunded so far / 194.98) minus what went before,
    # and together they reverse exactly the 194 points earned
    assert reversed_points == [32, 81, 0, 32, 49]
    assert sum(reversed_points) == 194
    assert _balance(client, tenant.headers)["available"] == 0
    # and a sixth refund finds nothing left to refund
    extra = client.post(
        "/v1/refunds", json=refund("r9", "o1", lines=[("L1", 1)]), headers=tenant.headers
    )
    assert extra.status_code == 422
    assert extra.json()["code"] == "refund-exceeds-order"
    _ok(engine)


def test_refund_replay_reverses_once(client: TestClient, engine: Engine) -> None:
    tenant = make_tenant(engine, "shop")
    client.post("/v1/orders", json=order("o1", lines=[(2, 5_000)]), headers=tenant.headers)
    first = client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )
    again = client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _balance(client, tenant.headers)["available"] == 50


def test_amount_refund_reverses_proportionally(client: TestClient, engine: Engine) -> None:
    tenant = make_tenant(engine, "shop")
    client.post("/v1/orders", json=order("o1", lines=[(1, 20_000)]), headers=tenant.headers)
    response = client.post(
        "/v1/refunds", json=refund("r1", "o1", amount=5_050), headers=tenant.headers
    )
    assert response.json()["points_reversed"] == 50  # floor(200 * 5050 / 20000)
    assert response.json()["eligible_refunded"] == 5_050
    response = client.post(
        "/v1/refunds", json=refund("r2", "o1", amount=14_950), headers=tenant.headers
    )
    assert response.json()["points_reversed"] == 150
    assert _balance(client, tenant.headers)["available"] == 0


def test_pending_points_become_available_after_the_return_window(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a program with a 14-day return window
    tenant = make_tenant(engine, "shop", pending_days=14)
    response = client.post(
        "/v1/orders", json=order("o1", occurred_at=clock.now), headers=tenant.headers
    )
    assert response.json()["points_status"] == "pending"
    assert response.json()["pending_until"] == "2026-03-15T12:00:00+00:00"
    assert _balance(client, tenant.headers) == {
        "available": 0,
        "pending": 100,
        "debt": 0,
        "lifetime_earned": 100,
    }
    # one second before the window ends they are still pending
    clock.advance(days=14, seconds=-1)
    assert _balance(client, tenant.headers)["pending"] == 100
    # at the end of the window they are available, and spendable
    clock.advance(seconds=1)
    assert _balance(client, tenant.headers) == {
        "available": 100,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    adjusted = client.post(
        "/v1/members/c1/adjustments",
        json={"points": -40, "reason": "test spend"},
        headers=tenant.headers,
    )
    assert adjusted.status_code == 201, adjusted.text
    kinds = [
        tx["kind"]
        for tx in client.get("/v1/members/c1", headers=tenant.headers).json()["recent_ledger"]
    ]
    assert kinds == ["adjust", "release", "earn"]
    _ok(engine)


def test_refund_inside_the_window_cancels_pending_points(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = make_tenant(engine, "shop", pending_days=14)
    client.post("/v1/orders", json=order("o1", occurred_at=clock.now), headers=tenant.headers)
    clock.advance(days=3)
    response = client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )
    assert response.json()["points_reversed"] == 100
    clock.advance(days=30)
    assert _balance(client, tenant.headers) == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    _ok(engine)


def test_clawback_of_spent_points_makes_explicit_debt_that_new_points_repay(
    client: TestClient, engine: Engine
) -> None:
    # given 100 points earned and spent on a reward
    tenant = make_tenant(engine, "shop")
    # when the order is refunded (clawback policy)
    response = _earn_spend_refund(client, tenant, spend=100)
    # then the whole 100 is reversed and shows as debt, explicitly in the ledger entry
    assert response.json()["points_reversed"] == 100
    assert response.json()["debt_created"] == 100
    assert _balance(client, tenant.headers) == {
        "available": 0,
        "pending": 0,
        "debt": 100,
        "lifetime_earned": 100,
    }
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    assert ledger[0]["kind"] == "reverse"
    assert ledger[0]["details"]["debt_created"] == 100
    assert ledger[0]["points"] == -100
    # and later earnings repay the debt first
    client.post("/v1/orders", json=order("o2", lines=[(1, 3_000)]), headers=tenant.headers)
    assert _balance(client, tenant.headers)["debt"] == 70
    client.post("/v1/orders", json=order("o3", lines=[(1, 20_000)]), headers=tenant.headers)
    assert _balance(client, tenant.headers) == {
        "available": 130,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 330,
    }
    _ok(engine)


def test_remaining_policy_reverses_only_what_is_left(client: TestClient, engine: Engine) -> None:
    tenant = make_tenant(engine, "shop", refund_policy="remaining")
    response = _earn_spend_refund(client, tenant, spend=60)
    assert response.json()["points_reversed"] == 40
    assert response.json()["points_forgiven"] == 60
    assert response.json()["debt_created"] == 0
    assert _balance(client, tenant.headers) == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    _ok(engine)


def test_refund_takes_the_refunded_orders_own_lot_first(client: TestClient, engine: Engine) -> None:
    tenant = make_tenant(engine, "shop")
    client.post("/v1/orders", json=order("o1", lines=[(1, 5_000)]), headers=tenant.headers)
    client.post("/v1/orders", json=order("o2", lines=[(1, 8_000)]), headers=tenant.headers)
    client.post("/v1/refunds", json=refund("r1", "o2", lines=[("L0", 1)]), headers=tenant.headers)
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    reverse, earn_o2 = ledger[0], ledger[1]
    assert [entry["lot_id"] for entry in reverse["entries"]] == [earn_o2["entries"][0]["lot_id"]]
    assert _balance(client, tenant.headers)["available"] == 50
