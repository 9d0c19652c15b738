"""Earning rules through the API: versions, award kinds, conditions, schedules, limits,
budgets, stacking and bad input.

Every program here is the conftest's: USD, 1 point per $1.00 (floor), so a $100.00 order
earns a base of 100 points before any rule. Rule ids are 1, 2, ... in creation order.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from patron.api.app import create_app
from patron.db.engine import make_engine
from patron.db.migrate import upgrade
from patron.services import rules as rules_service
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import money, order

PROBLEM_JSON = "application/problem+json"


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fresh_rulebooks() -> Iterator[None]:
    """Start each test with no compiled rules cached (the cache is keyed by engine and a
    random revision, so this only makes the tests independent of their order)."""
    rules_service._CACHE.clear()
    yield
    rules_service._CACHE.clear()


def at(text_: str) -> datetime:
    """An aware UTC instant from "2026-03-01T12:00" (seconds optional)."""
    return datetime.fromisoformat(text_).replace(tzinfo=UTC)


def fixed(points: int) -> dict[str, Any]:
    return {"kind": "fixed_points", "points": points}


def rule_body(code: str, award: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A new rule; `order.paid` unless `trigger` is given."""
    return {
        "code": code,
        "name": code.replace("-", " ").title(),
        "trigger": "order.paid",
        "award": award,
        **fields,
    }


