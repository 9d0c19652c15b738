"""Tenant isolation: tenant A's key never sees nor touches tenant B's data, on any endpoint.

B has a brand, a second program, members, orders, a refund, a reward, redemptions and a
key. Every route the app serves has a probe below (the route table is read from
`app.routes`, so a new route without a probe fails `test_every_route_has_an_isolation_probe`).
A probe sends A's key at B's resources and expects a 404 (or, for lists and creations, only
A's own data), and B's data, read back with B's key, is the same afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from tests.api.test_auth_keys import REVIEW_RULE
from tests.api.test_templates import TEMPLATE_NAMES
from tests.conftest import Tenant, count_rows, make_tenant
from tests.helpers import money, order, refund

PROBLEM_JSON = "application/problem+json"
#: Routes that are not tenant data: served to anyone, key or not.
PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
}


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route in `app.routes`, following included routers."""
    found: set[tuple[str, str]] = set()

    def walk(routes: Iterable[Any], prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)  # FastAPI >= 0.16x
            if included is not None:
                context = getattr(route, "include_context", None)
                walk(included.routes, prefix + getattr(context, "prefix", ""))
                continue
            if hasattr(route, "routes") and not hasattr(route, "methods"):  # a Mount
                walk(route.routes, prefix + route.path)
                continue
            for method in getattr(route, "methods", None) or ():
                if method != "HEAD":
                    found.add((method, prefix + route.path))

    walk(app.routes, "")
    return found


@dataclass
class World:
    client: TestClient
    a: Tenant
    b: Tenant
    reward_id: str
    redemption_id: str
    code: str
    b_key_id: str
    b_key_secret: str
    spend_id: str = ""

    def as_a(self, method: str, url: str, json: Any = None, **headers: str) -> Response:
        """A request with A's key (plus `headers`)."""
        return self.client.request(method, url, json=json, headers={**self.a.headers, **headers})

    def as_b(self, method: str, url: str, json: Any = None) -> Response:
        """A successful request with B's key."""
        response = self.client.request(method, url, json=json, headers=self.b.headers)
        assert response.status_code < 300, response.text
        return response


def _ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@pytest.fixture
def world(client: TestClient, engine: Engine) -> World:
    """Tenant A with member alice (100 points); tenant B with everything."""
    a, b = make_tenant(engine, "alpha"), make_tenant(engine, "bravo")
    _ok(client.post("/v1/orders", json=order("a-o1", "alice"), headers=a.headers), 201)

    def post_b(url: str, body: Any = None, status: int = 201) -> Any:
        return _ok(client.post(url, json=body, headers=b.headers), status)

    post_b("/v1/brands", {"code": "outlet", "name": "Bravo Outlet"})
    post_b("/v1/brands", {"code": "b-partner", "name": "Bravo Partner"})
    _ok(client.patch("/v1/brands/b-partner", json={"currency": "EUR"}, headers=b.headers))
    _ok(client.put("/v1/coalition/rates/2026-Q1", json={"EUR": "0.9"}, headers=b.headers))
    post_b("/v1/programs", {"code": "b-extra", "name": "Bravo extra", "currency": "USD"})
    post_b("/v1/members", {"external_id": "bob", "email": "bob@bravo.example"})
    post_b("/v1/orders", order("b-o1", "bob", lines=[(2, 30_000)]))
    cashback = {"kind": "percent_back", "percent": "10"}
    post_b(
        "/v1/rules", {**REVIEW_RULE, "code": "b-cash", "trigger": "order.paid", "award": cashback}
    )
    post_b("/v1/orders", order("b-o2", "bob", lines=[(1, 5_000)]))
    spend = post_b("/v1/members/bob/store-credit/spends", {"amount": money(100)})
    post_b("/v1/refunds", refund("b-r1", "b-o1", lines=[("L0", 1)]))
    reward = post_b("/v1/rewards", {"name": "$1 off", "points_cost": 100, "value": money(100)})
    post_b("/v1/rules", {**REVIEW_RULE, "code": "b-review"})
    post_b("/v1/event-types", {"name": "b-quiz"})
    post_b("/v1/segments", {"code": "b-seg", "name": "B", "filter": {"tags": {"any": ["x"]}}})
    redemption = post_b("/v1/members/bob/redemptions", {"reward_id": reward["id"]})
    post_b("/v1/orders", order("b-o3", "dora", lines=[(1, 10_000)]))  # dora donates
    charity = post_b("/v1/charities", {"code": "b-trees", "name": "Bravo Trees"})
    post_b("/v1/members/dora/donations", {"charity_id": charity["id"], "points": 40})
    post_b("/v1/campaigns", B_CAMPAIGN)
    post_b("/v1/membership-plans", B_PLAN)
    post_b("/v1/members", {"external_id": "fay"})  # a member only B has
    post_b("/v1/members/fay/subscriptions", {"plan": "b-gold", "payment_reference": "b-pay"})
    # referrals: eve enrolled with bob's code
    policy = {"base_url": "https://bravo.example/r"}
    _ok(client.put("/v1/program/referral-policy", json=policy, headers=b.headers))
    bob_code = _ok(client.get("/v1/members/bob/referral", headers=b.headers))["code"]
    post_b("/v1/members", {"external_id": "eve", "referral": {"code": bob_code}})
    key = post_b("/v1/keys", {"name": "bravo pos", "scopes": ["read", "write"]})
    return World(
        client,
        a,
        b,
        reward["id"],
        redemption["id"],
        redemption["code"],
        key["key_id"],
        key["secret"],
        spend_id=spend["id"],
    )


