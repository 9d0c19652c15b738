"""Referrals through the API: a friend enrols (or orders) with an advocate's code and is
rewarded at once; the advocate is rewarded by the `referrals` job once the friend's first
qualifying order has passed its return window without a refund; suspect referrals are
held for an admin; limits, blocked advocates and bad codes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from patron.db.tables import outbox, referral_codes
from tests.conftest import START, Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, refund, run_one_job

WINDOW = 14  # the program's return window (pending_days)
POLICY: dict[str, Any] = {
    "base_url": "https://shop.example/r",
    "friend_reward": {"points": 500},
    "advocate_reward": {"points": 1000},
    "min_order": money(5_000),
}


@pytest.fixture
def shop(engine: Engine) -> Tenant:
    """A program with a 14-day return window."""
    return make_tenant(engine, "shop", pending_days=WINDOW)


def _policy(client: TestClient, tenant: Tenant, **changes: Any) -> dict[str, Any]:
    response = client.put(
        "/v1/program/referral-policy", json=POLICY | changes, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def _enrol(client: TestClient, tenant: Tenant, customer: str, **body: Any) -> Any:
    return client.post(
        "/v1/members", json={"external_id": customer, **body}, headers=tenant.headers
    )


def _advocate(client: TestClient, tenant: Tenant, customer: str = "ann", **profile: Any) -> str:
    """Enrol an advocate and return its referral code."""
    assert _enrol(client, tenant, customer, **profile).status_code == 201
    response = client.get(f"/v1/members/{customer}/referral", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return str(response.json()["code"])


def _friend(client: TestClient, tenant: Tenant, customer: str, code: str, **extra: Any) -> Any:
    body = extra.pop("profile", {})
    response = _enrol(client, tenant, customer, referral={"code": code, **extra}, **body)
    assert response.status_code == 201, response.text
    return _only_referral(client, tenant, friend=customer)


def _only_referral(client: TestClient, tenant: Tenant, *, friend: str) -> dict[str, Any]:
    listed = client.get("/v1/referrals", headers=tenant.headers).json()["data"]
    found = [item for item in listed if item["friend_customer_id"] == friend]
    assert len(found) == 1, listed
    return dict(found[0])


def _referral(client: TestClient, tenant: Tenant, referral_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/referrals/{referral_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _available(client: TestClient, tenant: Tenant, customer: str) -> int:
    member = client.get(f"/v1/members/{customer}", headers=tenant.headers).json()
    return int(member["balance"]["available"])


def _pay(client: TestClient, tenant: Tenant, order_id: str, customer: str, **body: Any) -> Any:
    amount = body.pop("amount", 6_000)
    at = body.pop("at", START)
    payload = order(order_id, customer, lines=[(1, amount)], occurred_at=at, **body)
    return client.post("/v1/orders", json=payload, headers=tenant.headers)


def _announced(engine: Engine) -> list[str]:
    """The referral events in the outbox, in order."""
    query = select(outbox.c.type).where(outbox.c.type.like("referral.%")).order_by(outbox.c.id)
    with engine.connect() as connection:
        return list(connection.execute(query).scalars())


def test_a_qualifying_referral_rewards_the_friend_at_once_and_the_advocate_after_the_window(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    # given a policy (500 points to the friend, 1000 to the advocate, orders from $50)
    _policy(client, shop)
    code = _advocate(client, shop)
    # the advocate's code is human-friendly and its link carries it
    mine = client.get("/v1/members/ann/referral", headers=shop.headers).json()
    assert (mine["code"], mine["link"]) == (code, f"https://shop.example/r?ref={code}")
    assert len(code) == 9 and code[4] == "-"
    # when a friend enrols with the code (typed in lower case, without the dash)
    referral = _friend(client, shop, "bob", code.replace("-", "").lower())
    # then the friend has 500 points at once; the referral waits for an order
    assert _available(client, shop, "bob") == 500
    assert (referral["status"], referral["advocate_customer_id"]) == ("pending", "ann")
    assert referral["friend_reward"]["points"] == 500
    # when bob pays $60 a day later and the job runs
    paid_at = START + timedelta(days=1)
    assert _pay(client, shop, "o1", "bob", at=paid_at).status_code == 201
    assert run_one_job(engine, "referrals", paid_at + timedelta(hours=1)).result == {
        "qualifying": 1
    }
    # then the referral qualifies until the end of the order's return window
    qualifying = _referral(client, shop, referral["id"])
    assert qualifying["status"] == "qualifying"
    assert qualifying["order_id"] == "o1"
    window_end = paid_at + timedelta(days=WINDOW)
    assert qualifying["qualifies_at"] == window_end.isoformat().replace("+00:00", "Z")
    # an hour before the window ends nothing is given
    assert run_one_job(engine, "referrals", window_end - timedelta(hours=1)).result == {}
    assert _available(client, shop, "ann") == 0
    # when the window has passed, the advocate gets 1000 points, once
    assert run_one_job(engine, "referrals", window_end).result == {"rewarded": 1}
    assert run_one_job(engine, "referrals", window_end).ran is False
    assert run_one_job(engine, "referrals", window_end + timedelta(hours=1)).result == {}
    assert _available(client, shop, "ann") == 1_000
    rewarded = _referral(client, shop, referral["id"])
    assert rewarded["status"] == "rewarded"
    assert [d["reason"] for d in rewarded["decisions"]] == [
        "created",
        "qualifying-order",
        "window-passed",
    ]
    stats = client.get("/v1/referrals/stats", headers=shop.headers).json()
    assert stats == {
        "invited": 0,
        "enrolled": 1,
        "qualified": 1,
        "rewarded": 1,
        "friends_rewarded": 1,
        "pending": 0,
        "qualifying": 0,
        "held": 0,
        "rejected": 0,
        "void": 0,
    }
    member_stats = client.get("/v1/members/ann/referral", headers=shop.headers).json()["stats"]
    assert member_stats == stats
    assert (
        client.get("/v1/members/bob/referral", headers=shop.headers).json()["referred_by"]
        == (referral["id"])
    )
    assert _announced(engine) == [
        "referral.created",
        "referral.friend_rewarded",
        "referral.qualifying",
        "referral.rewarded",
    ]
    assert_ledger_ok(engine)


def test_a_first_order_with_a_code_refers_the_customer_and_qualifies_at_once(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    # when a new customer's first order ($60) carries the code
    body = {"referral_code": code, "ip": "198.51.100.9"}
    paid = _pay(client, shop, "o1", "bob", **body)
    assert paid.status_code == 201, paid.text
    # then it is referred, rewarded with 500 points, and its order qualifies
    referral = _only_referral(client, shop, friend="bob")
    assert (referral["channel"], referral["status"], referral["order_id"]) == (
        "order",
        "qualifying",
        "o1",
    )
    assert _available(client, shop, "bob") == 500  # the order's 60 points are pending
    # a replay of the order refers nobody again
    again = _pay(client, shop, "o1", "bob", **body)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert len(client.get("/v1/referrals", headers=shop.headers).json()["data"]) == 1
    run_one_job(engine, "referrals", START + timedelta(days=WINDOW))
    assert _available(client, shop, "ann") == 1_000
    assert_ledger_ok(engine)


def test_a_batch_of_orders_applies_each_referral_and_reports_a_bad_code(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    # when a batch carries bob's first order with ann's code and cid's with a bad code
    orders = [
        order("o1", "bob", lines=[(1, 6_000)]) | {"referral_code": code},
        order("o2", "cid", lines=[(1, 6_000)]) | {"referral_code": "ZZZZ-ZZZZ"},
    ]
    paid = client.post("/v1/orders/batch", json={"orders": orders}, headers=shop.headers)
    # then both orders are recorded; bob is referred, and cid's item names the bad code
    assert paid.status_code == 200, paid.text
    items = paid.json()["results"]
    assert [item["status"] for item in items] == ["created", "created"]
    assert items[0]["referral_problem"] is None
    assert items[1]["referral_problem"]["code"] == "referral-code-invalid"
    referrals = client.get("/v1/referrals", headers=shop.headers).json()["data"]
    assert [(r["friend_customer_id"], r["status"]) for r in referrals] == [("bob", "qualifying")]
    assert (_available(client, shop, "bob"), _available(client, shop, "cid")) == (500, 0)
    assert_ledger_ok(engine)


def test_an_order_refunded_inside_the_window_voids_the_referral(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    referral = _friend(client, shop, "bob", _advocate(client, shop))
    _pay(client, shop, "o1", "bob")
    # when $10 of the order is refunded 3 days later (inside the window)
    body = refund("r1", "o1", amount=1_000, occurred_at=START + timedelta(days=3))
    assert client.post("/v1/refunds", json=body, headers=shop.headers).status_code == 201
    # then at the window's end the referral is void and the advocate gets nothing
    assert run_one_job(engine, "referrals", START + timedelta(days=WINDOW)).result == {
        "qualifying": 1,
        "void": 1,
    }
    void = _referral(client, shop, referral["id"])
    assert (void["status"], void["decisions"][-1]["reason"]) == ("void", "refunded")
    assert void["decisions"][-1]["note"] == "r1"
    assert _available(client, shop, "ann") == 0
    assert_ledger_ok(engine)


def test_a_refund_after_the_window_does_not_void(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    referral = _friend(client, shop, "bob", _advocate(client, shop))
    _pay(client, shop, "o1", "bob")
    late = refund("r1", "o1", amount=1_000, occurred_at=START + timedelta(days=WINDOW, hours=1))
    assert client.post("/v1/refunds", json=late, headers=shop.headers).status_code == 201
    run_one_job(engine, "referrals", START + timedelta(days=WINDOW, hours=2))
    assert _referral(client, shop, referral["id"])["status"] == "rewarded"


def test_orders_below_the_minimum_do_not_qualify(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    referral = _friend(client, shop, "bob", _advocate(client, shop))
    _pay(client, shop, "o1", "bob", amount=4_999)
    assert run_one_job(engine, "referrals", START + timedelta(days=30)).result == {}
    assert _referral(client, shop, referral["id"])["status"] == "pending"


def _ann_orders(client: TestClient, tenant: Tenant, **body: Any) -> None:
    """The advocate's own order, carrying what the checks will compare."""
    assert _pay(client, tenant, "ann-1", "ann", amount=1_000, **body).status_code == 201