def create_rule(
    client: TestClient, tenant: Tenant, code: str, award: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = client.post(
        "/v1/rules", json=rule_body(code, award, **fields), headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def pay(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def line(
    line_id: str,
    price: int,
    *,
    quantity: int = 1,
    sku: str | None = None,
    category: str | None = None,
    tags: list[str] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "line_id": line_id,
        "quantity": quantity,
        "unit_price": money(price),
    }
    if sku is not None:
        body["sku"] = sku
    if category is not None:
        body["category"] = category
    if tags is not None:
        body["tags"] = tags
    return body


def order_of(
    order_id: str, lines: list[dict[str, Any]], customer_id: str = "c1", **extra: Any
) -> dict[str, Any]:
    """A paid order of these lines (no discounts), its total their sum."""
    body = order(order_id, customer_id, **extra)
    body["lines"] = lines
    body["total"] = money(sum(item["quantity"] * item["unit_price"]["amount"] for item in lines))
    return body


def base(points: int) -> dict[str, Any]:
    """The base-earning entry of an order's explanation (the conftest program)."""
    return {
        "rule": "base",
        "rate": {"points": 1, "per_amount": 100},
        "rounding": "floor",
        "includes": {"shipping": False, "tax": False},
        "points": points,
    }


def applied(
    code: str, rule_id: int, points: int, *, version: int = 1, store_credit: int = 0, **more: Any
) -> dict[str, Any]:
    """The explanation entry of a rule that applied."""
    return {
        "rule": code,
        "rule_id": rule_id,
        "version": version,
        "matched": True,
        "applied": True,
        "points": points,
        "store_credit": store_credit,
        **more,
    }


def skipped(
    code: str, rule_id: int, reason: str, *, matched: bool = False, version: int = 1
) -> dict[str, Any]:
    """The explanation entry of a rule that gave nothing, and why."""
    return {
        "rule": code,
        "rule_id": rule_id,
        "version": version,
        "matched": matched,
        "applied": False,
        "points": 0,
        "store_credit": 0,
        "reason": reason,
    }


def assert_problem(response: Response, status: int, code: str, field: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["code"], problem.get("field")) == (status, code, field), (
        problem
    )
    assert isinstance(problem["detail"], str) and problem["detail"]
    return problem


def balance(client: TestClient, tenant: Tenant, customer_id: str = "c1") -> int:
    member = client.get(f"/v1/members/{customer_id}", headers=tenant.headers).json()
    available: int = member["balance"]["available"]
    return available


# --- create, view, revise ------------------------------------------------------------------


def test_a_new_rule_is_version_1_and_current(client: TestClient, tenant: Tenant) -> None:
    # when a rule is created at 12:00
    created = create_rule(client, tenant, "bonus", fixed(10))
    # then it is version 1, effective now, stored in full with its defaults
    v1 = {
        "version": 1,
        "effective_from": "2026-03-01T12:00:00Z",
        "created_at": "2026-03-01T12:00:00Z",
        "spec": {
            "name": "Bonus",
            "trigger": "order.paid",
            "event_type": None,
            "conditions": {
                "min_subtotal": None,
                "lines": None,
                "brands": [],
                "channels": [],
                "first_order": None,
                "member_tags": [],
                "tiers": [],
                "segments": [],
                "expression": None,
            },
            "award": {
                "kind": "fixed_points",
                "points": 10,
                "per_amount": None,
                "multiplier": None,
                "percent": None,
                "rounding": "floor",
                "issue": None,
            },
            "limits": [],
            "budget_points": None,
            "schedule": {
                "active_from": None,
                "active_to": None,
                "days_of_week": [],
                "hours": None,
            },
            "priority": 0,
            "stacking": "stack",
            "active": True,
            "expiry": None,
        },
    }
    assert created == {"code": "bonus", "current": v1, "versions": [v1]}
    # and reading it (one, or the list) shows the same
    assert client.get("/v1/rules/bonus", headers=tenant.headers).json() == created
    assert client.get("/v1/rules", headers=tenant.headers).json() == [created]
    missing = client.get("/v1/rules/nope", headers=tenant.headers)
    assert_problem(missing, 404, "not-found", "code")


def test_revising_adds_version_2_and_late_orders_use_the_version_then_in_force(
    client: TestClient, tenant: Tenant, clock: Clock, engine: Engine
) -> None:
    # given "bonus" v1 (+10) created at 12:00
    create_rule(client, tenant, "bonus", fixed(10))
    # when it is revised at 13:00 to +25
    clock.advance(hours=1)
    body = rule_body("bonus", fixed(25))
    del body["code"]
    revised = client.put("/v1/rules/bonus", json=body, headers=tenant.headers)
    # then version 2 is current, version 1 kept
    assert revised.status_code == 200, revised.text
    view = revised.json()
    assert view["current"]["version"] == 2
    assert view["current"]["effective_from"] == "2026-03-01T13:00:00Z"
    assert view["current"]["spec"]["award"]["points"] == 25
    assert [
        (v["version"], v["effective_from"], v["spec"]["award"]["points"]) for v in view["versions"]
    ] == [(1, "2026-03-01T12:00:00Z", 10), (2, "2026-03-01T13:00:00Z", 25)]
    assert client.get("/v1/rules/bonus", headers=tenant.headers).json() == view
    # and an order that occurred at 12:30 but arrives now is evaluated with version 1
    late = pay(client, tenant, order("late", occurred_at=at("2026-03-01T12:30")))
    assert late["points"] == 110
    assert late["explanation"]["rules"] == [base(100), applied("bonus", 1, 10, version=1)]
    # an order of 13:00 with version 2
    now = pay(client, tenant, order("now", occurred_at=at("2026-03-01T13:00")))
    assert now["points"] == 125
    assert now["explanation"]["rules"] == [base(100), applied("bonus", 1, 25, version=2)]
    # and one from before the rule existed with no version at all: base only
    early = pay(client, tenant, order("early", occurred_at=at("2026-03-01T11:59:59")))
    assert early["points"] == 100
    assert early["explanation"]["rules"] == [base(100)]
    # the ledger carries the same explanation
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    explained = {tx["details"]["order_id"]: tx["details"]["explanation"] for tx in ledger}
    assert explained == {
        "late": late["explanation"],
        "now": now["explanation"],
        "early": early["explanation"],
    }
    # and replaying the late order, even after a version 3, returns its first result
    clock.advance(hours=1)
    body["award"] = fixed(99)
    assert client.put("/v1/rules/bonus", json=body, headers=tenant.headers).status_code == 200
    before = count_rows(engine)
    again = client.post(
        "/v1/orders",
        json=order("late", occurred_at=at("2026-03-01T12:30")),
        headers=tenant.headers,
    )
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == late
    assert count_rows(engine) == before
    assert balance(client, tenant) == 110 + 125 + 100


def test_a_future_version_becomes_current_at_its_effective_instant(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    # given v1 now, and v2 saved now to take effect at 15:00
    create_rule(client, tenant, "bonus", fixed(10))
    body = rule_body("bonus", fixed(40), effective_from="2026-03-01T15:00:00Z")
    del body["code"]
    view = client.put("/v1/rules/bonus", json=body, headers=tenant.headers).json()
    # then v1 stays current until then
    assert view["current"]["version"] == 1
    assert [v["version"] for v in view["versions"]] == [1, 2]
    assert pay(client, tenant, order("o1", occurred_at=at("2026-03-01T14:59:59")))["points"] == 110
    # and from 15:00 v2 is current and applies
    clock.now = at("2026-03-01T15:00")
    assert client.get("/v1/rules/bonus", headers=tenant.headers).json()["current"]["version"] == 2
    assert pay(client, tenant, order("o2", occurred_at=clock.now))["points"] == 140


def test_a_deactivating_version_stops_the_rule(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    create_rule(client, tenant, "bonus", fixed(10))
    clock.advance(hours=1)
    body = rule_body("bonus", fixed(10), active=False)
    del body["code"]
    assert client.put("/v1/rules/bonus", json=body, headers=tenant.headers).status_code == 200
    before = pay(client, tenant, order("o1", occurred_at=at("2026-03-01T12:30")))
    after = pay(client, tenant, order("o2", occurred_at=clock.now))
    assert (before["points"], after["points"]) == (110, 100)
    assert after["explanation"]["rules"] == [base(100)]


def test_revising_an_unknown_rule_is_404_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = rule_body("ghost", fixed(10))
    del body["code"]
    before = count_rows(engine)
    response = client.put("/v1/rules/ghost", json=body, headers=tenant.headers)
    assert_problem(response, 404, "not-found", "code")
    assert count_rows(engine) == before


# --- award kinds ---------------------------------------------------------------------------


def test_fixed_points_are_added_to_the_base(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "bonus", fixed(10))
    result = pay(client, tenant, order("o1"))
    assert (result["points"], result["points_status"]) == (110, "available")
    assert result["explanation"] == {
        "eligible_amount": 10_000,
        "points": 110,
        "rules": [base(100), applied("bonus", 1, 10)],
    }


def test_points_per_amount_count_the_matching_lines_only(
    client: TestClient, tenant: Tenant
) -> None:
    # given 5 points per $10.00 of beauty products
    create_rule(
        client,
        tenant,
        "beauty",
        {"kind": "points_per_amount", "points": 5, "per_amount": money(1_000)},
        conditions={"lines": {"categories": ["beauty"]}},
    )
    # when an order has $59.99 of beauty (2 x $25.00 + $9.99) and $50.00 of grocery
    lines = [
        line("L1", 2_500, quantity=2, category="beauty"),
        line("L2", 5_000, category="grocery"),
        line("L3", 999, category="beauty"),
    ]
    result = pay(client, tenant, order_of("o1", lines))
    # then the rule gives floor(5999 x 5 / 1000) = 29 on top of the base of 109
    assert result["explanation"] == {
        "eligible_amount": 10_999,
        "points": 138,
        "rules": [base(109), applied("beauty", 1, 29)],
    }
    # and an order without beauty lines gets only the base
    other = pay(client, tenant, order_of("o2", [line("L1", 5_000, category="grocery")]))
    assert other["points"] == 50
    assert other["explanation"]["rules"] == [
        base(50),
        skipped("beauty", 1, "conditions.lines: no line matches"),
    ]


def test_multiplier_2_doubles_the_base(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "double", {"kind": "multiplier", "multiplier": "2"})
    result = pay(client, tenant, order("o1", lines=[(1, 7_550)]))
    # base 75, doubled: the rule adds 75
    assert result["points"] == 150
    assert result["explanation"]["rules"] == [base(75), applied("double", 1, 75)]


def test_multiplier_rounds_with_its_own_rounding(client: TestClient, tenant: Tenant) -> None:
    # 1.5x of a base of 75 adds 37.5: floor 37, half_up 38
    create_rule(client, tenant, "floor", {"kind": "multiplier", "multiplier": "1.5"})
    create_rule(
        client,
        tenant,
        "half-up",
        {"kind": "multiplier", "multiplier": "1.5", "rounding": "half_up"},
    )
    result = pay(client, tenant, order("o1", lines=[(1, 7_500)]))
    assert result["points"] == 75 + 37 + 38
    assert result["explanation"]["rules"] == [
        base(75),
        applied("floor", 1, 37),
        applied("half-up", 2, 38),
    ]


def test_multiplier_with_a_line_filter_multiplies_the_matching_share(
    client: TestClient, tenant: Tenant
) -> None:
    # 3x on shoes: $40.00 of a $100.00 order is 40% of the base 100, so the rule adds 80
    create_rule(
        client,
        tenant,
        "triple-shoes",
        {"kind": "multiplier", "multiplier": "3"},
        conditions={"lines": {"categories": ["shoes"]}},
    )
    lines = [line("L1", 4_000, category="shoes"), line("L2", 6_000, category="hats")]
    result = pay(client, tenant, order_of("o1", lines))
    assert result["points"] == 180
    assert result["explanation"]["rules"] == [base(100), applied("triple-shoes", 1, 80)]


def test_percent_back_gives_store_credit_beside_the_points(
    client: TestClient, tenant: Tenant
) -> None:
    # given 2.5% back as store credit
    create_rule(client, tenant, "cashback", {"kind": "percent_back", "percent": "2.5"})
    # when a $123.45 order is paid
    result = pay(client, tenant, order("o1", lines=[(1, 12_345)]))
    # then it earns its base points and 308 cents of store credit, explained
    assert (result["points"], result["store_credit"]) == (123, 308)
    assert result["explanation"]["store_credit"] == 308
    assert result["explanation"]["rules"][0] == base(123)
    assert result["explanation"]["rules"][1]["store_credit"] == 308


# --- conditions ----------------------------------------------------------------------------


def test_min_subtotal_compares_the_eligible_amount(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "big", fixed(10), conditions={"min_subtotal": money(5_000)})
    below = pay(client, tenant, order("o1", lines=[(1, 4_999)]))
    exact = pay(client, tenant, order("o2", lines=[(1, 5_000)]))
    assert (below["points"], exact["points"]) == (49, 60)
    assert below["explanation"]["rules"] == [
        base(49),
        skipped("big", 1, "conditions.min_subtotal: eligible 4999 < 5000"),
    ]
    assert exact["explanation"]["rules"] == [base(50), applied("big", 1, 10)]


def test_min_subtotal_with_a_line_filter_counts_the_matching_lines(
    client: TestClient, tenant: Tenant
) -> None:
    create_rule(
        client,
        tenant,
        "beauty-30",
        fixed(10),
        conditions={"min_subtotal": money(3_000), "lines": {"categories": ["beauty"]}},
    )
    lines = [line("L1", 2_000, category="beauty"), line("L2", 8_000, category="food")]
    result = pay(client, tenant, order_of("o1", lines))
    assert result["explanation"]["rules"] == [
        base(100),
        skipped("beauty-30", 1, "conditions.min_subtotal: eligible 2000 < 3000"),
    ]


def test_line_filters_by_sku_category_and_tag(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "by-sku", fixed(1), conditions={"lines": {"skus": ["MUG"]}})
    create_rule(
        client, tenant, "by-category", fixed(2), conditions={"lines": {"categories": ["tea"]}}
    )
    create_rule(client, tenant, "by-tag", fixed(4), conditions={"lines": {"tags": ["organic"]}})
    # an order with a mug only
    mug = pay(client, tenant, order_of("o1", [line("L1", 1_000, sku="MUG", category="home")]))
    assert mug["points"] == 10 + 1
    assert mug["explanation"]["rules"] == [
        base(10),
        applied("by-sku", 1, 1),
        skipped("by-category", 2, "conditions.lines: no line matches"),
        skipped("by-tag", 3, "conditions.lines: no line matches"),
    ]
    # an order with organic tea (its category and one of its tags match)
    tea = pay(
        client,
        tenant,
        order_of("o2", [line("L1", 1_000, sku="SENCHA", category="tea", tags=["new", "organic"])]),
    )
    assert tea["points"] == 10 + 2 + 4
    assert tea["explanation"]["rules"] == [
        base(10),
        skipped("by-sku", 1, "conditions.lines: no line matches"),
        applied("by-category", 2, 2),
        applied("by-tag", 3, 4),
    ]
    # an order where nothing matches: sku and category are compared exactly
    other = pay(client, tenant, order_of("o3", [line("L1", 1_000, sku="mug", category="Tea")]))
    assert other["points"] == 10


def test_first_order_only_on_the_members_first_order(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "welcome", fixed(50), conditions={"first_order": True})
    first = pay(client, tenant, order("o1"))
    second = pay(client, tenant, order("o2"))
    other_member = pay(client, tenant, order("o3", "c2"))
    assert (first["points"], second["points"], other_member["points"]) == (150, 100, 150)
    assert second["explanation"]["rules"] == [
        base(100),
        skipped("welcome", 1, "conditions.first_order: not the member's first order"),
    ]


def test_member_tags(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "vip", fixed(20), conditions={"member_tags": ["vip", "gold"]})
    client.post("/v1/members", json={"external_id": "c1", "tags": ["gold"]}, headers=tenant.headers)
    client.post("/v1/members", json={"external_id": "c2", "tags": ["new"]}, headers=tenant.headers)
    gold = pay(client, tenant, order("o1", "c1"))
    plain = pay(client, tenant, order("o2", "c2"))
    # a customer enrolled by its first order has the tags of its profile
    enrolled = pay(client, tenant, order("o3", "c3", customer={"tags": ["vip"]}))
    assert (gold["points"], plain["points"], enrolled["points"]) == (120, 100, 120)
    assert plain["explanation"]["rules"] == [
        base(100),
        skipped("vip", 1, "conditions.member_tags: member has none of vip, gold"),
    ]


def test_channels(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "app", fixed(15), conditions={"channels": ["app"]})
    app = pay(client, tenant, order("o1", channel="app"))
    pos = pay(client, tenant, order("o2", channel="pos"))
    none = pay(client, tenant, order("o3"))
    assert (app["points"], pos["points"], none["points"]) == (115, 100, 100)
    assert pos["explanation"]["rules"][1] == skipped(
        "app", 1, "conditions.channels: channel 'pos' is not one of app"
    )
    assert none["explanation"]["rules"][1] == skipped(
        "app", 1, "conditions.channels: the event has no channel (needs app)"
    )


def test_brands(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/v1/brands", json={"code": "north", "name": "North"}, headers=tenant.headers
    )
    assert created.status_code == 201, created.text
    create_rule(client, tenant, "north-only", fixed(30), conditions={"brands": ["north"]})
    north = pay(client, tenant, order("o1", brand="north"))
    default = pay(client, tenant, order("o2"))
    assert (north["points"], default["points"]) == (130, 100)
    assert default["explanation"]["rules"][1] == skipped(
        "north-only", 1, "conditions.brands: brand 'default' is not one of north"
    )


def test_cel_expression_true_and_false(client: TestClient, tenant: Tenant) -> None:
    create_rule(
        client,
        tenant,
        "summer",
        fixed(25),
        conditions={
            "expression": 'event.total >= 5000 && "SUMMER" in event.discount_codes'
            ' && member.tags.exists(t, t == "vip")'
        },
    )
    vip = {"tags": ["vip"]}
    yes = pay(client, tenant, order("o1", customer=vip, discount_codes=["SUMMER"]))
    no_code = pay(client, tenant, order("o2", discount_codes=["WINTER"]))
    small = pay(client, tenant, order("o3", lines=[(1, 4_999)], discount_codes=["SUMMER"]))
    not_vip = pay(client, tenant, order("o4", "c2", discount_codes=["SUMMER"]))
    assert [r["points"] for r in (yes, no_code, small, not_vip)] == [125, 100, 49, 100]
    assert yes["explanation"]["rules"] == [base(100), applied("summer", 1, 25)]
    assert no_code["explanation"]["rules"] == [
        base(100),
        skipped("summer", 1, "conditions.expression: false"),
    ]


def test_cel_expression_error_at_event_time_is_no_match(client: TestClient, tenant: Tenant) -> None:
    # a payload field the order does not have: the rule does not match, the order earns
    create_rule(client, tenant, "gift", fixed(5), conditions={"expression": "event.gift_wrap"})
    result = pay(client, tenant, order("o1"))
    assert result["points"] == 100
    [_, entry] = result["explanation"]["rules"]
    assert {key: entry[key] for key in ("rule", "matched", "applied", "points")} == {
        "rule": "gift",
        "matched": False,
        "applied": False,
        "points": 0,
    }
    assert entry["reason"].startswith("conditions.expression: error: ")


def test_cel_syntax_error_is_refused_at_save_with_its_position(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    before = count_rows(engine)
    response = client.post(
        "/v1/rules",
        json=rule_body("bad", fixed(5), conditions={"expression": "event.total >= )"}),
        headers=tenant.headers,
    )
    problem = assert_problem(response, 422, "invalid-input", "conditions.expression")
    # the stray ")" is the 16th character of line 1
    assert problem["detail"].startswith(
        "invalid expression at line 1, column 16: Syntax error: mismatched input ')'"
    )
    assert count_rows(engine) == before
    assert client.get("/v1/rules", headers=tenant.headers).json() == []
    # on a second line, the line is reported
    response = client.post(
        "/v1/rules",
        json=rule_body("bad", fixed(5), conditions={"expression": "event.total > 1 &&\n  )"}),
        headers=tenant.headers,
    )
    problem = assert_problem(response, 422, "invalid-input", "conditions.expression")
    assert problem["detail"].startswith("invalid expression at line 2, column 3: Syntax error")
    # a variable other than event and member is refused too
    response = client.post(
        "/v1/rules",
        json=rule_body("bad", fixed(5), conditions={"expression": "order.total > 1"}),
        headers=tenant.headers,
    )
    problem = assert_problem(response, 422, "invalid-input", "conditions.expression")
    assert problem["detail"] == (
        "unknown variable 'order': an expression may use only event and member"
    )
    assert count_rows(engine) == before


# --- schedule ------------------------------------------------------------------------------


@pytest.fixture
def taipei(engine: Engine) -> Tenant:
    """A program in Asia/Taipei (UTC+8, no daylight saving)."""
    return make_tenant(engine, "t", time_zone="Asia/Taipei")


#: Rules of the schedule tests take effect early enough for orders of February.
SINCE_JANUARY = "2026-01-01T00:00:00Z"


def test_days_of_week_are_the_programs_local_days(client: TestClient, taipei: Tenant) -> None:
    create_rule(
        client,
        taipei,
        "saturday",
        fixed(10),
        schedule={"days_of_week": ["sat"]},
        effective_from=SINCE_JANUARY,
    )
    cases = [
        # (UTC instant, local time in Taipei, points)
        ("2026-02-27T15:59:59", "Friday 23:59:59", 100),
        ("2026-02-27T16:00:00", "Saturday 00:00 (Friday in UTC)", 110),
        ("2026-02-28T15:59:59", "Saturday 23:59:59", 110),
        ("2026-02-28T16:00:00", "Sunday 00:00 (Saturday in UTC)", 100),
    ]
    results = [
        pay(client, taipei, order(f"o{n}", occurred_at=at(instant)))
        for n, (instant, _, _) in enumerate(cases)
    ]
    assert [r["points"] for r in results] == [points for _, _, points in cases]
    assert results[0]["explanation"]["rules"][1] == skipped(
        "saturday", 1, "schedule: not active on Friday (local 2026-02-27 23:59)"
    )
    assert results[3]["explanation"]["rules"][1] == skipped(
        "saturday", 1, "schedule: not active on Sunday (local 2026-03-01 00:00)"
    )


def test_hours_are_local_and_half_open(client: TestClient, taipei: Tenant) -> None:
    create_rule(
        client,
        taipei,
        "office-hours",
        fixed(10),
        schedule={"hours": {"start": 9, "end": 17}},
        effective_from=SINCE_JANUARY,
    )
    instants = [
        "2026-02-20T00:59:59",  # 08:59:59 in Taipei
        "2026-02-20T01:00:00",  # 09:00
        "2026-02-20T08:59:59",  # 16:59:59
        "2026-02-20T09:00:00",  # 17:00
    ]
    results = [
        pay(client, taipei, order(f"o{n}", occurred_at=at(instant)))
        for n, instant in enumerate(instants)
    ]
    assert [r["points"] for r in results] == [100, 110, 110, 100]
    assert results[0]["explanation"]["rules"][1] == skipped(
        "office-hours", 1, "schedule: outside active hours 9-17 (local 08:59)"
    )
    assert results[3]["explanation"]["rules"][1] == skipped(
        "office-hours", 1, "schedule: outside active hours 9-17 (local 17:00)"
    )


def test_active_from_and_active_to_are_half_open(client: TestClient, tenant: Tenant) -> None:
    create_rule(
        client,
        tenant,
        "promo",
        fixed(10),
        schedule={"active_from": "2026-02-10T00:00:00Z", "active_to": "2026-02-20T00:00:00Z"},
        effective_from=SINCE_JANUARY,
    )
    instants = [
        "2026-02-09T23:59:59",
        "2026-02-10T00:00:00",
        "2026-02-19T23:59:59",
        "2026-02-20T00:00:00",
    ]
    results = [
        pay(client, tenant, order(f"o{n}", occurred_at=at(instant)))
        for n, instant in enumerate(instants)
    ]
    assert [r["points"] for r in results] == [100, 110, 110, 100]
    assert results[0]["explanation"]["rules"][1] == skipped(
        "promo", 1, "schedule: not active before 2026-02-10T00:00:00+00:00"
    )
    assert results[3]["explanation"]["rules"][1] == skipped(
        "promo", 1, "schedule: ended at 2026-02-20T00:00:00+00:00"
    )


# --- limits and budgets on orders ----------------------------------------------------------


def test_max_points_caps_a_rule_per_day(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    # 10 points per $10.00, at most 150 points a day per member
    create_rule(
        client,
        tenant,
        "boost",
        {"kind": "points_per_amount", "points": 10, "per_amount": money(1_000)},
        limits=[{"period": "day", "max_points": 150}],
    )
    first = pay(client, tenant, order("o1"))  # rule: 100
    second = pay(client, tenant, order("o2"))  # rule: 100, capped to 50
    third = pay(client, tenant, order("o3"))  # rule: nothing left
    assert [r["points"] for r in (first, second, third)] == [200, 150, 100]
    assert second["explanation"]["rules"][1] == applied(
        "boost", 1, 50, reason="capped by limits.0", uncapped_points=100
    )
    assert third["explanation"]["rules"][1] == skipped(
        "boost", 1, "limits.0: 150 of 150 points today already", matched=True
    )
    # the next day the rule gives again
    clock.advance(days=1)
    assert pay(client, tenant, order("o4", occurred_at=clock.now))["points"] == 200


def test_budget_is_shared_by_all_members(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "launch", fixed(100), budget_points=150)
    first = pay(client, tenant, order("o1", "c1"))
    second = pay(client, tenant, order("o2", "c2"))
    third = pay(client, tenant, order("o3", "c1"))
    assert [r["points"] for r in (first, second, third)] == [200, 150, 100]
    assert second["explanation"]["rules"][1] == applied(
        "launch", 1, 50, reason="capped by budget", uncapped_points=100
    )
    assert third["explanation"]["rules"][1] == skipped(
        "launch", 1, "budget: 150 of 150 points used", matched=True
    )


# --- stacking ------------------------------------------------------------------------------


def test_exclusive_rule_stops_the_lower_priority_ones(client: TestClient, tenant: Tenant) -> None:
    # rule ids in creation order; evaluation by priority, highest first
    create_rule(client, tenant, "top", fixed(5), priority=20)
    create_rule(client, tenant, "exclusive", fixed(30), priority=10, stacking="exclusive")
    create_rule(client, tenant, "low", fixed(20), priority=5)
    create_rule(client, tenant, "web-only", fixed(7), priority=15, conditions={"channels": ["web"]})
    create_rule(client, tenant, "later-exclusive", fixed(50), stacking="exclusive")
    # an exclusive rule that does not match excludes nothing
    create_rule(
        client,
        tenant,
        "big-spender",
        fixed(500),
        priority=30,
        stacking="exclusive",
        conditions={"min_subtotal": money(50_000)},
    )
    result = pay(client, tenant, order("o1", channel="pos"))
    assert result["points"] == 100 + 5 + 30
    assert result["explanation"] == {
        "eligible_amount": 10_000,
        "points": 135,
        "rules": [
            base(100),
            skipped("big-spender", 6, "conditions.min_subtotal: eligible 10000 < 50000"),
            applied("top", 1, 5),
            skipped("web-only", 4, "conditions.channels: channel 'pos' is not one of web"),
            applied("exclusive", 2, 30),
            skipped("low", 3, "exclusive rule 'exclusive' applied", matched=True),
            skipped("later-exclusive", 5, "exclusive rule 'exclusive' applied", matched=True),
        ],
    }


def test_best_of_keeps_the_largest(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "flat", fixed(40), stacking="best_of")
    create_rule(
        client, tenant, "double", {"kind": "multiplier", "multiplier": "2"}, stacking="best_of"
    )
    create_rule(
        client,
        tenant,
        "per",
        {"kind": "points_per_amount", "points": 1, "per_amount": money(200)},
        stacking="best_of",
    )
    # a tie with "double" goes to the rule evaluated first (higher priority)
    create_rule(client, tenant, "tie", fixed(100), stacking="best_of", priority=-1)
    create_rule(client, tenant, "stacker", fixed(3))
    result = pay(client, tenant, order("o1"))
    assert result["points"] == 100 + 100 + 3
    gave_more = "best_of: rule 'double' gave more"
    assert result["explanation"]["rules"] == [
        base(100),
        skipped("flat", 1, gave_more, matched=True),
        applied("double", 2, 100),
        skipped("per", 3, gave_more, matched=True),
        applied("stacker", 5, 3),
        skipped("tie", 4, "best_of: rule 'double' gave as much and ranks higher", matched=True),
    ]


def test_rules_of_other_triggers_are_not_listed(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "review", fixed(50), trigger="review.written")
    create_rule(client, tenant, "bonus", fixed(1))
    result = pay(client, tenant, order("o1"))
    assert result["explanation"]["rules"] == [base(100), applied("bonus", 2, 1)]


# --- bad input -----------------------------------------------------------------------------

VALID = rule_body("bonus", fixed(10))

#: (case, changes to a valid new rule, status, code, field)
BAD_RULES: list[tuple[str, dict[str, Any], int, str, str]] = [
    ("unknown trigger", {"trigger": "order.refunded"}, 422, "validation-failed", "trigger"),
    ("unknown field", {"colour": "red"}, 422, "validation-failed", "colour"),
    (
        "unknown condition",
        {"conditions": {"min_total": money(1)}},
        422,
        "validation-failed",
        "conditions.min_total",
    ),
    ("negative points", {"award": fixed(-5)}, 422, "validation-failed", "award.points"),
    ("zero fixed points", {"award": fixed(0)}, 422, "invalid-input", "award.points"),
    (
        "per_amount missing",
        {"award": {"kind": "points_per_amount", "points": 5}},
        422,
        "invalid-input",
        "award.per_amount",
    ),
    (
        "multiplier missing",
        {"award": {"kind": "multiplier"}},
        422,
        "invalid-input",
        "award.multiplier",
    ),
    (
        "multiplier of 1",
        {"award": {"kind": "multiplier", "multiplier": "1"}},
        422,
        "invalid-input",
        "award.multiplier",
    ),
    (
        "percent_back over 100",
        {"award": {"kind": "percent_back", "percent": "100.01"}},
        422,
        "validation-failed",
        "award.percent",
    ),
    (
        "issue schedule on a points award",
        {"award": {"kind": "fixed_points", "points": 5, "issue": "quarter"}},
        422,
        "invalid-input",
        "award.issue",
    ),
    (
        "active_from equal to active_to",
        {
            "schedule": {
                "active_from": "2026-04-01T00:00:00Z",
                "active_to": "2026-04-01T00:00:00Z",
            }
        },
        422,
        "invalid-input",
        "schedule.active_to",
    ),
    (
        "active_from after active_to",
        {
            "schedule": {
                "active_from": "2026-04-02T00:00:00Z",
                "active_to": "2026-04-01T00:00:00Z",
            }
        },
        422,
        "invalid-input",
        "schedule.active_to",
    ),
    (
        "naive active_from",
        {"schedule": {"active_from": "2026-04-01T00:00:00"}},
        422,
        "validation-failed",
        "schedule.active_from",
    ),
    (
        "hours start after end",
        {"schedule": {"hours": {"start": 17, "end": 9}}},
        422,
        "invalid-input",
        "schedule.hours",
    ),
    (
        "hours start equal to end",
        {"schedule": {"hours": {"start": 9, "end": 9}}},
        422,
        "invalid-input",
        "schedule.hours",
    ),
    (
        "unknown weekday",
        {"schedule": {"days_of_week": ["funday"]}},
        422,
        "validation-failed",
        "schedule.days_of_week.0",
    ),
    (
        "a day twice",
        {"schedule": {"days_of_week": ["mon", "mon"]}},
        422,
        "invalid-input",
        "schedule.days_of_week",
    ),
    ("limit with neither max", {"limits": [{"period": "month"}]}, 422, "invalid-input", "limits.0"),
    (
        "limit of zero awards",
        {"limits": [{"period": "month", "max_awards": 0}]},
        422,
        "validation-failed",
        "limits.0.max_awards",
    ),
    (
        "custom trigger without event_type",
        {"trigger": "custom"},
        422,
        "invalid-input",
        "event_type",
    ),
    (
        "event_type on an order rule",
        {"event_type": "quiz"},
        422,
        "invalid-input",
        "event_type",
    ),
    (
        "min_subtotal on a signup rule",
        {"trigger": "signup", "conditions": {"min_subtotal": money(1_000)}},
        422,
        "invalid-input",
        "conditions.min_subtotal",
    ),
    (
        "first_order on a review rule",
        {"trigger": "review.written", "conditions": {"first_order": True}},
        422,
        "invalid-input",
        "conditions.first_order",
    ),
    (
        "points_per_amount on a review rule",
        {
            "trigger": "review.written",
            "award": {"kind": "points_per_amount", "points": 1, "per_amount": money(100)},
        },
        422,
        "invalid-input",
        "award.kind",
    ),
    (
        "min_subtotal in another currency",
        {"conditions": {"min_subtotal": money(1_000, "EUR")}},
        422,
        "currency-mismatch",
        "conditions.min_subtotal.currency",
    ),
    (
        "per_amount in another currency",
        {"award": {"kind": "points_per_amount", "points": 1, "per_amount": money(100, "EUR")}},
        422,
        "currency-mismatch",
        "award.per_amount.currency",
    ),
    ("code with a space", {"code": "Has Space"}, 422, "validation-failed", "code"),
    ("priority out of range", {"priority": 1001}, 422, "validation-failed", "priority"),
    ("unknown stacking", {"stacking": "sometimes"}, 422, "validation-failed", "stacking"),
]


def test_bad_rule_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    for case, changes, status, code, field in BAD_RULES:
        with subtests.test(case):
            before = count_rows(engine)
            response = client.post("/v1/rules", json={**VALID, **changes}, headers=tenant.headers)
            assert_problem(response, status, code, field)
            assert count_rows(engine) == before
    assert client.get("/v1/rules", headers=tenant.headers).json() == []


def test_bad_revision_is_422_and_keeps_the_rule_as_it_was(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    created = create_rule(client, tenant, "bonus", fixed(10))
    valid = {key: value for key, value in VALID.items() if key != "code"}
    cases = [
        ({"code": "bonus"}, "validation-failed", "code"),  # the code is in the path
        (
            {"award": {"kind": "points_per_amount", "points": 5}},
            "invalid-input",
            "award.per_amount",
        ),
        ({"limits": [{"period": "week"}]}, "invalid-input", "limits.0"),
    ]
    for changes, code, field in cases:
        with subtests.test(str(changes)):
            before = count_rows(engine)
            response = client.put(
                "/v1/rules/bonus", json={**valid, **changes}, headers=tenant.headers
            )
            assert_problem(response, 422, code, field)
            assert count_rows(engine) == before
    assert client.get("/v1/rules/bonus", headers=tenant.headers).json() == created


def test_duplicate_rule_code_is_409_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    create_rule(client, tenant, "bonus", fixed(10))
    before = count_rows(engine)
    response = client.post("/v1/rules", json=rule_body("bonus", fixed(99)), headers=tenant.headers)
    assert response.status_code == 409, response.text
    problem = response.json()
    assert problem["code"] == "conflict"
    assert problem["detail"] == "rule 'bonus' exists; PUT /v1/rules/bonus revises it"
    assert count_rows(engine) == before
    assert (
        client.get("/v1/rules/bonus", headers=tenant.headers).json()["versions"][0]["spec"][
            "award"
        ]["points"]
        == 10
    )


def test_duplicate_rule_code_names_the_code_field(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "bonus", fixed(10))
    response = client.post("/v1/rules", json=rule_body("bonus", fixed(99)), headers=tenant.headers)
    assert_problem(response, 409, "conflict", "code")


def test_rules_need_the_admin_scope(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    key = client.post(
        "/v1/keys", json={"name": "shop", "scopes": ["read", "write"]}, headers=tenant.headers
    )
    assert key.status_code == 201, key.text
    shop = {"Authorization": f"Bearer {key.json()['secret']}"}
    before = count_rows(engine)
    response = client.post("/v1/rules", json=VALID, headers=shop)
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "forbidden"
    assert count_rows(engine) == before
    # reading them needs only the read scope
    assert client.get("/v1/rules", headers=shop).json() == []


# --- the compiled-rules cache ----------------------------------------------------------------


def test_two_databases_in_one_process_do_not_share_rules(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    # given a second database, each with a program (id 1) and one rule (revision 1)
    other_url = f"sqlite:///{tmp_path / 'other.db'}"
    upgrade(other_url)
    other_engine = make_engine(other_url)
    try:
        first, second = make_tenant(engine, "first"), make_tenant(other_engine, "second")
        with (
            TestClient(create_app(engine=engine, clock=clock)) as one,
            TestClient(create_app(engine=other_engine, clock=clock)) as two,
        ):
            create_rule(one, first, "bonus", fixed(10))
            create_rule(two, second, "bonus", fixed(20))
            # when each records an order
            assert pay(one, first, order("o1"))["points"] == 110
            # then each uses its own rules
            assert pay(two, second, order("o1"))["points"] == 120
    finally:
        other_engine.dispose()
