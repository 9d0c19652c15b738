"""Coalition programs through the API: a settlement statement over a quarter, exchange
rates fixed per period, brands that leave and re-join, and brand keys kept to their brand."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.api.test_auth_keys import ADMIN_ONLY, VALID_WRITES, sample_url
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, refund, run_one_job, utc

NY = "America/New_York"
BRAND_KEY_REFUSED = "a brand key cannot change the program's configuration"


@pytest.fixture
def coalition(engine: Engine) -> Tenant:
    """A USD program in New York time; 2 points are worth 1 cent; lots expire after two
    months; brands a, b and c (c is paid in EUR) beside the tenant's default brand."""
    return make_tenant(
        engine,
        "mall",
        time_zone=NY,
        point_value={"points": 2, "amount": 1},
        expiry={"kind": "fixed", "months": 2},
    )


def add_brand(client: TestClient, tenant: Tenant, code: str, **changes: Any) -> None:
    made = client.post(
        "/v1/brands", json={"code": code, "name": code.upper()}, headers=tenant.headers
    )
    assert made.status_code == 201, made.text
    if changes:
        changed = client.patch(f"/v1/brands/{code}", json=changes, headers=tenant.headers)
        assert changed.status_code == 200, changed.text


def brand_key(client: TestClient, tenant: Tenant, code: str, *scopes: str) -> dict[str, str]:
    key = client.post(
        "/v1/keys",
        json={"name": code, "scopes": list(scopes or ("read", "write")), "brand": code},
        headers=tenant.headers,
    )
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}


def at(clock: Clock, instant: datetime) -> datetime:
    clock.now = instant
    return instant