FRAUD_CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any], str]] = [
    # check, advocate profile, advocate order data, friend's referral/profile, reason
    (
        "email",
        {"email": "Ann.Lee+shop@gmail.com"},
        {},
        {"profile": {"email": "annlee@googlemail.com"}},
        "same email as the advocate (annlee@gmail.com)",
    ),
    (
        "email",
        {"email": "ann+news@outlook.com"},
        {},
        {"profile": {"email": "ANN@outlook.com"}},
        "same email as the advocate (ann@outlook.com)",
    ),
    (
        "phone",
        {"phone": "+1 (555) 010-0200"},
        {},
        {"profile": {"phone": "15550100200"}},
        "same phone as the advocate (15550100200)",
    ),
    (
        "address",
        {},
        {"shipping_address": {"line1": "12 Main Street", "city": "Springfield"}},
        {"shipping_address": {"line1": "12 main st.", "city": "SPRINGFIELD"}},
        "same shipping address as the advocate (12 main st springfield)",
    ),
    (
        "ip",
        {},
        {"ip": "203.0.113.7"},
        {"ip": "203.0.113.7"},
        "same IP address as the advocate (203.0.113.7)",
    ),
    (
        "device",
        {},
        {"device_id": "dev-ABC"},
        {"device_id": "DEV-abc"},
        "same device id as the advocate (dev-abc)",
    ),
]


