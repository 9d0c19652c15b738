"""Segments through the API, on SQLite and PostgreSQL: exact members for every criterion,
saved segments with count and cursor pages, an earning rule and a reward limited to a
segment, and bad input that writes nothing.

The world (evaluated at 2026-03-02 12:00 UTC; ladder on lifetime spend):

| member | enrolled | tags | birthday | orders: count, last, net spend | tier |
| --- | --- | --- | --- | --- | --- |
| a | START | vip, coffee | 03-15 | 1, Feb 19, 60,000 | silver |
| b | +1h | coffee | 07-02 | 2, Jan 20, 30,000 (after a 10,000 refund) | bronze |
| c | +2h | - | - | none (blocked) | - |
| d | +3h | vip | 03-01 | 1 at brand north, Feb 28, 150,000 | gold |
| e | +4h | - | 12-24 | 3, Feb 27, 15,000 | bronze |

Subscriptions: a plus active, b plus lapsed, e basic trialing. Referrals (advocate ->
friend): a -> b and a -> c rewarded, a -> e held, d -> a rewarded.

RFM (scored by the `rfm` job a day later, once a segment asks for RFM; 5 members;
score = 1 + floor(5 x members strictly worse / 5)):
recency a3 b2 c1 d5 e4; frequency a2 b4 c1 d2 e5; monetary a4 b3 c1 d5 e2;
sums a9 b9 c3 d12 e11.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert, select

from patron.db.tables import members, membership_plans, referrals, subscriptions
from patron.db.uow import UnitOfWork
from patron.services import segments
from patron.services.programs import resolve_program
from tests.conftest import START, Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, order, refund, run_one_job

LADDER: dict[str, Any] = {
    "metric": "spend",
    "window": "lifetime",
    "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {"code": "silver", "name": "Silver", "threshold": 50_000},
        {"code": "gold", "name": "Gold", "threshold": 100_000},
    ],
}
AT = START + timedelta(days=1)
_ids = count(1)


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _enrol(client: TestClient, tenant: Tenant, customer: str, **profile: Any) -> None:
    body = {"external_id": customer, **profile}
    _ok(client.post("/v1/members", json=body, headers=tenant.headers), 201)


def _pay(
    client: TestClient, tenant: Tenant, customer: str, amount: int, days_ago: int, **extra: Any
) -> str:
    order_id = f"o{next(_ids)}"
    body = order(
        order_id,
        customer,
        lines=[(1, amount)],
        occurred_at=START - timedelta(days=days_ago),
        **extra,
    )
    _ok(client.post("/v1/orders", json=body, headers=tenant.headers), 201)
    return order_id


def _member_id(engine: Engine, customer: str) -> int:
    with engine.connect() as connection:
        found = connection.scalar(select(members.c.id).where(members.c.external_id == customer))
    assert found is not None
    return int(found)


def _memberships_and_referrals(engine: Engine, tenant: Tenant) -> None:
    """Rows the memberships and referrals features write (their APIs are tested there)."""
    ids = {name: _member_id(engine, name) for name in "abcde"}
    with engine.begin() as connection:
        program_id = connection.scalar(select(members.c.program_id).where(members.c.id == ids["a"]))
        plans = {}
        for code in ("plus", "basic"):
            plans[code] = connection.execute(
                insert(membership_plans)
                .values(
                    tenant_id=tenant.id,
                    program_id=program_id,
                    code=code,
                    name=code,
                    price_amount=500,
                    currency="USD",
                    period="monthly",
                    trial_days=0,
                    grace_days=0,
                    perks={},
                    active=True,
                    created_at=START,
                    updated_at=START,
                )
                .returning(membership_plans.c.id)
            ).scalar_one()
        for index, (who, plan, status) in enumerate(
            [("a", "plus", "active"), ("b", "plus", "lapsed"), ("e", "basic", "trialing")]
        ):
            connection.execute(
                insert(subscriptions).values(
                    tenant_id=tenant.id,
                    program_id=program_id,
                    member_id=ids[who],
                    plan_id=plans[plan],
                    public_id=f"sub_{index}",
                    status=status,
                    started_at=START,
                    anchor_at=START,
                    period_start=START,
                    cancel_at_period_end=False,
                    created_at=START,
                    updated_at=START,
                )
            )
        for index, (advocate, friend, status) in enumerate(
            [
                ("a", "b", "rewarded"),
                ("a", "c", "rewarded"),
                ("a", "e", "held"),
                ("d", "a", "rewarded"),
            ]
        ):
            connection.execute(
                insert(referrals).values(
                    tenant_id=tenant.id,
                    program_id=program_id,
                    public_id=f"ref_{index}",
                    advocate_member_id=ids[advocate],
                    friend_member_id=ids[friend],
                    code="CODE",
                    channel="code",
                    status=status,
                    findings=[],
                    decisions=[],
                    created_at=START,
                    updated_at=START,
                )
            )


@pytest.fixture
def world(client: TestClient, engine: Engine, clock: Clock) -> Tenant:
    tenant = make_tenant(engine, "segments")
    _ok(client.patch("/v1/program", json={"tiers": LADDER}, headers=tenant.headers))
    _ok(
        client.post("/v1/brands", json={"code": "north", "name": "North"}, headers=tenant.headers),
        201,
    )
    profiles = {
        "a": {"tags": ["vip", "coffee"], "birthday": "1990-03-15"},
        "b": {"tags": ["coffee"], "birthday": "1985-07-02"},
        "c": {},
        "d": {"tags": ["vip"], "birthday": "2000-03-01"},
        "e": {"birthday": "1995-12-24"},
    }
    for customer, profile in profiles.items():
        _enrol(client, tenant, customer, **profile)
        clock.advance(hours=1)
    _pay(client, tenant, "a", 60_000, 10)
    _pay(client, tenant, "b", 10_000, 100)
    second = _pay(client, tenant, "b", 30_000, 40)
    body = refund("r1", second, amount=10_000, occurred_at=START - timedelta(days=39))
    _ok(client.post("/v1/refunds", json=body, headers=tenant.headers), 201)
    _pay(client, tenant, "d", 150_000, 1, brand="north")
    for days_ago in (5, 3, 2):
        _pay(client, tenant, "e", 5_000, days_ago)
    _ok(client.patch("/v1/members/c", json={"status": "blocked"}, headers=tenant.headers))
    _memberships_and_referrals(engine, tenant)
    # RFM scores are kept for programs with a segment that asks for them
    assert run_one_job(engine, "rfm", AT).result == {"scored": 0}
    scored = {"code": "scored", "name": "Scored", "filter": {"rfm": {"r_min": 1}}}
    _ok(client.post("/v1/segments", json=scored, headers=tenant.headers), 201)
    assert run_one_job(engine, "rfm", AT + timedelta(days=1)).result == {"scored": 5}
    clock.now = AT
    return tenant


def _preview(client: TestClient, tenant: Tenant, spec: dict[str, Any]) -> list[str]:
    body = _ok(client.post("/v1/segments/preview", json={"filter": spec}, headers=tenant.headers))
    found = [row["customer_id"] for row in body["data"]]
    assert body["count"] == len(found)
    return found


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["a", "b", "c", "d", "e"]),
    ({"tiers": ["silver", "gold"]}, ["a", "d"]),
    ({"tiers": ["bronze"]}, ["b", "e"]),
    ({"tags": {"any": ["vip"]}}, ["a", "d"]),
    ({"tags": {"all": ["vip", "coffee"]}}, ["a"]),
    ({"tags": {"any": ["vip", "coffee"], "all": ["coffee"]}}, ["a", "b"]),
    ({"spend": {"min": 30_000}}, ["a", "b", "d"]),
    ({"spend": {"max": 30_000}}, ["b", "c", "e"]),
    ({"spend": {"min": 20_000, "max": 60_000}}, ["a", "b"]),
    ({"orders": {"min": 2}}, ["b", "e"]),
    ({"orders": {"max": 0}}, ["c"]),
    ({"last_order": {"within_days": 7}}, ["d", "e"]),
    ({"last_order": {"none_for_days": 30}}, ["b", "c"]),
    (
        {"last_order": {"after": "2026-02-01T00:00:00Z", "before": "2026-02-28T00:00:00Z"}},
        ["a", "e"],
    ),
    ({"rfm": {"r_min": 4}}, ["d", "e"]),
    ({"rfm": {"f_min": 4, "m_min": 3}}, ["b"]),
    ({"rfm": {"score_min": 10}}, ["d", "e"]),
    ({"rfm": {"r_max": 3, "score_min": 9}}, ["a", "b"]),
    ({"rfm": {"r_max": 1}}, ["c"]),
    ({"birthday_months": [3]}, ["a", "d"]),
    ({"birthday_months": [7, 12]}, ["b", "e"]),
    ({"membership": {"plans": ["plus"]}}, ["a"]),
    ({"membership": {}}, ["a", "e"]),
    ({"membership": {"statuses": ["lapsed"]}}, ["b"]),
    ({"referrals": {"min": 1}}, ["a", "d"]),
    ({"referrals": {"min": 2}}, ["a"]),
    ({"referrals": {"max": 0}}, ["b", "c", "e"]),
    ({"brands": ["north"]}, ["d"]),
    ({"brands": ["default"]}, ["a", "b", "e"]),
    ({"status": ["blocked"]}, ["c"]),
    ({"status": ["active"], "orders": {"max": 1}}, ["a", "d"]),
    (
        {"enrolled": {"after": "2026-03-01T13:00:00Z", "before": "2026-03-01T15:00:00Z"}},
        ["b", "c"],
    ),
    ({"tags": {"any": ["vip"]}, "spend": {"min": 100_000}}, ["d"]),
]


def test_each_criterion_selects_exactly_its_members(
    client: TestClient, engine: Engine, world: Tenant, subtests: pytest.Subtests
) -> None:
    for spec, expected in CASES:
        with subtests.test(str(spec)):
            assert _preview(client, world, spec) == expected
    assert_ledger_ok(engine)


def test_saved_segment_count_members_pages_and_replace(
    client: TestClient, engine: Engine, world: Tenant
) -> None:
    # given a saved segment of the members who are not blocked
    body = {"code": "active", "name": "Active", "filter": {"status": ["active"]}}
    created = _ok(client.post("/v1/segments", json=body, headers=world.headers), 201)
    assert created["filter"]["status"] == ["active"]
    assert (created["code"], created["name"], created["description"]) == ("active", "Active", None)
    # then its count and its members, two per page, in enrolment order
    count_ = _ok(client.get("/v1/segments/active/count", headers=world.headers))
    assert count_ == {"code": "active", "count": 4, "at": "2026-03-02T12:00:00Z"}
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = _ok(client.get("/v1/segments/active/members", params=params, headers=world.headers))
        pages.append([row["customer_id"] for row in page["data"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["a", "b"], ["d", "e"]]
    first = _ok(client.get("/v1/segments/active/members", headers=world.headers))["data"][0]
    assert first == {
        "customer_id": "a",
        "email": None,
        "first_name": None,
        "last_name": None,
        "status": "active",
        "tier": "silver",
        "enrolled_at": "2026-03-01T12:00:00Z",
    }
    # when its filter is replaced
    new = {"name": "Big spenders", "filter": {"spend": {"min": 60_000}}}
    replaced = _ok(client.put("/v1/segments/active", json=new, headers=world.headers))
    # then the segment answers the new filter
    assert (replaced["name"], replaced["filter"]["spend"]) == (
        "Big spenders",
        {"min": 60_000, "max": None},
    )
    page = _ok(client.get("/v1/segments/active/members", headers=world.headers))
    assert [row["customer_id"] for row in page["data"]] == ["a", "d"]
    assert page["next_cursor"] is None
    listed = _ok(client.get("/v1/segments", headers=world.headers))
    assert [(s["code"], s["name"]) for s in listed] == [
        ("active", "Big spenders"),
        ("scored", "Scored"),
    ]
    assert _ok(client.get("/v1/segments/active", headers=world.headers))["name"] == "Big spenders"
    # and an unknown segment is a 404
    missing = client.get("/v1/segments/nope/count", headers=world.headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "not-found")


def test_a_rule_and_a_reward_for_a_segment_apply_to_its_members_only(
    client: TestClient, engine: Engine, world: Tenant
) -> None:
    # given a segment of VIPs, a +100 points rule and a reward for them only
    vips = {"code": "vips", "name": "VIPs", "filter": {"tags": {"any": ["vip"]}}}
    _ok(client.post("/v1/segments", json=vips, headers=world.headers), 201)
    rule = {
        "code": "vip-bonus",
        "name": "VIP bonus",
        "trigger": "order.paid",
        "conditions": {"segments": ["vips"]},
        "award": {"kind": "fixed_points", "points": 100},
        "effective_from": "2026-01-01T00:00:00Z",
    }
    _ok(client.post("/v1/rules", json=rule, headers=world.headers), 201)
    reward = {"name": "VIP $5", "points_cost": 100, "value": {"amount": 500, "currency": "USD"}}
    reward |= {"segments": ["vips"]}
    created = _ok(client.post("/v1/rewards", json=reward, headers=world.headers), 201)
    assert created["segments"] == ["vips"]
    # when a (VIP) and b (not) each pay $10.00
    paid = {
        who: _ok(
            client.post(
                "/v1/orders", json=order(f"x-{who}", who, occurred_at=AT), headers=world.headers
            ),
            201,
        )
        for who in ("a", "b")
    }
    # then only a gets the bonus
    assert (paid["a"]["points"], paid["b"]["points"]) == (200, 100)
    # and only a may redeem the VIP reward
    redeem = {"reward_id": created["id"]}
    _ok(client.post("/v1/members/a/redemptions", json=redeem, headers=world.headers), 201)
    rows = count_rows(engine)
    refused = client.post("/v1/members/b/redemptions", json=redeem, headers=world.headers)
    assert refused.status_code == 422, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == ("not-eligible", "customer_id")
    assert count_rows(engine) == rows
    assert_ledger_ok(engine)


BAD: list[tuple[str, str, dict[str, Any], str]] = [
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"colour": "red"}},
        "filter.colour",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"spend": {"min": -1}}},
        "filter.spend.min",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"orders": {"min": 3, "max": 2}}},
        "filter.orders.max",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"tiers": ["bronze", "platinum"]}},
        "filter.tiers.1",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"brands": ["south"]}},
        "filter.brands.0",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"membership": {"plans": ["gold"]}}},
        "filter.membership.plans.0",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"rfm": {"r_min": 6}}},
        "filter.rfm.r_min",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"birthday_months": [13]}},
        "filter.birthday_months.0",
    ),
    (
        "POST",
        "/v1/segments",
        {"code": "x", "name": "X", "filter": {"last_order": {"within_days": 0}}},
        "filter.last_order.within_days",
    ),
    (
        "POST",
        "/v1/segments",
        {
            "code": "x",
            "name": "X",
            "filter": {
                "enrolled": {"after": "2026-02-01T00:00:00Z", "before": "2026-01-01T00:00:00Z"}
            },
        },
        "filter.enrolled.before",
    ),
    ("POST", "/v1/segments/preview", {"filter": {"tiers": ["platinum"]}}, "filter.tiers.0"),
    (
        "PUT",
        "/v1/segments/known",
        {"name": "K", "filter": {"referrals": {"max": -2}}},
        "filter.referrals.max",
    ),
    (
        "POST",
        "/v1/rules",
        {
            "code": "r",
            "name": "R",
            "trigger": "order.paid",
            "conditions": {"segments": ["known", "unknown"]},
            "award": {"kind": "fixed_points", "points": 1},
        },
        "conditions.segments.1",
    ),
    (
        "POST",
        "/v1/rewards",
        {
            "name": "R",
            "points_cost": 1,
            "value": {"amount": 1, "currency": "USD"},
            "segments": ["unknown"],
        },
        "segments.0",
    ),
]


def test_bad_input_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, engine: Engine, world: Tenant, subtests: pytest.Subtests
) -> None:
    known = {"code": "known", "name": "K", "filter": {}}
    _ok(client.post("/v1/segments", json=known, headers=world.headers), 201)
    for method, path, body, field in BAD:
        with subtests.test(field):
            rows = count_rows(engine)
            response = client.request(method, path, json=body, headers=world.headers)
            assert response.status_code == 422, response.text
            assert response.json()["field"] == field
            assert count_rows(engine) == rows
    # a code taken is a 409, an unknown segment to replace a 404; nothing written
    rows = count_rows(engine)
    taken = client.post("/v1/segments", json=known, headers=world.headers)
    assert (taken.status_code, taken.json()["field"]) == (409, "code")
    missing = client.put(
        "/v1/segments/nope", json={"name": "N", "filter": {}}, headers=world.headers
    )
    assert missing.status_code == 404
    assert count_rows(engine) == rows


def test_segments_of_answers_many_members_and_segments_in_two_queries(
    client: TestClient, engine: Engine, world: Tenant
) -> None:
    # given three saved segments (one with RFM, one with order criteria)
    specs = {
        "vips": {"tags": {"any": ["vip"]}},
        "recent": {"last_order": {"within_days": 7}, "spend": {"min": 1}},
        "top": {"rfm": {"score_min": 10}},
    }
    for code, spec in specs.items():
        body = {"code": code, "name": code, "filter": spec}
        _ok(client.post("/v1/segments", json=body, headers=world.headers), 201)
    ids = {_member_id(engine, name): name for name in "abcde"}
    statements: list[str] = []

    def count_statement(*args: Any) -> None:
        statements.append(args[2])

    with UnitOfWork(engine, write=False) as uow:
        program = resolve_program(uow, world.id, None)
        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            found = segments.segments_of(
                uow, program, list(ids), {"vips", "recent", "top", "gone"}, AT
            )
            none = segments.segments_of(uow, program, list(ids), set(), AT)
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
    # then each member's segments, in two statements; none for no codes
    assert {ids[member]: sorted(codes) for member, codes in found.items()} == {
        "a": ["vips"],
        "d": ["recent", "top", "vips"],
        "e": ["recent", "top"],
    }
    assert (len(statements), none) == (2, {})