def post(client: TestClient, tenant: Tenant, path: str, body: Any, headers: Any = None) -> Any:
    response = client.post(path, json=body, headers=headers or tenant.headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def usd(amount: int) -> dict[str, Any]:
    return money(amount, "USD")


def figures(funding: int, payments: int, breakage: int, net: int, currency: str = "USD") -> Any:
    return {
        "funding": money(funding, currency),
        "payments": money(payments, currency),
        "breakage": money(breakage, currency),
        "net": money(net, currency),
    }


def zero_line(brand: str) -> dict[str, Any]:
    nothing = figures(0, 0, 0, 0)
    return {
        "brand": brand,
        "currency": "USD",
        "issued": 0,
        "redeemed": 0,
        "expired": 0,
        "program_currency": nothing,
        "own_currency": nothing,
    }


def run_quarter(client: TestClient, tenant: Tenant, clock: Clock, engine: Engine) -> None:
    """Earn at a and b, redeem at b and c, a refund, a grant, an expiry (see the test)."""
    for code in ("a", "b"):
        add_brand(client, tenant, code)
    add_brand(client, tenant, "c", currency="EUR")
    b_key = brand_key(client, tenant, "b")
    rewards = {
        cost: post(
            client, tenant, "/v1/rewards", {"name": f"{cost}", "points_cost": cost, "value": usd(1)}
        )["id"]
        for cost in (50, 150, 201)
    }
    # Mar 31 22:00 in New York (Apr 1 UTC): m1 earns 40 at a, in the first quarter
    when = at(clock, utc(2026, 4, 1, 2))
    post(
        client,
        tenant,
        "/v1/orders",
        order("a1", "m1", lines=[(1, 4000)], occurred_at=when, brand="a"),
    )
    # Apr 10: m1 earns 300 at a; Apr 15: m2 earns 501 at b; Apr 16: m2 is given 10 points
    when = at(clock, utc(2026, 4, 10, 15))
    lines = [(1, 20_000), (1, 10_000)]
    post(client, tenant, "/v1/orders", order("a2", "m1", lines=lines, occurred_at=when, brand="a"))
    when = at(clock, utc(2026, 4, 15, 15))
    post(
        client,
        tenant,
        "/v1/orders",
        order("b1", "m2", lines=[(1, 50_100)], occurred_at=when, brand="b"),
    )
    at(clock, utc(2026, 4, 16, 15))
    post(client, tenant, "/v1/members/m2/adjustments", {"points": 10, "reason": "goodwill"})
    # Apr 20: a refunds the 100.00 line of a2: 100 points go back to a
    when = at(clock, utc(2026, 4, 20, 15))
    post(
        client,
        tenant,
        "/v1/refunds",
        refund("ra2", "a2", lines=[("L1", 1)], occurred_at=when, brand="a"),
    )
    # May 1: m1 redeems 150 at b (b's key), m2 redeems 201 at c (named in the body)
    at(clock, utc(2026, 5, 1, 15))
    at_b = post(client, tenant, "/v1/members/m1/redemptions", {"reward_id": rewards[150]}, b_key)
    body = {"reward_id": rewards[201], "brand": "c"}
    post(client, tenant, "/v1/members/m2/redemptions", body)
    # and a redemption at b cancelled the same day nets out
    cancelled = post(
        client, tenant, "/v1/members/m1/redemptions", {"reward_id": rewards[50]}, b_key
    )
    post(client, tenant, f"/v1/redemptions/{cancelled['id']}/cancel", None, b_key)
    assert at_b["id"] != cancelled["id"]
    # Jun 20: everything earned by Apr 20 has expired: m1's 90 (a's), m2's 300 (b's) + 10
    run_one_job(engine, "expire", utc(2026, 6, 20, 12))


def test_a_quarter_of_a_three_brand_coalition_settles_to_zero(
    client: TestClient, coalition: Tenant, clock: Clock, engine: Engine
) -> None:
    # given the quarter's activity, and no EUR rate yet
    run_quarter(client, coalition, clock, engine)
    headers = coalition.headers
    # then the statement needs c's rate
    missing = client.get("/v1/coalition/settlements?period=2026-Q2", headers=headers)
    assert missing.status_code == 422, missing.text
    assert (missing.json()["code"], missing.json()["field"]) == ("invalid-input", "EUR")
    assert "EUR" in missing.json()["detail"]
    # when the quarter's rate is fixed (1 USD = 0.9 EUR)
    rates = client.put("/v1/coalition/rates/2026-Q2", json={"EUR": "0.9"}, headers=headers)
    assert rates.status_code == 200, rates.text
    assert rates.json() == {
        "period": "2026-Q2",
        "currency": "USD",
        "rates": {"EUR": "0.9"},
        "updated_at": "2026-05-01T15:00:00Z",
    }
    statement = client.get("/v1/coalition/settlements?period=2026-Q2", headers=headers)
    # then (2 points = 1 cent, half to even):
    # a issued 300 - 100 = 200 (funding 100), 90 of its points expired (breakage 45): -55
    # b issued 501 (250.5 -> 250), honoured 150 (75), 300 of its points expired (150): -25
    # c honoured 201 (100.5 -> 100): +100, 90 EUR
    # the pool pays 20 (the first quarter's 40 points funded then, redeemed now);
    # the 10 points the program gave expired to the pool (no issuing brand)
    assert statement.status_code == 200, statement.text
    assert statement.json() == {
        "period": "2026-Q2",
        "starts_at": "2026-04-01T04:00:00Z",
        "ends_at": "2026-07-01T04:00:00Z",
        "currency": "USD",
        "point_value": usd(1),
        "point_value_points": 2,
        "rates": {"EUR": "0.9"},
        "brands": [
            zero_line("default"),
            {
                "brand": "a",
                "currency": "USD",
                "issued": 200,
                "redeemed": 0,
                "expired": 90,
                "program_currency": figures(100, 0, 45, -55),
                "own_currency": figures(100, 0, 45, -55),
            },
            {
                "brand": "b",
                "currency": "USD",
                "issued": 501,
                "redeemed": 150,
                "expired": 300,
                "program_currency": figures(250, 75, 150, -25),
                "own_currency": figures(250, 75, 150, -25),
            },
            {
                "brand": "c",
                "currency": "EUR",
                "issued": 0,
                "redeemed": 201,
                "expired": 0,
                "program_currency": figures(0, 100, 0, 100),
                "own_currency": figures(0, 90, 0, 90, "EUR"),
            },
        ],
        "pool": {"outstanding_change": -40, "net": usd(-20)},
        "transfers": [
            {"payer": "a", "payee": "c", "amount": usd(55)},
            {"payer": "b", "payee": "c", "amount": usd(25)},
            {"payer": None, "payee": "c", "amount": usd(20)},
        ],
        "total": usd(0),
    }
    # and as CSV, in minor units
    csv = client.get("/v1/coalition/settlements?period=2026-Q2&format=csv", headers=headers)
    assert csv.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv.text.splitlines() == [
        "kind,party,payee,currency,issued,redeemed,expired,funding,payments,breakage,net,"
        "own_currency,own_funding,own_payments,own_breakage,own_net",
        "brand,default,,USD,0,0,0,0,0,0,0,USD,0,0,0,0",
        "brand,a,,USD,200,0,90,100,0,45,-55,USD,100,0,45,-55",
        "brand,b,,USD,501,150,300,250,75,150,-25,USD,250,75,150,-25",
        "brand,c,,USD,0,201,0,0,100,0,100,EUR,0,90,0,90",
        "pool,,,USD,,,,,,,-20",
        "transfer,a,c,USD,,,,,,,55",
        "transfer,b,c,USD,,,,,,,25",
        "transfer,pool,c,USD,,,,,,,20",
    ]
    assert_ledger_ok(engine)


def test_the_first_quarter_and_a_month_read_their_own_window_and_rates(
    client: TestClient, coalition: Tenant, clock: Clock, engine: Engine
) -> None:
    run_quarter(client, coalition, clock, engine)
    headers = coalition.headers
    assert (
        client.put("/v1/coalition/rates/2026", json={"EUR": "2"}, headers=headers).status_code
        == 200
    )
    assert (
        client.put("/v1/coalition/rates/2026-Q2", json={"EUR": "0.9"}, headers=headers).status_code
        == 200
    )
    # the first quarter (New York time) holds the 40 points of Mar 31, 22:00 local
    q1 = client.get("/v1/coalition/settlements?period=2026-Q1", headers=headers).json()
    assert q1["rates"] == {"EUR": "2"}  # the year's rate: Q1 has none of its own
    a = next(line for line in q1["brands"] if line["brand"] == "a")
    assert (a["issued"], a["program_currency"]["net"]) == (40, usd(-20))
    assert q1["transfers"] == [{"payer": "a", "payee": None, "amount": usd(20)}]
    # April falls back to the quarter's rate: only a's 300 - 100 and b's 501 were issued
    april = client.get("/v1/coalition/settlements?period=2026-04", headers=headers).json()
    assert april["rates"] == {"EUR": "0.9"}
    issued = {line["brand"]: line["issued"] for line in april["brands"]}
    assert issued == {"default": 0, "a": 200, "b": 501, "c": 0}
    assert april["pool"] == {"outstanding_change": 701, "net": usd(350)}
    assert april["total"] == usd(0)


@pytest.mark.parametrize(
    ("period", "body", "field"),
    [
        ("2026-Q5", {"EUR": "0.9"}, "period"),
        ("2026-Q2", {"EUR": "-1"}, "EUR"),
        ("2026-Q2", {"EUR": "abc"}, "EUR"),
        ("2026-Q2", {"USD": "1"}, "USD"),
        ("2026-Q2", {"XXY": "1"}, "XXY"),
    ],
)
def test_bad_rates_write_nothing(
    client: TestClient, coalition: Tenant, engine: Engine, period: str, body: Any, field: str
) -> None:
    before = count_rows(engine)
    response = client.put(f"/v1/coalition/rates/{period}", json=body, headers=coalition.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert count_rows(engine) == before


def test_a_brand_that_left_issues_no_points_but_its_points_stay_valid(
    client: TestClient, coalition: Tenant, clock: Clock, engine: Engine
) -> None:
    # given m1 earned 100 at a, which has a key
    add_brand(client, coalition, "a")
    add_brand(client, coalition, "b")
    a_key = brand_key(client, coalition, "a")
    post(client, coalition, "/v1/orders", order("o1", "m1", brand="a"))
    reward = post(
        client, coalition, "/v1/rewards", {"name": "r", "points_cost": 60, "value": usd(1)}
    )
    # when a leaves the coalition
    left = client.patch("/v1/brands/a", json={"left": True}, headers=coalition.headers)
    assert left.status_code == 200, left.text
    assert left.json()["left_at"] == "2026-03-01T12:00:00Z"
    # then neither its key nor the admin can have it issue points, and nothing is written
    before = count_rows(engine)
    for headers, body in (
        (a_key, order("o2", "m1")),
        (coalition.headers, order("o3", "m1", brand="a")),
    ):
        refused = client.post("/v1/orders", json=body, headers=headers)
        assert refused.status_code == 422, refused.text
        assert (refused.json()["code"], refused.json()["field"]) == ("brand-left", "brand")
    event = {
        "event_id": "e1",
        "type": "signup",
        "customer_id": "m1",
        "brand": "a",
        "occurred_at": "2026-03-01T12:00:00Z",
    }
    assert client.post("/v1/events", json=event, headers=coalition.headers).status_code == 422
    assert count_rows(engine) == before
    # and a delivery of an order recorded before it left still replays its first result
    replay = client.post("/v1/orders", json=order("o1", "m1", brand="a"), headers=a_key)
    assert (replay.status_code, replay.headers.get("Idempotent-Replayed")) == (200, "true")
    assert replay.json()["points"] == 100
    assert count_rows(engine) == before
    # but m1's points are redeemable at b, and a may still refund its order
    post(client, coalition, "/v1/members/m1/redemptions", {"reward_id": reward["id"], "brand": "b"})
    post(client, coalition, "/v1/refunds", refund("r1", "o1", amount=5000, brand="a"))
    # and once it re-joins, it issues points again
    rejoined = client.patch("/v1/brands/a", json={"left": False}, headers=coalition.headers)
    assert rejoined.json()["left_at"] is None
    assert client.post("/v1/orders", json=order("o2", "m1"), headers=a_key).status_code == 201
    assert_ledger_ok(engine)


def test_brand_keys_see_only_their_brands_orders_and_redemptions(
    client: TestClient, coalition: Tenant, engine: Engine
) -> None:
    # given m1 redeemed once at a and once at b, and ordered at both
    add_brand(client, coalition, "a")
    add_brand(client, coalition, "b")
    a_key, b_key = brand_key(client, coalition, "a"), brand_key(client, coalition, "b")
    post(client, coalition, "/v1/orders", order("o1", "m1", lines=[(1, 50_000)]), a_key)
    post(client, coalition, "/v1/orders", order("o2", "m1"), b_key)
    reward = post(
        client, coalition, "/v1/rewards", {"name": "r", "points_cost": 60, "value": usd(1)}
    )
    at_a = post(client, coalition, "/v1/members/m1/redemptions", {"reward_id": reward["id"]}, a_key)
    at_b = post(client, coalition, "/v1/members/m1/redemptions", {"reward_id": reward["id"]}, b_key)
    # then each key sees its own brand's only
    assert client.get("/v1/orders/o1", headers=b_key).status_code == 404
    assert client.get("/v1/orders/o1?brand=a", headers=b_key).status_code == 403
    assert client.get(f"/v1/redemptions/{at_a['id']}", headers=b_key).status_code == 404
    assert client.get(f"/v1/redemptions/{at_b['id']}", headers=b_key).status_code == 200
    listed = client.get("/v1/members/m1/redemptions", headers=b_key).json()
    assert [r["id"] for r in listed] == [at_b["id"]]
    admin_list = client.get("/v1/members/m1/redemptions", headers=coalition.headers).json()
    assert [r["id"] for r in admin_list] == [at_b["id"], at_a["id"]]
    # the member's ledger shows b every movement, but the details of b's own only
    ledger = client.get("/v1/members/m1/ledger", headers=b_key).json()["data"]
    seen = [(tx["kind"], tx["points"], tx["details"].get("order_id")) for tx in ledger]
    assert seen == [
        ("redeem", -60, None),
        ("redeem", -60, None),
        ("earn", 100, "o2"),
        ("earn", 500, None),
    ]
    assert ledger[0]["details"] != {} and ledger[1]["details"] == {}
    recent = client.get("/v1/members/m1", headers=b_key).json()["recent_ledger"]
    assert recent == ledger
    patched = client.patch("/v1/members/m1", json={"first_name": "M"}, headers=b_key)
    assert patched.json()["recent_ledger"] == ledger
    assert client.get("/v1/members/m1/ledger", headers=a_key).json()["data"][3]["details"] != {}
    # and cannot cancel another brand's redemption, nor redeem for it
    before = count_rows(engine)
    cancel = client.post(f"/v1/redemptions/{at_a['id']}/cancel", headers=b_key)
    assert cancel.status_code == 404
    body = {"reward_id": reward["id"], "brand": "a"}
    denied = client.post("/v1/members/m1/redemptions", json=body, headers=b_key)
    assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
    assert count_rows(engine) == before


def test_a_brand_key_cannot_read_the_statement_or_change_brands(
    client: TestClient, coalition: Tenant, engine: Engine
) -> None:
    add_brand(client, coalition, "a")
    a_admin = brand_key(client, coalition, "a", "admin")
    before = count_rows(engine)
    for method, path, body in (
        ("GET", "/v1/coalition/settlements?period=2026-Q1", None),
        ("PUT", "/v1/coalition/rates/2026-Q1", {"EUR": "1"}),
        ("PATCH", "/v1/brands/a", {"left": True}),
    ):
        response = client.request(method, path, json=body, headers=a_admin)
        assert response.status_code == 403, (path, response.text)
        assert response.json()["detail"] == BRAND_KEY_REFUSED
    assert count_rows(engine) == before


def test_unknown_brand_and_bad_period(client: TestClient, coalition: Tenant) -> None:
    missing = client.patch("/v1/brands/nope", json={"left": True}, headers=coalition.headers)
    assert (missing.status_code, missing.json()["field"]) == (404, "brand_code")
    bad = client.get("/v1/coalition/settlements?period=2026-13", headers=coalition.headers)
    assert (bad.status_code, bad.json()["field"]) == (422, "period")
    empty = client.get("/v1/coalition/rates/2026-01", headers=coalition.headers).json()
    assert empty == {"period": "2026-01", "currency": "USD", "rates": {}, "updated_at": None}


def test_a_brand_key_is_refused_every_program_configuration_route(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    # given a key of brand north with every scope, and member c1 with an order
    add_brand(client, tenant, "north")
    north = brand_key(client, tenant, "north", "read", "write", "admin")
    assert client.post("/v1/orders", json=order("o1"), headers=tenant.headers).status_code == 201
    # then every route that needs the admin scope refuses it and writes nothing
    for method, path in sorted(ADMIN_ONLY):
        with subtests.test(f"{method} {path}"):
            url, body = VALID_WRITES.get((method, path), (sample_url(path), None))
            before = count_rows(engine)
            response = client.request(method, url, json=body, headers=north)
            assert response.status_code == 403, response.text
            assert response.json()["code"] == "forbidden"
            assert response.json()["detail"] == BRAND_KEY_REFUSED
            assert count_rows(engine) == before


def test_the_home_coalition_template(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    # given a program from the template
    body = {"template": "home-coalition", "code": "home", "currency": "USD"}
    made = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert made.status_code == 201, made.text
    home = {**tenant.headers, "Patron-Program": "home"}
    # then it has its seven brands
    codes = [brand["code"] for brand in client.get("/v1/brands", headers=home).json()]
    assert codes == [
        "default",
        "furniture",
        "kitchen",
        "garden",
        "lighting",
        "textiles",
        "diy",
        "decor",
    ]
    # when a member spends 1,000.00 at the garden centre, then 100.00 at the kitchen store
    first = order("g1", "m1", lines=[(1, 100_000)], brand="garden")
    assert client.post("/v1/orders", json=first, headers=home).json()["points"] == 2000
    second = order("k1", "m1", lines=[(1, 10_000)], brand="kitchen")
    # then the first earned 2% back as Silver, the second 5% as Gold
    assert client.post("/v1/orders", json=second, headers=home).json()["points"] == 500
    member = client.get("/v1/members/m1", headers=home).json()
    assert member["tier"]["current"] == "gold"
    assert_ledger_ok(engine)