def b_snapshot(world: World) -> dict[str, Any]:
    """Everything B can read of its own data, through B's keys."""
    get = lambda url: world.as_b("GET", url).json()  # noqa: E731
    b_key = {"Authorization": f"Bearer {world.b_key_secret}"}
    return {
        "member": get("/v1/members/bob"),
        "members": get("/v1/members"),
        "ledger": get("/v1/members/bob/ledger"),
        "member redemptions": get("/v1/members/bob/redemptions"),
        "order 1": get("/v1/orders/b-o1"),
        "order 2": get("/v1/orders/b-o2"),
        "rewards": get("/v1/rewards"),
        "reward": get(f"/v1/rewards/{world.reward_id}"),
        "redemption": get(f"/v1/redemptions/{world.redemption_id}"),
        "coupon": world.as_b("POST", "/v1/coupons/validate", {"code": world.code}).json(),
        "keys": get("/v1/keys"),
        "programs": get("/v1/programs"),
        "program": get("/v1/program"),
        "brands": get("/v1/brands"),
        "rules": get("/v1/rules"),
        "rule": get("/v1/rules/b-review"),
        "event types": get("/v1/event-types"),
        "segment": get("/v1/segments/b-seg"),
        "segment members": get("/v1/segments/b-seg/members"),
        "spend": get(f"/v1/store-credit/spends/{world.spend_id}"),
        "charities": get("/v1/charities"),
        "donations": get("/v1/members/dora/donations"),
        "donation summary": get("/v1/members/dora/donations/summary?year=2026"),
        "payouts": get("/v1/charities/payouts?period=2026-03"),
        "campaign": get("/v1/campaigns/b-miss"),
        "plans": get("/v1/membership-plans"),
        "plan": get("/v1/membership-plans/b-gold"),
        "subscriptions": get("/v1/members/fay/subscriptions"),
        "campaign report": get("/v1/campaigns/b-miss/report"),
        "referral policy": get("/v1/program/referral-policy"),
        "referrals": get("/v1/referrals"),
        "referral stats": get("/v1/referrals/stats"),
        "member referral": get("/v1/members/bob/referral"),
        "rates": get("/v1/coalition/rates/2026-Q1"),
        "settlement": get("/v1/coalition/settlements?period=2026-Q1"),
        "new key works": world.client.get("/v1/program", headers=b_key).status_code,
    }


def assert_not_found(response: Response, field: str) -> None:
    assert response.status_code == 404, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["code"] == "not-found"
    assert response.json()["field"] == field


# --- one probe per route ---------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    run: Callable[[World], None]
    writes: bool  # True when A legitimately creates something of its own


#: In order: probes that must write nothing first, then those that create A's own data.
PROBES: dict[tuple[str, str], Probe] = {}


def probe(method: str, path: str, *, writes: bool = False) -> Callable[..., Any]:
    def register(run: Callable[[World], None]) -> Callable[[World], None]:
        PROBES[(method, path)] = Probe(run, writes)
        return run

    return register