@pytest.mark.parametrize(("check", "advocate", "ann_order", "friend", "reason"), FRAUD_CASES)
def test_each_self_referral_check_holds_the_referral_with_its_reason(
    client: TestClient,
    engine: Engine,
    shop: Tenant,
    check: str,
    advocate: dict[str, Any],
    ann_order: dict[str, Any],
    friend: dict[str, Any],
    reason: str,
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop, **advocate)
    if ann_order:
        _ann_orders(client, shop, **ann_order)
    # when a friend who looks like the advocate enrols with the code
    referral = _friend(client, shop, "bob", code, **friend)
    # then the referral is held with the check's reason, and nobody is rewarded
    assert referral["status"] == "held"
    assert referral["findings"] == [{"check": check, "reason": reason}]
    assert referral["friend_reward"] is None
    assert _available(client, shop, "bob") == 0
    assert_ledger_ok(engine)


def test_a_check_that_is_off_does_not_hold(client: TestClient, shop: Tenant) -> None:
    _policy(client, shop, checks={"ip": False})
    code = _advocate(client, shop)
    _ann_orders(client, shop, ip="203.0.113.7")
    assert _friend(client, shop, "bob", code, ip="203.0.113.7")["status"] == "pending"


def test_velocity_holds_the_friend_beyond_the_daily_limit(
    client: TestClient, shop: Tenant, clock: Clock
) -> None:
    _policy(client, shop, checks={"velocity_per_day": 2})
    code = _advocate(client, shop)
    assert _friend(client, shop, "f1", code)["status"] == "pending"
    assert _friend(client, shop, "f2", code)["status"] == "pending"
    third = _friend(client, shop, "f3", code)
    assert third["status"] == "held"
    assert third["findings"] == [
        {
            "check": "velocity",
            "reason": "the advocate already referred 2 friends today (limit 2)",
        }
    ]
    # the next day the count starts again
    clock.advance(days=1)
    assert _friend(client, shop, "f4", code)["status"] == "pending"


