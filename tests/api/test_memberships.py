"""Paid memberships through the API: plans, the subscription events the store reports, the
perks (points multiplier, checkout benefits, exclusive rewards, a tier floor) applying
while the perks apply and stopping after, and bad input writing nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import START, Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, run_one_job

GOLD_PLAN: dict[str, Any] = {
    "code": "gold",
    "name": "Gold club",
    "price": money(1_000),
    "period": "month",
    "trial_days": 7,
    "grace_days": 5,
    "perks": {
        "points_multiplier": "2",
        "percent_off": {"percent": "15", "tags": ["own-brand"]},
        "free_shipping": True,
    },
}


def _post(client: TestClient, tenant: Tenant, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=tenant.headers)


def _plan(client: TestClient, tenant: Tenant, **changes: Any) -> dict[str, Any]:
    response = _post(client, tenant, "/v1/membership-plans", {**GOLD_PLAN, **changes})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _enrol(client: TestClient, tenant: Tenant, customer: str = "c1") -> None:
    response = _post(client, tenant, "/v1/members", {"external_id": customer})
    assert response.status_code == 201, response.text


def _subscribe(
    client: TestClient, tenant: Tenant, customer: str = "c1", **body: Any
) -> dict[str, Any]:
    spec = {"plan": "gold", **body} if body else {"plan": "gold", "payment_reference": "pay-1"}
    response = _post(client, tenant, f"/v1/members/{customer}/subscriptions", spec)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_plans_are_created_listed_read_and_replaced(client: TestClient, tenant: Tenant) -> None:
    # given a plan
    created = _plan(client, tenant)
    assert created["perks"] == {
        "percent_off": {"percent": "15", "skus": [], "categories": [], "tags": ["own-brand"]},
        "free_shipping": True,
        "points_multiplier": "2",
        "monthly_credit": None,
        "yearly_dividend_percent": None,
        "tier": None,
    }
    assert (created["price"], created["period"], created["trial_days"]) == (
        money(1_000),
        "month",
        7,
    )
    # when it is replaced, then read and listed
    update = {"name": "Gold", "price": money(1_200), "perks": {"free_shipping": True}}
    replaced = client.put("/v1/membership-plans/gold", json=update, headers=tenant.headers)
    assert replaced.status_code == 200, replaced.text
    got = client.get("/v1/membership-plans/gold", headers=tenant.headers).json()
    assert (got["name"], got["price"]["amount"], got["perks"]["points_multiplier"]) == (
        "Gold",
        1_200,
        None,
    )
    _plan(client, tenant, code="silver")
    first = client.get("/v1/membership-plans?limit=1", headers=tenant.headers).json()
    assert [plan["code"] for plan in first["data"]] == ["gold"]
    rest = client.get(
        f"/v1/membership-plans?limit=1&cursor={first['next_cursor']}", headers=tenant.headers
    ).json()
    assert ([plan["code"] for plan in rest["data"]], rest["next_cursor"]) == (["silver"], None)


def test_bad_plans_and_unknown_plans_write_nothing(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    _plan(client, tenant)
    _enrol(client, tenant)
    before = count_rows(engine)
    cases = [
        ("/v1/membership-plans", GOLD_PLAN, 409, "code"),
        (
            "/v1/membership-plans",
            {**GOLD_PLAN, "code": "x", "price": money(1, "EUR")},
            422,
            "price.currency",
        ),
        (
            "/v1/membership-plans",
            {**GOLD_PLAN, "code": "x", "perks": {"tier": "gold"}},
            422,
            "perks.tier",
        ),
        (
            "/v1/members/c1/subscriptions",
            {"plan": "platinum", "payment_reference": "p"},
            422,
            "plan",
        ),
        ("/v1/members/c1/subscriptions", {"plan": "gold"}, 422, "payment_reference"),
        ("/v1/members/nobody/subscriptions", {"plan": "gold", "trial": True}, 404, "customer_id"),
        (
            "/v1/subscriptions/sub_0000000000000000/renewals",
            {"payment_reference": "p"},
            404,
            "subscription_id",
        ),
    ]
    for path, body, status, field in cases:
        response = _post(client, tenant, path, body)
        assert response.status_code == status, (path, response.text)
        assert response.json()["field"] == field, response.text
    unknown = client.put(
        "/v1/membership-plans/platinum",
        json={"name": "P", "price": money(1)},
        headers=tenant.headers,
    )
    assert (unknown.status_code, unknown.json()["field"]) == (404, "plan_code")
    assert count_rows(engine) == before


def test_a_payment_reference_seen_before_is_409_and_writes_nothing(
    client: TestClient, engine: Engine, tenant: Tenant, clock: Clock
) -> None:
    # given c1 and c2 subscribed, paying with pay-1 and pay-2
    _plan(client, tenant)
    _enrol(client, tenant, "c1")
    _enrol(client, tenant, "c2")
    first = _subscribe(client, tenant, "c1")
    second = _subscribe(client, tenant, "c2", payment_reference="pay-2")
    clock.advance(days=20)
    before = count_rows(engine)
    # when either reference comes again, for a start, a renewal or a refund
    attempts = [
        ("/v1/members/c1/subscriptions", {"plan": "gold", "payment_reference": "pay-2"}),
        (f"/v1/subscriptions/{first['id']}/renewals", {"payment_reference": "pay-1"}),
        (f"/v1/subscriptions/{second['id']}/renewals", {"payment_reference": "pay-1"}),
        (
            f"/v1/subscriptions/{first['id']}/payment-failures",
            {"reason": "declined", "reference": "pay-2"},
        ),
        (
            f"/v1/subscriptions/{first['id']}/cancellations",
            {"at_period_end": False, "refund": money(500), "refund_reference": "pay-1"},
        ),
    ]
    # then each is refused with 409 and nothing is written
    for path, body in attempts:
        response = _post(client, tenant, path, body)
        assert response.status_code == 409, (path, response.text)
    assert count_rows(engine) == before
    # and a second start of a plan held is refused too
    again = _post(
        client, tenant, "/v1/members/c1/subscriptions", {"plan": "gold", "payment_reference": "n"}
    )
    assert (again.status_code, again.json()["field"]) == (409, "plan")
    assert count_rows(engine) == before
    # and a refund above what was paid (one period) is refused
    price = _plan_price(client, tenant)
    too_much = _post(
        client,
        tenant,
        f"/v1/subscriptions/{first['id']}/cancellations",
        {"at_period_end": False, "refund": money(price + 1), "refund_reference": "rf-9"},
    )
    assert (too_much.status_code, too_much.json()["field"]) == (422, "refund.amount")
    assert count_rows(engine) == before


def _plan_price(client: TestClient, tenant: Tenant) -> int:
    plan = client.get("/v1/membership-plans/gold", headers=tenant.headers).json()
    return int(plan["price"]["amount"])


def test_the_plan_multiplies_an_orders_points_while_its_perks_apply(
    client: TestClient, engine: Engine, tenant: Tenant, clock: Clock
) -> None:
    # given c1 on a trial of a plan doubling points (and no earning rule at all)
    _plan(client, tenant)
    _enrol(client, tenant)
    sub = _subscribe(client, tenant, trial=True)
    assert (sub["status"], sub["trial_end"]) == ("trialing", "2026-03-08T12:00:00Z")
    # when c1 pays 123.45 during the trial
    paid = _post(client, tenant, "/v1/orders", order("o1", lines=[(1, 12_345)]))
    # then the plan adds the base again, and the explanation says so
    assert paid.status_code == 201, paid.text
    assert paid.json()["points"] == 246
    rules = paid.json()["explanation"]["rules"]
    assert [(rule["rule"], rule["points"]) for rule in rules] == [("base", 123), ("plan", 123)]
    assert rules[1] == {"rule": "plan", "plans": ["gold"], "multiplier": "2", "points": 123}
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["memberships"]["plans"] == ["gold"]
    assert member["memberships"]["points_multiplier"] == "2"
    assert member["memberships"]["subscriptions"][0]["perks_apply"] is True
    # when the trial ends unpaid (the job has not even run), an order earns the base only
    later = clock.advance(days=8)
    paid = _post(client, tenant, "/v1/orders", order("o2", lines=[(1, 12_345)], occurred_at=later))
    assert paid.json()["points"] == 123
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["memberships"]["plans"] == []
    # and once the plan's 5 days of grace for a late report have passed, the job expires it
    # as of the trial's end
    assert run_one_job(engine, "memberships", later).result == {"lapsed": 0, "expired": 0}
    run = run_one_job(engine, "memberships", clock.advance(days=5))
    assert run.result == {"lapsed": 0, "expired": 1}
    got = client.get(f"/v1/subscriptions/{sub['id']}", headers=tenant.headers).json()
    assert (got["status"], got["ended_at"]) == ("expired", "2026-03-08T12:00:00Z")
    # and a second trial of the plan is refused; a paid start is not
    before = count_rows(engine)
    again = _post(client, tenant, "/v1/members/c1/subscriptions", {"plan": "gold", "trial": True})
    assert (again.status_code, again.json()["field"]) == (409, "trial")
    assert count_rows(engine) == before
    assert _subscribe(client, tenant, payment_reference="pay-9")["status"] == "active"
    assert_ledger_ok(engine)


def test_checkout_benefits_follow_the_plans_perks(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    # given c1 holding a plan: 15% off own-brand lines, free shipping
    _plan(client, tenant)
    _enrol(client, tenant)
    sub = _subscribe(client, tenant)
    cart = {
        "currency": "USD",
        "lines": [
            {"line_id": "L1", "tags": ["own-brand"], "quantity": 3, "unit_price": money(999)},
            {"line_id": "L2", "sku": "BOOK", "unit_price": money(2_000)},
        ],
        "shipping": money(499),
    }
    # when the store validates a cart
    path = "/v1/members/c1/benefits/validate"
    got = _post(client, tenant, path, cart)
    # then only the own-brand line is discounted (15% of 29.97, floored), shipping is free
    assert got.status_code == 200, got.text
    assert got.json() == {
        "customer_id": "c1",
        "currency": "USD",
        "plans": ["gold"],
        "lines": [{"line_id": "L1", "plan": "gold", "percent": "15", "amount": 449}],
        "discount": money(449),
        "free_shipping": True,
        "shipping_discount": money(499),
    }
    # when the subscription is cancelled now, no benefit is left
    cancelled = _post(
        client,
        tenant,
        f"/v1/subscriptions/{sub['id']}/cancellations",
        {"at_period_end": False, "refund": money(1_000), "refund_reference": "rf-1"},
    )
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["refund"] == money(1_000)
    got = _post(client, tenant, path, cart).json()
    assert (got["plans"], got["lines"], got["free_shipping"]) == ([], [], False)
    assert got["discount"] == money(0)


def test_an_exclusive_reward_needs_an_active_plan(
    client: TestClient, engine: Engine, tenant: Tenant, clock: Clock
) -> None:
    # given a reward only gold plan holders may redeem, and c1 with 500 points and no plan
    _plan(client, tenant)
    _enrol(client, tenant)
    reward = {"name": "Members' 5 off", "points_cost": 100, "value": money(500), "plans": ["gold"]}
    created = _post(client, tenant, "/v1/rewards", reward)
    assert created.status_code == 201, created.text
    assert created.json()["plans"] == ["gold"]
    _post(client, tenant, "/v1/orders", order("o1", lines=[(1, 50_000)]))
    before = count_rows(engine)
    # when c1 redeems it: refused, nothing written
    path = "/v1/members/c1/redemptions"
    refused = _post(client, tenant, path, {"reward_id": created.json()["id"]})
    assert (refused.status_code, refused.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "not-eligible",
    )
    assert count_rows(engine) == before
    # when c1 subscribes, it can
    _subscribe(client, tenant)
    redeemed = _post(client, tenant, path, {"reward_id": created.json()["id"]})
    assert redeemed.status_code == 201, redeemed.text
    # and an unknown plan on a reward is refused naming the field
    bad = _post(client, tenant, "/v1/rewards", {**reward, "plans": ["gold", "nope"]})
    assert (bad.status_code, bad.json()["field"]) == (422, "plans.1")
    assert_ledger_ok(engine)


def test_a_plan_tier_is_a_floor_while_the_perks_apply(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a program with tiers and a plan that makes its holders at least Silver
    tiers = {
        "metric": "spend",
        "window": "calendar_year",
        "levels": [
            {"code": "bronze", "name": "Bronze", "threshold": 0},
            {"code": "silver", "name": "Silver", "threshold": 50_000, "multiplier": "1.5"},
        ],
    }
    tenant = make_tenant(engine, "tiered", tiers=tiers)
    _plan(client, tenant, perks={"tier": "silver"})
    _enrol(client, tenant)
    sub = _subscribe(client, tenant)
    # when c1 pays an order while subscribed, it earns as Silver
    paid = _post(client, tenant, "/v1/orders", order("o1", lines=[(1, 10_000)]))
    assert paid.json()["points"] == 150
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert (member["tier"]["current"], member["tier"]["ends_at"]) == (
        "silver",
        "2026-04-01T12:00:00Z",
    )
    # when the subscription is cancelled now and the tiers job runs, c1 falls back
    cancelled = _post(
        client, tenant, f"/v1/subscriptions/{sub['id']}/cancellations", {"at_period_end": False}
    )
    assert cancelled.status_code == 200, cancelled.text
    later = clock.advance(days=1)
    run_one_job(engine, "tiers", later)
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["tier"]["current"] == "bronze"
    paid = _post(client, tenant, "/v1/orders", order("o2", lines=[(1, 10_000)], occurred_at=later))
    assert paid.json()["points"] == 100
    assert_ledger_ok(engine)


def test_member_subscriptions_are_listed_newest_first(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    _plan(client, tenant)
    _enrol(client, tenant)
    first = _subscribe(client, tenant)
    _post(
        client, tenant, f"/v1/subscriptions/{first['id']}/cancellations", {"at_period_end": False}
    )
    second = _subscribe(client, tenant, payment_reference="pay-2")
    page = client.get("/v1/members/c1/subscriptions?limit=1", headers=tenant.headers).json()
    assert [sub["id"] for sub in page["data"]] == [second["id"]]
    rest = client.get(
        f"/v1/members/c1/subscriptions?limit=1&cursor={page['next_cursor']}",
        headers=tenant.headers,
    ).json()
    assert ([sub["id"] for sub in rest["data"]], rest["next_cursor"]) == ([first["id"]], None)
    assert rest["data"][0]["status"] == "cancelled"
    assert START + timedelta(0) == clock.now