@probe("GET", "/v1/members/{customer_id}")
def _get_member(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/bob"), "customer_id")


@probe("PATCH", "/v1/members/{customer_id}")
def _patch_member(w: World) -> None:
    assert_not_found(w.as_a("PATCH", "/v1/members/bob", {"status": "blocked"}), "customer_id")


@probe("GET", "/v1/members/{customer_id}/ledger")
def _member_ledger(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/bob/ledger"), "customer_id")


@probe("POST", "/v1/members/{customer_id}/adjustments")
def _adjust(w: World) -> None:
    body = {"points": -100, "reason": "steal"}
    assert_not_found(w.as_a("POST", "/v1/members/bob/adjustments", body), "customer_id")


@probe("POST", "/v1/members/{customer_id}/redemptions")
def _redeem(w: World) -> None:
    body = {"reward_id": w.reward_id}
    # B's member, B's reward
    assert_not_found(w.as_a("POST", "/v1/members/bob/redemptions", body), "customer_id")
    # A's own member (100 points), B's reward
    assert_not_found(w.as_a("POST", "/v1/members/alice/redemptions", body), "reward_id")


@probe("POST", "/v1/members/{customer_id}/grants")
def _grant(w: World) -> None:
    body = {"reward": w.reward_id, "reason": "steal"}
    # B's member, B's reward; A's own member, B's reward
    assert_not_found(w.as_a("POST", "/v1/members/bob/grants", body), "customer_id")
    assert_not_found(w.as_a("POST", "/v1/members/alice/grants", body), "reward")


@probe("POST", "/v1/members/{customer_id}/tier")
def _assign_tier(w: World) -> None:
    body = {"tier": "gold", "reason": "vip", "until": "2027-01-01T00:00:00Z"}
    assert_not_found(w.as_a("POST", "/v1/members/bob/tier", body), "customer_id")


@probe("POST", "/v1/members/{customer_id}/store-credit/spends")
def _spend_credit(w: World) -> None:
    body = {"amount": money(1)}
    assert_not_found(w.as_a("POST", "/v1/members/bob/store-credit/spends", body), "customer_id")


@probe("GET", "/v1/store-credit/spends/{spend_id}")
def _get_spend(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/store-credit/spends/{w.spend_id}"), "spend_id")


@probe("POST", "/v1/store-credit/spends/{spend_id}/refunds")
def _refund_spend(w: World) -> None:
    url = f"/v1/store-credit/spends/{w.spend_id}/refunds"
    assert_not_found(w.as_a("POST", url, {"amount": money(1)}), "spend_id")


@probe("GET", "/v1/members/{customer_id}/redemptions")
def _member_redemptions(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/bob/redemptions"), "customer_id")


@probe("GET", "/v1/members")
def _list_members(w: World) -> None:
    page = _ok(w.as_a("GET", "/v1/members"))
    assert [member["external_id"] for member in page["data"]] == ["alice"]
    assert page["next_cursor"] is None


@probe("GET", "/v1/orders/{order_id}")
def _get_order(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/orders/b-o1"), "order_id")
    assert_not_found(w.as_a("GET", "/v1/orders/b-o1?brand=outlet"), "brand")


@probe("POST", "/v1/refunds")
def _refund(w: World) -> None:
    response = w.as_a("POST", "/v1/refunds", refund("a-r1", "b-o1", lines=[("L0", 1)]))
    assert_not_found(response, "order_id")
    # B's refund id is not a replay for A either
    response = w.as_a("POST", "/v1/refunds", refund("b-r1", "b-o1", lines=[("L0", 1)]))
    assert_not_found(response, "order_id")


@probe("GET", "/v1/rewards")
def _list_rewards(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/rewards")) == []


@probe("GET", "/v1/rewards/{reward_id}")
def _get_reward(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/rewards/{w.reward_id}"), "reward_id")


@probe("GET", "/v1/redemptions/{redemption_id}")
def _get_redemption(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/redemptions/{w.redemption_id}"), "redemption_id")


@probe("POST", "/v1/redemptions/{redemption_id}/cancel")
def _cancel_redemption(w: World) -> None:
    response = w.as_a("POST", f"/v1/redemptions/{w.redemption_id}/cancel")
    assert_not_found(response, "redemption_id")


@probe("POST", "/v1/coupons/validate")
def _validate(w: World) -> None:
    check = _ok(w.as_a("POST", "/v1/coupons/validate", {"code": w.code}))
    assert check == {
        "valid": False,
        "reason": "unknown_code",
        "code": w.code,
        "value": None,
        "expires_at": None,
    }
    # against a cart, B's code takes nothing off A's cart either
    body = {"code": w.code, "cart": {"subtotal": money(10_000)}}
    check = _ok(w.as_a("POST", "/v1/coupons/validate", body))
    assert (check["reason"], check["discount"]) == ("unknown_code", money(0))


@probe("POST", "/v1/rewards/{reward_id}/codes")
def _import_codes(w: World) -> None:
    response = w.as_a("POST", f"/v1/rewards/{w.reward_id}/codes", {"codes": ["A-CODE-1"]})
    assert_not_found(response, "reward_id")


@probe("POST", "/v1/redemptions/{redemption_id}/fulfilment")
def _fulfil(w: World) -> None:
    body = {"status": "cancelled"}
    response = w.as_a("POST", f"/v1/redemptions/{w.redemption_id}/fulfilment", body)
    assert_not_found(response, "redemption_id")


@probe("POST", "/v1/coupons/{code}/consume")
def _consume(w: World) -> None:
    response = w.as_a("POST", f"/v1/coupons/{w.code}/consume", {"order_id": "a-o1"})
    assert_not_found(response, "code")


@probe("GET", "/v1/keys")
def _list_keys(w: World) -> None:
    keys = _ok(w.as_a("GET", "/v1/keys"))
    assert [key["name"] for key in keys] == ["admin"]
    assert w.b_key_id not in {key["key_id"] for key in keys}
    assert w.b.key.split("_")[1] not in {key["key_id"] for key in keys}


@probe("POST", "/v1/keys/{key_id}/revoke")
def _revoke_key(w: World) -> None:
    assert_not_found(w.as_a("POST", f"/v1/keys/{w.b_key_id}/revoke"), "key_id")
    b_admin_key_id = w.b.key.split("_")[1]
    assert_not_found(w.as_a("POST", f"/v1/keys/{b_admin_key_id}/revoke"), "key_id")


@probe("GET", "/v1/program")
def _current_program(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/program"))["name"] == "alpha rewards"
    response = w.as_a("GET", "/v1/program", **{"Patron-Program": "b-extra"})
    assert_not_found(response, "program")


@probe("GET", "/v1/programs")
def _list_programs(w: World) -> None:
    programs = _ok(w.as_a("GET", "/v1/programs"))
    assert [(p["code"], p["name"]) for p in programs] == [("main", "alpha rewards")]


@probe("GET", "/v1/brands")
def _list_brands(w: World) -> None:
    brands = _ok(w.as_a("GET", "/v1/brands"))
    assert [(brand["code"], brand["name"]) for brand in brands] == [("default", "alpha")]


# Probes below create A's own data, named like B's, and check it stays A's.


@probe("POST", "/v1/members", writes=True)
def _enrol(w: World) -> None:
    member = _ok(w.as_a("POST", "/v1/members", {"external_id": "bob"}), 201)
    assert member["email"] is None
    assert member["balance"] == {"available": 0, "pending": 0, "debt": 0, "lifetime_earned": 0}


@probe("POST", "/v1/orders", writes=True)
def _record_order(w: World) -> None:
    # the same order id as B's first order is a new order for A, not a replay of B's
    result = _ok(w.as_a("POST", "/v1/orders", order("b-o1", "bob2", lines=[(1, 700)])), 201)
    assert (result["order_id"], result["member_enrolled"], result["points"]) == ("b-o1", True, 7)
    assert _ok(w.as_a("GET", "/v1/orders/b-o1"))["total"] == 700


@probe("POST", "/v1/orders/batch", writes=True)
def _record_batch(w: World) -> None:
    body = {"orders": [order("b-o2", "bob3", lines=[(1, 900)])]}
    result = _ok(w.as_a("POST", "/v1/orders/batch", body))
    assert (result["created"], result["replayed"], result["rejected"]) == (1, 0, 0)
    assert result["results"][0]["result"]["points"] == 9


@probe("POST", "/v1/rewards", writes=True)
def _create_reward(w: World) -> None:
    body = {"name": "$1 off", "points_cost": 100, "value": money(100)}
    reward = _ok(w.as_a("POST", "/v1/rewards", body), 201)
    assert reward["id"] != w.reward_id
    assert [r["id"] for r in _ok(w.as_a("GET", "/v1/rewards"))] == [reward["id"]]


@probe("POST", "/v1/keys", writes=True)
def _create_key(w: World) -> None:
    key = _ok(w.as_a("POST", "/v1/keys", {"name": "alpha pos", "scopes": ["read"]}), 201)
    headers = {"Authorization": f"Bearer {key['secret']}"}
    # the new key is A's: it reads A's program and member, not B's reward
    assert _ok(w.client.get("/v1/program", headers=headers))["name"] == "alpha rewards"
    assert _ok(w.client.get("/v1/members/alice", headers=headers))["external_id"] == "alice"
    assert_not_found(w.client.get(f"/v1/rewards/{w.reward_id}", headers=headers), "reward_id")


@probe("POST", "/v1/programs", writes=True)
def _create_program(w: World) -> None:
    body = {"code": "b-extra", "name": "Alpha extra", "currency": "EUR"}
    assert _ok(w.as_a("POST", "/v1/programs", body), 201)["name"] == "Alpha extra"
    program = _ok(w.as_a("GET", "/v1/program", **{"Patron-Program": "b-extra"}))
    assert (program["name"], program["currency"]) == ("Alpha extra", "EUR")


@probe("POST", "/v1/brands", writes=True)
def _create_brand(w: World) -> None:
    brand = _ok(w.as_a("POST", "/v1/brands", {"code": "outlet", "name": "Alpha Outlet"}), 201)
    assert brand["name"] == "Alpha Outlet"


@probe("GET", "/v1/rules")
def _list_rules(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/rules")) == []


@probe("GET", "/v1/rules/{code}")
def _get_rule(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/rules/b-review"), "code")


@probe("PUT", "/v1/rules/{code}")
def _revise_rule(w: World) -> None:
    body = {k: v for k, v in REVIEW_RULE.items() if k != "code"}
    assert_not_found(w.as_a("PUT", "/v1/rules/b-review", body), "code")


@probe("GET", "/v1/event-types")
def _list_event_types(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/event-types")) == []


@probe("POST", "/v1/events", writes=True)
def _record_action(w: World) -> None:
    body = {
        "event_id": "e1",
        "type": "custom",
        "event_type": "b-quiz",
        "customer_id": "alice",
        "occurred_at": "2026-03-01T12:00:00Z",
    }
    # B's custom event type is not A's
    assert_not_found(w.as_a("POST", "/v1/events", body), "event_type")
    body = {**body, "type": "review.written", "event_type": None}
    result = _ok(w.as_a("POST", "/v1/events", body), 201)
    assert (result["customer_id"], result["points"]) == ("alice", 0)


@probe("POST", "/v1/rules", writes=True)
def _create_rule(w: World) -> None:
    rule = _ok(w.as_a("POST", "/v1/rules", {**REVIEW_RULE, "code": "b-review"}), 201)
    assert rule["code"] == "b-review"
    assert [r["code"] for r in _ok(w.as_a("GET", "/v1/rules"))] == ["b-review"]


@probe("POST", "/v1/event-types", writes=True)
def _create_event_type(w: World) -> None:
    _ok(w.as_a("POST", "/v1/event-types", {"name": "b-quiz"}), 201)


@probe("GET", "/v1/program-templates")
def _list_templates(w: World) -> None:
    names = [t["name"] for t in _ok(w.as_a("GET", "/v1/program-templates"))]
    assert names == TEMPLATE_NAMES


@probe("POST", "/v1/programs/from-template", writes=True)
def _program_from_template(w: World) -> None:
    # B's program code is free for A: codes are per tenant
    body = {"template": "beauty", "code": "b-extra-2", "currency": "USD"}
    assert _ok(w.as_a("POST", "/v1/programs/from-template", body), 201)["code"] == "b-extra-2"
    program = _ok(w.as_a("GET", "/v1/program", **{"Patron-Program": "b-extra-2"}))
    assert program["name"] == "Beauty"


@probe("PATCH", "/v1/program", writes=True)
def _change_program(w: World) -> None:
    assert _ok(w.as_a("PATCH", "/v1/program", {"name": "Alpha renamed"}))["name"] == "Alpha renamed"


# Charities and donations: B has charity b-trees and a donation by dora.


def _b_charity_id(w: World) -> str:
    return str(w.as_b("GET", "/v1/charities").json()[0]["id"])


def _b_donation_id(w: World) -> str:
    return str(w.as_b("GET", "/v1/members/dora/donations").json()["data"][0]["id"])


@probe("GET", "/v1/charities")
def _list_charities(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/charities")) == []


@probe("GET", "/v1/charities/{charity_id}")
def _get_charity(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/charities/{_b_charity_id(w)}"), "charity_id")


@probe("PUT", "/v1/charities/{charity_id}")
def _replace_charity(w: World) -> None:
    url = f"/v1/charities/{_b_charity_id(w)}"
    assert_not_found(w.as_a("PUT", url, {"name": "Mine", "active": False}), "charity_id")


@probe("GET", "/v1/charities/payouts")
def _payouts(w: World) -> None:
    report = _ok(w.as_a("GET", "/v1/charities/payouts?period=2026-03"))
    assert (report["charities"], report["totals"]["donations"]) == ([], 0)


@probe("POST", "/v1/members/{customer_id}/donations")
def _donate(w: World) -> None:
    body = {"charity_id": _b_charity_id(w), "points": 10}
    # B's member, B's charity
    assert_not_found(w.as_a("POST", "/v1/members/dora/donations", body), "customer_id")
    # A's own member (100 points), B's charity
    assert_not_found(w.as_a("POST", "/v1/members/alice/donations", body), "charity_id")


@probe("GET", "/v1/members/{customer_id}/donations")
def _member_donations(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/dora/donations"), "customer_id")


@probe("GET", "/v1/members/{customer_id}/donations/summary")
def _donation_summary(w: World) -> None:
    url = "/v1/members/dora/donations/summary?year=2026"
    assert_not_found(w.as_a("GET", url), "customer_id")


@probe("GET", "/v1/donations/{donation_id}")
def _get_donation(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/donations/{_b_donation_id(w)}"), "donation_id")


@probe("POST", "/v1/charities", writes=True)
def _create_charity(w: World) -> None:
    # B's charity code is free for A; A's catalogue has only A's charity
    charity = _ok(w.as_a("POST", "/v1/charities", {"code": "b-trees", "name": "Alpha Trees"}), 201)
    assert [c["id"] for c in _ok(w.as_a("GET", "/v1/charities"))] == [charity["id"]]
    assert charity["id"] != _b_charity_id(w)


@probe("GET", "/v1/segments")
def _list_segments(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/segments")) == []


@probe("GET", "/v1/segments/{segment_code}")
def _get_segment(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/segments/b-seg"), "segment_code")


@probe("GET", "/v1/segments/{segment_code}/count")
def _count_segment(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/segments/b-seg/count"), "segment_code")


@probe("GET", "/v1/segments/{segment_code}/members")
def _segment_members(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/segments/b-seg/members"), "segment_code")


@probe("PUT", "/v1/segments/{segment_code}")
def _replace_segment(w: World) -> None:
    body = {"name": "Mine", "filter": {}}
    assert_not_found(w.as_a("PUT", "/v1/segments/b-seg", body), "segment_code")


@probe("POST", "/v1/segments/preview")
def _preview_segment(w: World) -> None:
    # A's preview of everyone is A's members, never B's
    mine = [m["external_id"] for m in _ok(w.as_a("GET", "/v1/members"))["data"]]
    preview = _ok(w.as_a("POST", "/v1/segments/preview", {"filter": {}}))
    assert (preview["count"], [m["customer_id"] for m in preview["data"]]) == (len(mine), mine)


@probe("POST", "/v1/segments", writes=True)
def _create_segment(w: World) -> None:
    body = {"code": "b-seg", "name": "Alpha", "filter": {}}
    assert _ok(w.as_a("POST", "/v1/segments", body), 201)["name"] == "Alpha"
    # A's segment of everyone is A's members, never B's
    mine = [m["external_id"] for m in _ok(w.as_a("GET", "/v1/members"))["data"]]
    page = _ok(w.as_a("GET", "/v1/segments/b-seg/members"))
    assert [m["customer_id"] for m in page["data"]] == mine


# Campaigns: B has the win-back campaign b-miss.

B_CAMPAIGN = {
    "code": "b-miss",
    "name": "Bravo win-back",
    "kind": "win_back",
    "lapse_days": 30,
    "offer": {"points": 10},
}
CAMPAIGN_SPEC = {k: v for k, v in B_CAMPAIGN.items() if k != "code"}


@probe("GET", "/v1/campaigns")
def _list_campaigns(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/campaigns"))["data"] == []


@probe("GET", "/v1/campaigns/{campaign_code}")
def _get_campaign(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/campaigns/b-miss"), "campaign_code")


@probe("PUT", "/v1/campaigns/{campaign_code}")
def _replace_campaign(w: World) -> None:
    assert_not_found(w.as_a("PUT", "/v1/campaigns/b-miss", CAMPAIGN_SPEC), "campaign_code")


@probe("POST", "/v1/campaigns/{campaign_code}/run")
def _run_campaign(w: World) -> None:
    assert_not_found(w.as_a("POST", "/v1/campaigns/b-miss/run"), "campaign_code")


@probe("GET", "/v1/campaigns/{campaign_code}/report")
def _campaign_report(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/campaigns/b-miss/report"), "campaign_code")


@probe("POST", "/v1/campaigns", writes=True)
def _create_campaign(w: World) -> None:
    # B's campaign code is free for A; A's list has only A's campaign
    created = _ok(w.as_a("POST", "/v1/campaigns", B_CAMPAIGN), 201)
    assert [c["code"] for c in _ok(w.as_a("GET", "/v1/campaigns"))["data"]] == [created["code"]]
    ran = _ok(w.as_a("POST", "/v1/campaigns/b-miss/run"))
    assert ran["members"] == 0  # alice ordered today: no lapse, and never B's members


# Coalitions: B has a partner brand b-partner paid in EUR and a Q1 EUR rate.


@probe("GET", "/v1/coalition/rates/{period}")
def _get_rates(w: World) -> None:
    rates = _ok(w.as_a("GET", "/v1/coalition/rates/2026-Q1"))
    assert (rates["rates"], rates["updated_at"]) == ({}, None)


@probe("GET", "/v1/coalition/settlements")
def _settlement(w: World) -> None:
    statement = _ok(w.as_a("GET", "/v1/coalition/settlements?period=2026-Q1"))
    assert "b-partner" not in {line["brand"] for line in statement["brands"]}
    assert (statement["rates"], statement["total"]["amount"]) == ({}, 0)


@probe("PATCH", "/v1/brands/{brand_code}")
def _change_brand(w: World) -> None:
    assert_not_found(w.as_a("PATCH", "/v1/brands/b-partner", {"left": True}), "brand_code")


@probe("PUT", "/v1/coalition/rates/{period}", writes=True)
def _put_rates(w: World) -> None:
    # A fixes its own rate; B's stays (the snapshot)
    mine = _ok(w.as_a("PUT", "/v1/coalition/rates/2026-Q1", {"EUR": "0.5"}))
    assert mine["rates"] == {"EUR": "0.5"}


# Referrals: B has a referral policy and eve, referred by bob.


def _b_referral_id(w: World) -> str:
    return str(w.as_b("GET", "/v1/referrals").json()["data"][0]["id"])


@probe("GET", "/v1/program/referral-policy")
def _get_referral_policy(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/program/referral-policy"), "referral_policy")


@probe("GET", "/v1/referrals")
def _list_referrals(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/referrals"))["data"] == []


@probe("GET", "/v1/referrals/stats")
def _referral_stats(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/referrals/stats"))["enrolled"] == 0


@probe("GET", "/v1/referrals/{referral_id}")
def _get_referral(w: World) -> None:
    assert_not_found(w.as_a("GET", f"/v1/referrals/{_b_referral_id(w)}"), "referral_id")


@probe("POST", "/v1/referrals/{referral_id}/approve")
def _approve_referral(w: World) -> None:
    url = f"/v1/referrals/{_b_referral_id(w)}/approve"
    assert_not_found(w.as_a("POST", url, {"note": "ok"}), "referral_id")


@probe("POST", "/v1/referrals/{referral_id}/reject")
def _reject_referral(w: World) -> None:
    url = f"/v1/referrals/{_b_referral_id(w)}/reject"
    assert_not_found(w.as_a("POST", url, {"note": "no"}), "referral_id")


@probe("GET", "/v1/members/{customer_id}/referral")
def _member_referral(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/eve/referral"), "customer_id")


@probe("POST", "/v1/members/{customer_id}/referral/invites")
def _invite(w: World) -> None:
    body = {"email": "x@example.com"}
    assert_not_found(w.as_a("POST", "/v1/members/eve/referral/invites", body), "customer_id")


@probe("PUT", "/v1/program/referral-policy", writes=True)
def _put_referral_policy(w: World) -> None:
    # A sets its own policy; B's code still does not work in A's program
    _ok(w.as_a("PUT", "/v1/program/referral-policy", {"base_url": "https://alpha.example/r"}))
    code = w.as_b("GET", "/v1/members/bob/referral").json()["code"]
    response = w.as_a("POST", "/v1/members", {"external_id": "zoe", "referral": {"code": code}})
    assert (response.status_code, response.json()["code"]) == (422, "referral-code-invalid")


# Memberships: B has plan b-gold, held by fay.

B_PLAN = {"code": "b-gold", "name": "B gold", "price": money(500), "period": "month"}


def _b_subscription_id(w: World) -> str:
    return str(w.as_b("GET", "/v1/members/fay/subscriptions").json()["data"][0]["id"])


@probe("GET", "/v1/membership-plans")
def _list_plans(w: World) -> None:
    assert _ok(w.as_a("GET", "/v1/membership-plans"))["data"] == []


@probe("GET", "/v1/membership-plans/{plan_code}")
def _get_plan(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/membership-plans/b-gold"), "plan_code")


@probe("PUT", "/v1/membership-plans/{plan_code}")
def _replace_plan(w: World) -> None:
    body = {"name": "Mine", "price": money(1)}
    assert_not_found(w.as_a("PUT", "/v1/membership-plans/b-gold", body), "plan_code")


@probe("POST", "/v1/members/{customer_id}/subscriptions")
def _subscribe(w: World) -> None:
    body = {"plan": "b-gold", "trial": True}
    assert_not_found(w.as_a("POST", "/v1/members/fay/subscriptions", body), "customer_id")


@probe("GET", "/v1/members/{customer_id}/subscriptions")
def _member_subscriptions(w: World) -> None:
    assert_not_found(w.as_a("GET", "/v1/members/fay/subscriptions"), "customer_id")


@probe("POST", "/v1/members/{customer_id}/benefits/validate")
def _benefits(w: World) -> None:
    cart = {"currency": "USD", "lines": [{"line_id": "L1", "unit_price": money(100)}]}
    assert_not_found(w.as_a("POST", "/v1/members/fay/benefits/validate", cart), "customer_id")


@probe("GET", "/v1/subscriptions/{subscription_id}")
def _get_subscription(w: World) -> None:
    url = f"/v1/subscriptions/{_b_subscription_id(w)}"
    assert_not_found(w.as_a("GET", url), "subscription_id")


@probe("POST", "/v1/subscriptions/{subscription_id}/renewals")
def _renew(w: World) -> None:
    url = f"/v1/subscriptions/{_b_subscription_id(w)}/renewals"
    assert_not_found(w.as_a("POST", url, {"payment_reference": "a-pay"}), "subscription_id")


@probe("POST", "/v1/subscriptions/{subscription_id}/payment-failures")
def _fail_payment(w: World) -> None:
    url = f"/v1/subscriptions/{_b_subscription_id(w)}/payment-failures"
    assert_not_found(w.as_a("POST", url, {"reason": "declined"}), "subscription_id")


@probe("POST", "/v1/subscriptions/{subscription_id}/cancellations")
def _cancel(w: World) -> None:
    url = f"/v1/subscriptions/{_b_subscription_id(w)}/cancellations"
    assert_not_found(w.as_a("POST", url, {"at_period_end": False}), "subscription_id")


@probe("POST", "/v1/membership-plans", writes=True)
def _create_plan(w: World) -> None:
    # B's plan code is free for A: codes are per program
    assert _ok(w.as_a("POST", "/v1/membership-plans", B_PLAN), 201)["code"] == "b-gold"


# --- the tests -------------------------------------------------------------------------------


def test_every_route_has_an_isolation_probe(app: FastAPI, client: TestClient) -> None:
    routes = served_routes(app)
    # the walk over app.routes finds every operation the OpenAPI document lists
    documented = {
        (method.upper(), path)
        for path, operations in client.get("/openapi.json").json()["paths"].items()
        for method in operations
    }
    assert documented <= routes
    missing = routes - PUBLIC - set(PROBES)
    assert not missing, f"routes without a tenant-isolation probe: {sorted(missing)}"
    assert not set(PROBES) - routes, "probes for routes that no longer exist"


def test_tenant_a_cannot_see_or_touch_tenant_b(
    world: World, engine: Engine, subtests: pytest.Subtests
) -> None:
    # given B's data as B sees it
    snapshot = b_snapshot(world)
    assert snapshot["member"]["balance"]["available"] == 600 + 50 - 300 - 100
    assert snapshot["redemption"]["status"] == "issued"
    assert snapshot["coupon"]["valid"] is True
    assert snapshot["new key works"] == 200
    for (method, path), check in PROBES.items():
        with subtests.test(f"{method} {path}"):
            # when A's key is used on B's resource through this route
            rows = count_rows(engine)
            check.run(world)
            # then A got nothing of B's, nothing was written unless A created its own data,
            # and B's data is exactly what it was
            if not check.writes:
                assert count_rows(engine) == rows
            assert b_snapshot(world) == snapshot


def test_public_routes_answer_without_a_key(client: TestClient) -> None:
    for method, path in sorted(PUBLIC):
        response = client.request(method, path)
        assert response.status_code == 200, (path, response.text)


def test_same_customer_id_in_two_tenants_are_two_members(world: World) -> None:
    # given both A and B call their customer "bob"
    _ok(world.as_a("POST", "/v1/orders", order("a-o2", "bob", lines=[(1, 1_000)])), 201)
    # then each sees its own
    assert _ok(world.as_a("GET", "/v1/members/bob"))["balance"]["available"] == 10
    assert world.as_b("GET", "/v1/members/bob").json()["balance"]["available"] == 250
