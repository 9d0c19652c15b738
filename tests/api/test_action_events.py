"""Action events through the API (POST /v1/events): recorded exactly once, awarded by the
rules of their trigger with limits per period and per payload field, custom event types with
a JSON schema, auto-enrolment, blocked members, and the signup rule on enrolment.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.services import rules as rules_service
from tests.api.test_rules_api import (
    applied,
    assert_problem,
    at,
    balance,
    create_rule,
    fixed,
    skipped,
)
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import order


@pytest.fixture(autouse=True)
def fresh_rulebooks() -> Iterator[None]:
    """See test_rules_api.fresh_rulebooks: the compiled-rules cache outlives a test."""
    rules_service._CACHE.clear()
    yield
    rules_service._CACHE.clear()


def action(
    event_id: str,
    type_: str,
    customer_id: str = "c1",
    *,
    occurred_at: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": type_,
        "customer_id": customer_id,
        "occurred_at": occurred_at or "2026-03-01T12:00:00Z",
        **more,
    }


def record(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/events", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def enrol(client: TestClient, tenant: Tenant, customer_id: str, **profile: Any) -> dict[str, Any]:
    response = client.post(
        "/v1/members", json={"external_id": customer_id, **profile}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    member: dict[str, Any] = response.json()
    return member


# --- exactly once --------------------------------------------------------------------------


def test_an_action_is_awarded_and_recorded_once(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # given a review rule (+50) and a member
    create_rule(client, tenant, "review", fixed(50), trigger="review.written")
    enrol(client, tenant, "c1")
    # when a review is recorded
    body = action("rv-1", "review.written", payload={"product": "SKU1", "stars": 5})
    first = client.post("/v1/events", json=body, headers=tenant.headers)
    # then it earns 50 points, available at once, and says why
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    result = first.json()
    assert result == {
        "event_id": result["event_id"],
        "type": "review.written",
        "source_id": "rv-1",
        "customer_id": "c1",
        "member_enrolled": False,
        "points": 50,
        "transaction_id": result["transaction_id"],
        "explanation": {"points": 50, "rules": [applied("review", 1, 50)]},
    }
    assert isinstance(result["event_id"], int) and isinstance(result["transaction_id"], int)
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["balance"] == {"available": 50, "pending": 0, "debt": 0, "lifetime_earned": 50}
    [tx] = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    assert (tx["id"], tx["kind"], tx["points"]) == (result["transaction_id"], "earn", 50)
    assert tx["details"] == {"event": "review.written", "explanation": result["explanation"]}
    # and when the same event is delivered again, even changed, it replays the first result
    before = count_rows(engine)
    for again_body in (body, {**body, "payload": {"product": "SKU1", "stars": 1}}):
        again = client.post("/v1/events", json=again_body, headers=tenant.headers)
        assert again.status_code == 200, again.text
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == result
    assert count_rows(engine) == before
    assert balance(client, tenant) == 50


def test_the_same_event_id_from_another_source_is_another_event(
    client: TestClient, tenant: Tenant
) -> None:
    create_rule(client, tenant, "share", fixed(5), trigger="share")
    first = record(client, tenant, action("s-1", "share"))
    other = record(client, tenant, action("s-1", "share", source="app"))
    assert (first["points"], other["points"]) == (5, 5)
    assert first["event_id"] != other["event_id"]
    assert balance(client, tenant) == 10


def test_an_action_no_rule_listens_to_is_recorded_with_nothing(
    client: TestClient, tenant: Tenant
) -> None:
    create_rule(client, tenant, "bonus", fixed(10))  # an order rule
    result = record(client, tenant, action("n-1", "newsletter.subscribed"))
    assert (result["points"], result["transaction_id"], result["explanation"]) == (
        0,
        None,
        {"points": 0, "rules": []},
    )
    assert client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"] == []


# --- limits ----------------------------------------------------------------------------------


def test_review_limit_of_five_a_month(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    # given +50 per review, at most 5 awards a month
    create_rule(
        client,
        tenant,
        "review",
        fixed(50),
        trigger="review.written",
        limits=[{"period": "month", "max_awards": 5}],
    )
    # when six reviews are written in March, the last one in its last second
    instants = [f"2026-03-0{day}T09:00:00Z" for day in range(2, 7)] + ["2026-03-31T23:59:59Z"]
    results = []
    for n, instant in enumerate(instants, start=1):
        clock.now = at(instant[:-1])
        results.append(
            record(client, tenant, action(f"rv-{n}", "review.written", occurred_at=instant))
        )
    # then the first five earn 50 and the sixth nothing, saying why
    assert [r["points"] for r in results] == [50, 50, 50, 50, 50, 0]
    assert (results[5]["transaction_id"], results[5]["explanation"]) == (
        None,
        {
            "points": 0,
            "rules": [
                skipped("review", 1, "limits.0: 5 of 5 awards this month already", matched=True)
            ],
        },
    )
    # and in April the rule gives again
    clock.now = at("2026-04-01T00:00")
    april = record(
        client, tenant, action("rv-7", "review.written", occurred_at="2026-04-01T00:00:00Z")
    )
    assert april["points"] == 50
    assert balance(client, tenant) == 300


def test_follow_limit_per_network(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    # given +20 per follow, once per network for life
    create_rule(
        client,
        tenant,
        "follow",
        fixed(20),
        trigger="social.follow",
        limits=[{"period": "lifetime", "max_awards": 1, "per": "network"}],
    )
    instagram = record(
        client, tenant, action("f-1", "social.follow", payload={"network": "instagram"})
    )
    clock.advance(days=400)
    again = record(
        client,
        tenant,
        action(
            "f-2",
            "social.follow",
            occurred_at="2027-04-05T12:00:00Z",
            payload={"network": "instagram"},
        ),
    )
    tiktok = record(
        client,
        tenant,
        action(
            "f-3",
            "social.follow",
            occurred_at="2027-04-05T12:00:00Z",
            payload={"network": "tiktok"},
        ),
    )
    assert [r["points"] for r in (instagram, again, tiktok)] == [20, 0, 20]
    assert again["explanation"]["rules"] == [
        skipped(
            "follow",
            1,
            "limits.0: 1 of 1 awards in total already for network 'instagram'",
            matched=True,
        )
    ]
    # another member may follow on the same network
    other = record(
        client, tenant, action("f-4", "social.follow", "c2", payload={"network": "instagram"})
    )
    assert other["points"] == 20
    assert balance(client, tenant) == 40


def test_budget_is_spent_across_members(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "review", fixed(100), trigger="review.written", budget_points=150)
    first = record(client, tenant, action("rv-1", "review.written", "c1"))
    second = record(client, tenant, action("rv-2", "review.written", "c2"))
    third = record(client, tenant, action("rv-3", "review.written", "c1"))
    assert [r["points"] for r in (first, second, third)] == [100, 50, 0]
    assert second["explanation"]["rules"] == [
        applied("review", 1, 50, reason="capped by budget", uncapped_points=100)
    ]
    assert third["explanation"]["rules"] == [
        skipped("review", 1, "budget: 150 of 150 points used", matched=True)
    ]
    assert (balance(client, tenant, "c1"), balance(client, tenant, "c2")) == (100, 50)


def test_action_rules_see_channel_brand_and_payload(client: TestClient, tenant: Tenant) -> None:
    create_rule(
        client,
        tenant,
        "photo-review",
        fixed(30),
        trigger="review.written",
        conditions={"channels": ["app"], "expression": "event.photos >= 1"},
    )
    photo = record(
        client, tenant, action("rv-1", "review.written", channel="app", payload={"photos": 2})
    )
    web = record(
        client, tenant, action("rv-2", "review.written", channel="web", payload={"photos": 2})
    )
    text_only = record(
        client, tenant, action("rv-3", "review.written", channel="app", payload={"photos": 0})
    )
    assert [r["points"] for r in (photo, web, text_only)] == [30, 0, 0]
    assert web["explanation"]["rules"] == [
        skipped("photo-review", 1, "conditions.channels: channel 'web' is not one of app")
    ]
    assert text_only["explanation"]["rules"] == [
        skipped("photo-review", 1, "conditions.expression: false")
    ]


# --- custom event types --------------------------------------------------------------------

QUIZ_SCHEMA = {
    "type": "object",
    "properties": {"score": {"type": "integer", "minimum": 0, "maximum": 10}},
    "required": ["score"],
    "additionalProperties": False,
}


def define_quiz(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    created = client.post(
        "/v1/event-types",
        json={
            "name": "quiz.completed",
            "description": "A product quiz",
            "payload_schema": QUIZ_SCHEMA,
        },
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text
    view: dict[str, Any] = created.json()
    return view


def test_custom_event_types_are_defined_and_listed(client: TestClient, tenant: Tenant) -> None:
    view = define_quiz(client, tenant)
    assert view == {
        "name": "quiz.completed",
        "description": "A product quiz",
        "payload_schema": QUIZ_SCHEMA,
    }
    # without a schema, any JSON object is a valid payload
    poll = client.post("/v1/event-types", json={"name": "poll.answered"}, headers=tenant.headers)
    assert poll.status_code == 201, poll.text
    assert poll.json() == {
        "name": "poll.answered",
        "description": None,
        "payload_schema": {"type": "object"},
    }
    # listed by name
    assert client.get("/v1/event-types", headers=tenant.headers).json() == [poll.json(), view]
    # a rule may listen to a defined custom type
    created = create_rule(
        client, tenant, "quiz", fixed(15), trigger="custom", event_type="quiz.completed"
    )
    assert created["current"]["spec"]["event_type"] == "quiz.completed"


def test_custom_events_earn_by_the_rules_of_their_type(client: TestClient, tenant: Tenant) -> None:
    # given a custom event type "quiz.completed" and a rule on it for top scores
    define_quiz(client, tenant)
    create_rule(
        client,
        tenant,
        "quiz",
        fixed(15),
        trigger="custom",
        event_type="quiz.completed",
        conditions={"expression": "event.score >= 8"},
    )
    # when quizzes are completed
    top = record(
        client, tenant, action("q-1", "custom", event_type="quiz.completed", payload={"score": 9})
    )
    low = record(
        client, tenant, action("q-2", "custom", event_type="quiz.completed", payload={"score": 3})
    )
    # then the top score earns
    assert (top["type"], top["points"], low["points"]) == ("custom.quiz.completed", 15, 0)
    assert top["explanation"]["rules"] == [applied("quiz", 1, 15)]
    assert low["explanation"]["rules"] == [skipped("quiz", 1, "conditions.expression: false")]
    # and a custom event of another type does not see the rule
    client.post("/v1/event-types", json={"name": "poll.answered"}, headers=tenant.headers)
    poll = record(client, tenant, action("p-1", "custom", event_type="poll.answered"))
    assert (poll["points"], poll["explanation"]) == (0, {"points": 0, "rules": []})
    assert balance(client, tenant) == 15


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "payload"),
        ({"score": "nine"}, "payload.score"),
        ({"score": 11}, "payload.score"),
        ({"score": 5, "cheat": True}, "payload"),
    ],
)
def test_a_payload_not_matching_its_schema_is_422_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, payload: dict[str, Any], field: str
) -> None:
    define_quiz(client, tenant)
    create_rule(client, tenant, "quiz", fixed(15), trigger="custom", event_type="quiz.completed")
    before = count_rows(engine)
    body = action("q-1", "custom", "c9", event_type="quiz.completed", payload=payload)
    response = client.post("/v1/events", json=body, headers=tenant.headers)
    problem = assert_problem(response, 422, "invalid-input", field)
    assert problem["detail"].startswith("payload does not match 'quiz.completed': ")
    assert count_rows(engine) == before
    # nobody was enrolled by the refused event
    assert client.get("/v1/members/c9", headers=tenant.headers).status_code == 404


def test_bad_action_events_are_problems_and_write_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    client.post("/v1/event-types", json={"name": "quiz.completed"}, headers=tenant.headers)
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (action("x", "custom", event_type="nope"), 404, "not-found", "event_type"),
        (action("x", "custom"), 422, "invalid-input", "event_type"),
        (
            action("x", "review.written", event_type="quiz.completed"),
            422,
            "invalid-input",
            "event_type",
        ),
        (action("x", "order.paid"), 422, "invalid-input", "type"),
        (action("x", "dance"), 422, "validation-failed", "type"),
        (
            action("x", "share", occurred_at="2026-03-01T12:00:00"),
            422,
            "validation-failed",
            "occurred_at",
        ),
        ({**action("x", "share"), "points": 5}, 422, "validation-failed", "points"),
        (action("x", "share", brand="nope"), 404, "not-found", "brand"),
        (action("has space", "share"), 422, "validation-failed", "event_id"),
    ]
    for body, status, code, field in cases:
        with subtests.test(f"{body['type']} {field}"):
            before = count_rows(engine)
            response = client.post("/v1/events", json=body, headers=tenant.headers)
            assert_problem(response, status, code, field)
            assert count_rows(engine) == before


def test_bad_event_type_definitions_are_problems_and_write_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    client.post("/v1/event-types", json={"name": "quiz.completed"}, headers=tenant.headers)
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        (
            {"name": "x", "payload_schema": {"type": "objekt"}},
            422,
            "invalid-input",
            "payload_schema",
        ),
        (
            {"name": "x", "payload_schema": {"properties": {"n": {"minimum": "zero"}}}},
            422,
            "invalid-input",
            "payload_schema",
        ),
        ({"name": "Quiz Done"}, 422, "validation-failed", "name"),
        ({"name": "x", "payload_schema": "object"}, 422, "validation-failed", "payload_schema"),
        ({"name": "quiz.completed"}, 409, "conflict", "name"),
    ]
    for body, status, code, field in cases:
        with subtests.test(str(body)):
            before = count_rows(engine)
            response = client.post("/v1/event-types", json=body, headers=tenant.headers)
            problem = assert_problem(response, status, code, field)
            if field == "payload_schema" and code == "invalid-input":
                assert problem["detail"].startswith("not a valid JSON schema: ")
            assert count_rows(engine) == before
    assert [t["name"] for t in client.get("/v1/event-types", headers=tenant.headers).json()] == [
        "quiz.completed"
    ]


# --- members -------------------------------------------------------------------------------


def test_an_unknown_customer_is_enrolled_by_its_action(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "newsletter", fixed(25), trigger="newsletter.subscribed")
    profile = {"email": "nia@example.com", "first_name": "Nia", "tags": ["web"]}
    result = record(
        client, tenant, action("n-1", "newsletter.subscribed", "new1", customer=profile)
    )
    assert (result["member_enrolled"], result["points"]) == (True, 25)
    member = client.get("/v1/members/new1", headers=tenant.headers).json()
    assert (member["email"], member["first_name"], member["tags"]) == (
        "nia@example.com",
        "Nia",
        ["web"],
    )
    assert member["balance"]["available"] == 25
    # and a second action does not enrol it again
    again = record(client, tenant, action("n-2", "newsletter.subscribed", "new1"))
    assert (again["member_enrolled"], again["points"]) == (False, 25)


def test_without_auto_enrolment_an_unknown_customer_is_404(
    client: TestClient, engine: Engine
) -> None:
    closed = make_tenant(engine, "closed", auto_enroll=False)
    create_rule(client, closed, "share", fixed(5), trigger="share")
    before = count_rows(engine)
    response = client.post(
        "/v1/events", json=action("s-1", "share", "ghost"), headers=closed.headers
    )
    assert_problem(response, 404, "not-found", "customer_id")
    assert count_rows(engine) == before


def test_a_blocked_member_earns_nothing_from_actions(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "review", fixed(50), trigger="review.written")
    enrol(client, tenant, "c1")
    blocked = client.patch("/v1/members/c1", json={"status": "blocked"}, headers=tenant.headers)
    assert blocked.status_code == 200, blocked.text
    result = record(client, tenant, action("rv-1", "review.written"))
    assert (result["points"], result["transaction_id"], result["explanation"]) == (
        0,
        None,
        {"points": 0, "reason": "member blocked", "rules": []},
    )
    assert balance(client, tenant) == 0
    # the event is recorded all the same: unblocked, its replay still gives nothing
    client.patch("/v1/members/c1", json={"status": "active"}, headers=tenant.headers)
    replay = client.post(
        "/v1/events", json=action("rv-1", "review.written"), headers=tenant.headers
    )
    assert (replay.status_code, replay.json()) == (200, result)
    assert record(client, tenant, action("rv-2", "review.written"))["points"] == 50


# --- signup --------------------------------------------------------------------------------


def test_signup_rule_fires_on_enrolment(client: TestClient, tenant: Tenant) -> None:
    create_rule(client, tenant, "welcome", fixed(200), trigger="signup")
    member = enrol(client, tenant, "c1")
    assert member["balance"] == {"available": 200, "pending": 0, "debt": 0, "lifetime_earned": 200}
    [tx] = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    assert (tx["kind"], tx["points"], tx["occurred_at"]) == ("earn", 200, "2026-03-01T12:00:00Z")
    assert tx["details"] == {
        "event": "signup",
        "explanation": {"points": 200, "rules": [applied("welcome", 1, 200)]},
    }


def test_signup_rule_with_member_tags_sees_the_profile(client: TestClient, tenant: Tenant) -> None:
    create_rule(
        client,
        tenant,
        "vip-welcome",
        fixed(500),
        trigger="signup",
        conditions={"member_tags": ["vip"]},
    )
    assert enrol(client, tenant, "c1", tags=["vip"])["balance"]["available"] == 500
    assert enrol(client, tenant, "c2")["balance"]["available"] == 0


def test_a_stores_own_signup_event_does_not_pay_twice_with_a_lifetime_limit(
    client: TestClient, tenant: Tenant
) -> None:
    # given a signup rule paid once per member
    create_rule(
        client,
        tenant,
        "welcome",
        fixed(200),
        trigger="signup",
        limits=[{"period": "lifetime", "max_awards": 1}],
    )
    # when a member is enrolled, then the store sends its own signup event
    enrol(client, tenant, "c1")
    store = record(client, tenant, action("su-c1", "signup", "c1"))
    # then it was paid once
    assert store["points"] == 0
    assert store["explanation"]["rules"] == [
        skipped("welcome", 1, "limits.0: 1 of 1 awards in total already", matched=True)
    ]
    assert balance(client, tenant, "c1") == 200
    # and a customer enrolled by its signup event is paid once too
    first = record(client, tenant, action("su-c2", "signup", "c2"))
    assert first["member_enrolled"] is True
    assert balance(client, tenant, "c2") == 200


def test_auto_enrolment_by_an_order_fires_the_signup_rule(
    client: TestClient, tenant: Tenant
) -> None:
    create_rule(client, tenant, "welcome", fixed(200), trigger="signup")
    result = client.post("/v1/orders", json=order("o1", "new1"), headers=tenant.headers).json()
    assert (result["member_enrolled"], result["points"]) == (True, 100)
    ledger = client.get("/v1/members/new1/ledger", headers=tenant.headers).json()["data"]
    assert [(tx["points"], tx["details"].get("event")) for tx in ledger] == [
        (100, None),
        (200, "signup"),
    ]
    assert balance(client, tenant, "new1") == 300


def test_a_signup_event_that_enrols_its_customer_pays_the_signup_rule_once(
    client: TestClient, tenant: Tenant
) -> None:
    # given a signup rule without limits
    create_rule(client, tenant, "welcome", fixed(200), trigger="signup")
    # when the store's signup event is the first Patron hears of the customer
    result = record(client, tenant, action("su-1", "signup", "new1"))
    # then the customer is enrolled and welcomed once
    assert result["member_enrolled"] is True
    assert balance(client, tenant, "new1") == 200
