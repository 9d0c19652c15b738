"""Authentication and API keys: bearer keys with scopes (read < write < admin), shown once,
stored hashed, revocable; health and docs are public."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, text

from tests.conftest import Clock, Tenant, count_rows
from tests.helpers import PATH_SAMPLES, money, order, refund

PUBLIC = {"/healthz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
WWW_AUTHENTICATE = 'Bearer realm="patron"'
KEY_FIELDS = {"key_id", "name", "scopes", "brand", "created_at", "revoked_at"}

REVIEW_RULE = {
    "code": "review",
    "name": "Review points",
    "trigger": "review.written",
    "award": {"kind": "fixed_points", "points": 50},
}

#: A valid request for every write operation, so that only the key's scope can refuse it.
CAMPAIGN = {"name": "Hi", "kind": "win_back", "lapse_days": 30, "offer": {"points": 5}}
VALID_WRITES: dict[tuple[str, str], tuple[str, Any]] = {
    ("POST", "/v1/members"): ("/v1/members", {"external_id": "c9"}),
    ("PATCH", "/v1/members/{customer_id}"): ("/v1/members/c1", {"first_name": "X"}),
    ("POST", "/v1/members/{customer_id}/adjustments"): (
        "/v1/members/c1/adjustments",
        {"points": 5, "reason": "goodwill"},
    ),
    ("POST", "/v1/members/{customer_id}/redemptions"): (
        "/v1/members/c1/redemptions",
        {"reward_id": "rwd_0000000000000000"},
    ),
    ("POST", "/v1/members/{customer_id}/grants"): (
        "/v1/members/c1/grants",
        {"reward": "rwd_0000000000000000", "reason": "goodwill"},
    ),
    ("POST", "/v1/orders"): ("/v1/orders", order("o9")),
    ("POST", "/v1/orders/batch"): ("/v1/orders/batch", {"orders": [order("o9")]}),
    ("POST", "/v1/refunds"): ("/v1/refunds", refund("r9", "o1", lines=[("L0", 1)])),
    ("POST", "/v1/rewards"): (
        "/v1/rewards",
        {"name": "$1 off", "points_cost": 100, "value": money(100)},
    ),
    ("POST", "/v1/redemptions/{redemption_id}/cancel"): (
        "/v1/redemptions/rdm_0000000000000000/cancel",
        None,
    ),
    ("POST", "/v1/rewards/{reward_id}/codes"): (
        "/v1/rewards/rwd_0000000000000000/codes",
        {"codes": ["SHOP-0001"]},
    ),
    ("POST", "/v1/redemptions/{redemption_id}/fulfilment"): (
        "/v1/redemptions/rdm_0000000000000000/fulfilment",
        {"status": "shipped"},
    ),
    ("POST", "/v1/coupons/{code}/consume"): ("/v1/coupons/SAVE-0000/consume", {"order_id": "o1"}),
    ("POST", "/v1/keys"): ("/v1/keys", {"name": "k", "scopes": ["read"]}),
    ("POST", "/v1/keys/{key_id}/revoke"): ("/v1/keys/000000000000/revoke", None),
    ("POST", "/v1/programs"): (
        "/v1/programs",
        {"code": "second", "name": "Second", "currency": "USD"},
    ),
    ("POST", "/v1/brands"): ("/v1/brands", {"code": "north", "name": "North"}),
    ("PATCH", "/v1/brands/{brand_code}"): ("/v1/brands/default", {"left": True}),
    ("PUT", "/v1/coalition/rates/{period}"): ("/v1/coalition/rates/2026-Q1", {"EUR": "0.9"}),
    ("PATCH", "/v1/program"): ("/v1/program", {"name": "Renamed"}),
    ("POST", "/v1/programs/from-template"): (
        "/v1/programs/from-template",
        {"template": "starter", "code": "from-starter", "currency": "USD"},
    ),
    ("POST", "/v1/members/{customer_id}/store-credit/spends"): (
        "/v1/members/c1/store-credit/spends",
        {"amount": money(1)},
    ),
    ("POST", "/v1/store-credit/spends/{spend_id}/refunds"): (
        "/v1/store-credit/spends/scs_0000000000000000/refunds",
        {"amount": money(1)},
    ),
    ("POST", "/v1/members/{customer_id}/tier"): (
        "/v1/members/c1/tier",
        {"tier": "gold", "reason": "vip", "until": "2027-01-01T00:00:00Z"},
    ),
    ("POST", "/v1/rules"): ("/v1/rules", REVIEW_RULE),
    ("PUT", "/v1/rules/{code}"): (
        "/v1/rules/review",
        {k: v for k, v in REVIEW_RULE.items() if k != "code"},
    ),
    ("POST", "/v1/event-types"): ("/v1/event-types", {"name": "quiz"}),
    ("POST", "/v1/segments"): ("/v1/segments", {"code": "vips", "name": "V", "filter": {}}),
    ("PUT", "/v1/segments/{segment_code}"): ("/v1/segments/vips", {"name": "V", "filter": {}}),
    ("POST", "/v1/charities"): ("/v1/charities", {"code": "trees", "name": "Trees"}),
    ("PUT", "/v1/charities/{charity_id}"): (
        "/v1/charities/chr_0000000000000000",
        {"name": "Trees"},
    ),
    ("POST", "/v1/members/{customer_id}/donations"): (
        "/v1/members/c1/donations",
        {"charity_id": "chr_0000000000000000", "points": 10},
    ),
    ("POST", "/v1/campaigns"): ("/v1/campaigns", {"code": "hi", **CAMPAIGN}),
    ("PUT", "/v1/campaigns/{campaign_code}"): ("/v1/campaigns/hi", CAMPAIGN),
    ("POST", "/v1/campaigns/{campaign_code}/run"): ("/v1/campaigns/hi/run", None),
    ("PUT", "/v1/program/referral-policy"): (
        "/v1/program/referral-policy",
        {"base_url": "https://shop.example/r", "friend_reward": {"points": 500}},
    ),
    ("POST", "/v1/referrals/{referral_id}/approve"): (
        "/v1/referrals/ref_0000000000000000/approve",
        {"note": "checked"},
    ),
    ("POST", "/v1/referrals/{referral_id}/reject"): (
        "/v1/referrals/ref_0000000000000000/reject",
        {"note": "fake"},
    ),
    ("POST", "/v1/members/{customer_id}/referral/invites"): (
        "/v1/members/c1/referral/invites",
        {"email": "friend@example.com"},
    ),
    ("POST", "/v1/events"): (
        "/v1/events",
        {
            "event_id": "e9",
            "type": "review.written",
            "customer_id": "c1",
            "occurred_at": "2026-03-01T12:00:00Z",
        },
    ),
    ("POST", "/v1/membership-plans"): (
        "/v1/membership-plans",
        {
            "code": "gold",
            "name": "Gold",
            "price": {"amount": 500, "currency": "USD"},
            "period": "month",
        },
    ),
    ("PUT", "/v1/membership-plans/{plan_code}"): (
        "/v1/membership-plans/gold",
        {"name": "Gold", "price": {"amount": 500, "currency": "USD"}},
    ),
    ("POST", "/v1/members/{customer_id}/subscriptions"): (
        "/v1/members/c1/subscriptions",
        {"plan": "gold", "payment_reference": "pay-9"},
    ),
    ("POST", "/v1/subscriptions/{subscription_id}/renewals"): (
        "/v1/subscriptions/sub_0000000000000000/renewals",
        {"payment_reference": "pay-10"},
    ),
    ("POST", "/v1/subscriptions/{subscription_id}/payment-failures"): (
        "/v1/subscriptions/sub_0000000000000000/payment-failures",
        {"reason": "declined"},
    ),
    ("POST", "/v1/subscriptions/{subscription_id}/cancellations"): (
        "/v1/subscriptions/sub_0000000000000000/cancellations",
        {"at_period_end": True},
    ),
}
#: Operations that need the admin scope; the others need write (or, for GETs, read).
ADMIN_ONLY = {
    ("POST", "/v1/membership-plans"),
    ("PUT", "/v1/membership-plans/{plan_code}"),
    ("PUT", "/v1/program/referral-policy"),
    ("POST", "/v1/referrals/{referral_id}/approve"),
    ("POST", "/v1/referrals/{referral_id}/reject"),
    ("POST", "/v1/campaigns"),
    ("PUT", "/v1/campaigns/{campaign_code}"),
    ("POST", "/v1/campaigns/{campaign_code}/run"),
    ("POST", "/v1/rewards"),
    ("POST", "/v1/members/{customer_id}/grants"),
    ("POST", "/v1/rewards/{reward_id}/codes"),
    ("POST", "/v1/keys"),
    ("POST", "/v1/keys/{key_id}/revoke"),
    ("GET", "/v1/keys"),
    ("POST", "/v1/programs"),
    ("POST", "/v1/brands"),
    ("PATCH", "/v1/brands/{brand_code}"),
    ("PUT", "/v1/coalition/rates/{period}"),
    ("GET", "/v1/coalition/settlements"),
    ("PATCH", "/v1/program"),
    ("POST", "/v1/programs/from-template"),
    ("POST", "/v1/members/{customer_id}/tier"),
    ("POST", "/v1/rules"),
    ("PUT", "/v1/rules/{code}"),
    ("POST", "/v1/event-types"),
    ("POST", "/v1/segments"),
    ("PUT", "/v1/segments/{segment_code}"),
    ("POST", "/v1/charities"),
    ("PUT", "/v1/charities/{charity_id}"),
}
#: POSTs that only read (checking a coupon writes nothing), with a valid body.
READS_BY_POST: dict[tuple[str, str], Any] = {
    ("POST", "/v1/coupons/validate"): {"code": "SAVE-0000"},
    ("POST", "/v1/segments/preview"): {"filter": {}},
    ("POST", "/v1/members/{customer_id}/benefits/validate"): {
        "currency": "USD",
        "lines": [{"line_id": "L1", "unit_price": {"amount": 100, "currency": "USD"}}],
    },
}


def operations(client: TestClient) -> list[tuple[str, str]]:
    """(method, path template) of every documented operation that is not public."""
    spec = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        for method in methods
        if path not in PUBLIC
    )


def sample_url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda match: PATH_SAMPLES[match.group(1)], path)


def new_key(client: TestClient, tenant: Tenant, *scopes: str, name: str = "k") -> dict[str, Any]:
    response = client.post(
        "/v1/keys", json={"name": name, "scopes": list(scopes)}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['secret']}"}


def assert_forbidden(response: Response, scope: str) -> None:
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert (problem["code"], problem["type"]) == ("forbidden", "/problems/forbidden")
    assert problem["detail"] == f"this API key lacks the {scope!r} scope"


@pytest.fixture
def member(client: TestClient, tenant: Tenant) -> None:
    """Member c1 with 100 points from order o1."""
    paid = client.post("/v1/orders", json=order("o1"), headers=tenant.headers)
    assert paid.status_code == 201, paid.text


# --- no key ------------------------------------------------------------------------------


def test_every_endpoint_without_a_key_is_401_with_www_authenticate(
    client: TestClient, tenant: Tenant, engine: Engine, member: None, subtests: pytest.Subtests
) -> None:
    for method, path in operations(client):
        with subtests.test(f"{method} {path}"):
            rows = count_rows(engine)
            body = {} if method in {"POST", "PATCH"} else None
            response = client.request(method, sample_url(path), json=body)
            assert response.status_code == 401, response.text
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == WWW_AUTHENTICATE
            problem = response.json()
            assert (problem["code"], problem["status"]) == ("unauthenticated", 401)
            assert problem["detail"] == "send the API key as 'Authorization: Bearer <key>'"
            assert count_rows(engine) == rows


def test_bearer_scheme_is_case_insensitive(client: TestClient, tenant: Tenant) -> None:
    # RFC 9110 section 11.1: the authentication scheme is a case-insensitive token
    response = client.get("/v1/program", headers={"Authorization": f"bearer {tenant.key}"})
    assert response.status_code == 200, response.text


# --- scopes --------------------------------------------------------------------------------


def test_read_key_can_read_but_not_write(
    client: TestClient, tenant: Tenant, engine: Engine, member: None, subtests: pytest.Subtests
) -> None:
    # given a read-only key
    reader = bearer(new_key(client, tenant, "read"))
    for method, path in operations(client):
        with subtests.test(f"{method} {path}"):
            rows = count_rows(engine)
            if method == "GET" or (method, path) in READS_BY_POST:
                # reads pass the scope check (they may still 404 on the sample id)
                body = READS_BY_POST.get((method, path))
                response = client.request(method, sample_url(path), json=body, headers=reader)
                if (method, path) in ADMIN_ONLY:
                    assert_forbidden(response, "admin")
                else:
                    assert response.status_code in {200, 404}, response.text
                    assert response.status_code == 200 or response.json()["code"] == "not-found"
            else:
                url, body = VALID_WRITES[(method, path)]
                response = client.request(method, url, json=body, headers=reader)
                assert_forbidden(response, "admin" if (method, path) in ADMIN_ONLY else "write")
            assert count_rows(engine) == rows


def test_read_key_reads_a_member(client: TestClient, tenant: Tenant, member: None) -> None:
    reader = bearer(new_key(client, tenant, "read"))
    response = client.get("/v1/members/c1", headers=reader)
    assert response.status_code == 200, response.text
    assert response.json()["balance"]["available"] == 100
    listed = client.get("/v1/members", headers=reader).json()
    assert [m["external_id"] for m in listed["data"]] == ["c1"]
    check = client.post("/v1/coupons/validate", json={"code": "NOPE"}, headers=reader)
    assert check.status_code == 200
    assert check.json()["reason"] == "unknown_code"


def test_read_key_cannot_enrol(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    reader = bearer(new_key(client, tenant, "read"))
    rows = count_rows(engine)
    response = client.post("/v1/members", json={"external_id": "c9"}, headers=reader)
    assert_forbidden(response, "write")
    assert count_rows(engine) == rows


def test_write_key_writes_but_cannot_administer(
    client: TestClient, tenant: Tenant, engine: Engine, member: None, subtests: pytest.Subtests
) -> None:
    # given a key with the write scope only
    writer = bearer(new_key(client, tenant, "write"))
    # it can read (write implies read) and write
    assert client.get("/v1/members/c1", headers=writer).status_code == 200
    enrolled = client.post("/v1/members", json={"external_id": "c9"}, headers=writer)
    assert enrolled.status_code == 201, enrolled.text
    paid = client.post("/v1/orders", json=order("o2"), headers=writer)
    assert paid.status_code == 201, paid.text
    # but every admin operation is 403 and writes nothing
    for method, path in sorted(ADMIN_ONLY):
        with subtests.test(f"{method} {path}"):
            url, body = VALID_WRITES.get((method, path), (sample_url(path), None))
            rows = count_rows(engine)
            response = client.request(method, url, json=body, headers=writer)
            assert_forbidden(response, "admin")
            assert count_rows(engine) == rows


def test_write_key_cannot_create_rewards(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    writer = bearer(new_key(client, tenant, "write"))
    rows = count_rows(engine)
    response = client.post(
        "/v1/rewards",
        json={"name": "$1 off", "points_cost": 100, "value": money(100)},
        headers=writer,
    )
    assert_forbidden(response, "admin")
    assert count_rows(engine) == rows
    assert client.get("/v1/rewards", headers=tenant.headers).json() == []


def test_every_operation_is_classified(client: TestClient) -> None:
    """A new operation must be added to VALID_WRITES (or be a GET) so the sweeps cover it."""
    for method, path in operations(client):
        assert method == "GET" or (method, path) in VALID_WRITES | dict.fromkeys(READS_BY_POST)
    assert set(operations(client)) >= ADMIN_ONLY


# --- keys ----------------------------------------------------------------------------------


def test_new_key_is_shown_once_and_stored_hashed(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # when a key is created
    response = client.post(
        "/v1/keys", json={"name": "pos", "scopes": ["write", "read"]}, headers=tenant.headers
    )
    # then its secret is in the response, once
    assert response.status_code == 201, response.text
    key = response.json()
    assert set(key) == KEY_FIELDS | {"secret"}
    assert (key["name"], key["scopes"], key["brand"], key["revoked_at"]) == (
        "pos",
        ["read", "write"],
        None,
        None,
    )
    assert key["created_at"] == "2026-03-01T12:00:00Z"
    assert re.fullmatch(rf"ptn_{key['key_id']}_[0-9a-f]{{48}}", key["secret"])
    # and it works
    assert client.get("/v1/program", headers=bearer(key)).status_code == 200
    # the list shows the key without any secret
    listed = client.get("/v1/keys", headers=tenant.headers)
    assert listed.status_code == 200
    assert [item["name"] for item in listed.json()] == ["admin", "pos"]
    assert all(set(item) == KEY_FIELDS for item in listed.json())
    assert listed.json()[1] == {field: key[field] for field in KEY_FIELDS}
    secret_part = key["secret"].rsplit("_", 1)[1]
    assert secret_part not in listed.text
    # and the database holds only a hash of it
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM api_keys")).mappings().all()
    stored = [str(value) for row in rows for value in row.values()]
    assert not any(secret_part in value for value in stored)


def test_revoked_key_is_refused(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    # given a working key
    key = new_key(client, tenant, "read", "write", name="till")
    assert client.get("/v1/program", headers=bearer(key)).status_code == 200
    # when it is revoked an hour later
    clock.advance(hours=1)
    revoked = client.post(f"/v1/keys/{key['key_id']}/revoke", headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json() == {
        **{field: key[field] for field in KEY_FIELDS},
        "revoked_at": "2026-03-01T13:00:00Z",
    }
    # then it is refused like an unknown key
    response = client.get("/v1/program", headers=bearer(key))
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == WWW_AUTHENTICATE
    assert response.json()["code"] == "unauthenticated"
    assert response.json()["detail"] == "unknown or revoked API key"
    # the list shows it revoked; revoking it again is a 404
    listed = {
        item["key_id"]: item for item in client.get("/v1/keys", headers=tenant.headers).json()
    }
    assert listed[key["key_id"]]["revoked_at"] == "2026-03-01T13:00:00Z"
    again = client.post(f"/v1/keys/{key['key_id']}/revoke", headers=tenant.headers)
    assert again.status_code == 404
    assert (again.json()["code"], again.json()["field"]) == ("not-found", "key_id")
    # and the admin key is unaffected
    assert client.get("/v1/program", headers=tenant.headers).status_code == 200


def test_brand_key_cannot_create_keys(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    client.post("/v1/brands", json={"code": "north", "name": "North"}, headers=tenant.headers)
    made = client.post(
        "/v1/keys",
        json={"name": "north admin", "scopes": ["admin"], "brand": "north"},
        headers=tenant.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["brand"] == "north"
    rows = count_rows(engine)
    response = client.post(
        "/v1/keys", json={"name": "escalate", "scopes": ["admin"]}, headers=bearer(made.json())
    )
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert count_rows(engine) == rows


# --- public routes -------------------------------------------------------------------------


def test_healthz_needs_no_key(client: TestClient, engine: Engine) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": engine.dialect.name}


def test_openapi_and_docs_are_served(client: TestClient) -> None:
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    assert spec.headers["content-type"] == "application/json"
    document = spec.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "Patron"
    assert {"/v1/orders", "/v1/members", "/v1/keys", "/healthz"} <= set(document["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "/openapi.json" in docs.text
    assert "swagger" in docs.text.lower()