def test_a_friend_already_a_customer_is_held(client: TestClient, shop: Tenant) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    # bob ordered before anyone referred him; his second order carries the code
    assert _pay(client, shop, "o1", "bob", amount=1_000).status_code == 201
    assert _pay(client, shop, "o2", "bob", referral_code=code).status_code == 201
    held = _only_referral(client, shop, friend="bob")
    assert (held["status"], held["findings"]) == (
        "held",
        [{"check": "already_customer", "reason": "the friend had 1 order(s) before the referral"}],
    )
    # and a new member with the email of an existing customer
    assert _enrol(client, shop, "carl", email="carl@example.com").status_code == 201
    again = _friend(client, shop, "carl2", code, profile={"email": "Carl@Example.com"})
    assert again["findings"] == [
        {"check": "already_customer", "reason": "member 'carl' has the same email"}
    ]


def test_an_admin_approves_or_rejects_a_held_referral(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    _ann_orders(client, shop, ip="203.0.113.7")
    first = _friend(client, shop, "bob", code, ip="203.0.113.7")
    second = _friend(client, shop, "cid", code, ip="203.0.113.7")
    _pay(client, shop, "o1", "bob")
    # a held referral does not qualify while it waits
    run_one_job(engine, "referrals", START + timedelta(hours=1))
    assert _referral(client, shop, first["id"])["status"] == "held"
    # when an admin approves the first
    note = {"note": "same office network, checked by phone"}
    approved = client.post(f"/v1/referrals/{first['id']}/approve", json=note, headers=shop.headers)
    # then the friend is rewarded now and the advocate reward follows the normal path
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "pending"
    assert approved.json()["decisions"][-1]["reason"] == "approved"
    assert approved.json()["decisions"][-1]["note"] == note["note"]
    assert _available(client, shop, "bob") == 500
    assert "referral.approved" in _announced(engine)
    run_one_job(engine, "referrals", START + timedelta(days=WINDOW))
    assert _referral(client, shop, first["id"])["status"] == "rewarded"
    assert _available(client, shop, "ann") == 10 + 1_000  # her own $10 order, and the reward
    # when an admin rejects the second: it is final, and nobody is rewarded
    rejected = client.post(
        f"/v1/referrals/{second['id']}/reject", json={"note": "fake"}, headers=shop.headers
    )
    assert (rejected.status_code, rejected.json()["status"]) == (200, "rejected")
    assert _available(client, shop, "cid") == 0
    again = client.post(f"/v1/referrals/{second['id']}/approve", json=note, headers=shop.headers)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    held = client.get("/v1/referrals?status=rejected", headers=shop.headers).json()["data"]
    assert [item["id"] for item in held] == [second["id"]]
    assert_ledger_ok(engine)


def test_advocate_reward_limits_per_month_and_in_total(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    # given at most 1 advocate reward a month and 2 in total
    _policy(client, shop, limits={"per_month": 1, "total": 2})
    code = _advocate(client, shop)
    for number, day in ((1, 0), (2, 0), (3, 31), (4, 62)):
        _friend(client, shop, f"f{number}", code)
        _pay(client, shop, f"o{number}", f"f{number}", at=START + timedelta(days=day))
    # when the windows of f1's and f2's orders end (in March)
    assert run_one_job(engine, "referrals", START + timedelta(days=WINDOW)).result == {
        "qualifying": 4,
        "rejected": 1,
        "rewarded": 1,
    }
    # then f3 (April) and f4 (May: the total is reached) follow
    run_one_job(engine, "referrals", START + timedelta(days=31 + WINDOW))
    run_one_job(engine, "referrals", START + timedelta(days=62 + WINDOW))
    statuses = {
        item["friend_customer_id"]: (item["status"], item["decisions"][-1]["reason"])
        for item in client.get("/v1/referrals", headers=shop.headers).json()["data"]
    }
    assert statuses == {
        "f1": ("rewarded", "window-passed"),
        "f2": ("rejected", "limit"),
        "f3": ("rewarded", "window-passed"),
        "f4": ("rejected", "limit"),
    }
    assert _available(client, shop, "ann") == 2_000
    assert_ledger_ok(engine)


def test_a_blocked_advocates_code_stops_working_and_its_referrals_are_void(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    referral = _friend(client, shop, "bob", code)
    _pay(client, shop, "o1", "bob")
    blocked = client.patch("/v1/members/ann", json={"status": "blocked"}, headers=shop.headers)
    assert blocked.status_code == 200
    # a new friend cannot use the code
    before = count_rows(engine)
    response = _enrol(client, shop, "cid", referral={"code": code})
    assert (response.status_code, response.json()["code"]) == (422, "referral-code-invalid")
    assert count_rows(engine) == before
    # the pending referral is void at the window's end
    run_one_job(engine, "referrals", START + timedelta(days=WINDOW))
    void = _referral(client, shop, referral["id"])
    assert (void["status"], void["decisions"][-1]["reason"]) == ("void", "advocate-blocked")
    assert _available(client, shop, "ann") == 0


def test_bad_codes_and_self_referral_write_nothing(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    other = make_tenant(engine, "other")
    _policy(client, other)
    foreign = _advocate(client, other, "zed")
    before = count_rows(engine)
    for bad in ("ZZZZ-ZZZZ", "not a code", foreign):
        response = _enrol(client, shop, "bob", referral={"code": bad})
        assert response.status_code == 422, response.text
        assert (response.json()["code"], response.json()["field"]) == (
            "referral-code-invalid",
            "referral.code",
        )
    # the advocate's own first order with its own code
    own = _pay(client, shop, "o1", "ann", referral_code=code)
    assert (own.status_code, own.json()["code"], own.json()["field"]) == (
        422,
        "self-referral",
        "referral_code",
    )
    unknown = _pay(client, shop, "o2", "bob", referral_code="ZZZZ-ZZZZ")
    assert unknown.json()["field"] == "referral_code"
    assert count_rows(engine) == before


def test_a_program_without_a_policy_takes_no_codes(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    code = _advocate(client, shop)
    mine = client.get("/v1/members/ann/referral", headers=shop.headers).json()
    assert mine["link"] is None
    assert client.get("/v1/program/referral-policy", headers=shop.headers).status_code == 404
    response = _enrol(client, shop, "bob", referral={"code": code})
    assert response.json()["code"] == "referral-code-invalid"


def test_invites_count_as_invited(client: TestClient, shop: Tenant) -> None:
    _policy(client, shop)
    _advocate(client, shop)
    for email in ("bob@example.com", "Bob@Example.com", "cid@example.com"):
        response = client.post(
            "/v1/members/ann/referral/invites", json={"email": email}, headers=shop.headers
        )
        assert response.status_code == 201, response.text
    mine = response.json()
    assert mine["stats"]["invited"] == 2
    assert [invite["email"] for invite in mine["invites"]] == ["bob@example.com", "cid@example.com"]


def test_the_policy_is_read_back_and_validated(client: TestClient, shop: Tenant) -> None:
    saved = _policy(client, shop, checks={"velocity_per_day": 3}, limits={"total": 10})
    read = client.get("/v1/program/referral-policy", headers=shop.headers).json()
    assert read == saved
    assert read["checks"]["velocity_per_day"] == 3
    assert read["limits"] == {"per_month": None, "total": 10}
    for body, field in (
        (POLICY | {"friend_reward": {"reward": "nope"}}, "friend_reward.reward"),
        (POLICY | {"min_order": money(100, "EUR")}, "min_order.currency"),
    ):
        response = client.put("/v1/program/referral-policy", json=body, headers=shop.headers)
        assert (response.status_code, response.json()["field"]) == (422, field)
    both = POLICY | {"friend_reward": {"points": 5, "reward": "x"}}
    response = client.put("/v1/program/referral-policy", json=both, headers=shop.headers)
    assert response.status_code == 422


def test_a_coupon_friend_reward_is_granted_without_points(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    reward = {"name": "$5 off", "code": "welcome", "points_cost": 500, "value": money(500)}
    assert client.post("/v1/rewards", json=reward, headers=shop.headers).status_code == 201
    _policy(client, shop, friend_reward={"reward": "welcome"})
    referral = _friend(client, shop, "bob", _advocate(client, shop))
    given = referral["friend_reward"]
    assert given["reward"] == "welcome" and given["redemption_id"].startswith("rdm_")
    assert given["code"] and given["points"] == 0
    assert _available(client, shop, "bob") == 0
    assert_ledger_ok(engine)


def test_an_enrolment_with_a_code_is_idempotent(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    _policy(client, shop)
    code = _advocate(client, shop)
    headers = shop.headers | {"Idempotency-Key": "enrol-bob"}
    body = {"external_id": "bob", "referral": {"code": code}}
    first = client.post("/v1/members", json=body, headers=headers)
    second = client.post("/v1/members", json=body, headers=headers)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["Idempotent-Replayed"] == "true"
    assert len(client.get("/v1/referrals", headers=shop.headers).json()["data"]) == 1
    assert _available(client, shop, "bob") == 500


def test_members_enrolled_before_the_policy_get_codes_when_it_is_set(
    client: TestClient, engine: Engine, shop: Tenant
) -> None:
    # given members enrolled while the program had no referral policy: no codes, and
    # reading their referral page writes nothing
    assert _enrol(client, shop, "ann").status_code == 201
    assert _enrol(client, shop, "bob").status_code == 201
    before = count_rows(engine)
    page = client.get("/v1/members/ann/referral", headers=shop.headers).json()
    assert (page["code"], page["link"]) == (None, None)
    assert count_rows(engine) == before
    # when the policy is set, every member gets a code at once
    _policy(client, shop)
    codes = {
        customer: client.get(f"/v1/members/{customer}/referral", headers=shop.headers).json()
        for customer in ("ann", "bob")
    }
    assert all(view["code"] and view["link"].endswith(view["code"]) for view in codes.values())
    assert codes["ann"]["code"] != codes["bob"]["code"]
    assert count_rows(engine)["referral_codes"] == 2
    # and a member who slipped through (enrolled while the policy was being saved) gets
    # one from the next referrals job
    with engine.begin() as connection:
        connection.execute(
            delete(referral_codes).where(referral_codes.c.code == codes["bob"]["code"])
        )
    run = run_one_job(engine, "referrals", START + timedelta(days=1))
    assert run.result == {"codes_given": 1}
    assert client.get("/v1/members/bob/referral", headers=shop.headers).json()["code"]
