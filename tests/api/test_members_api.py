"""Members through the API: enrol, read, update, list with cursors, the ledger, and
auto-enrolment from an order."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Clock, Tenant, count_rows
from tests.helpers import order

ZERO = {"available": 0, "pending": 0, "debt": 0, "lifetime_earned": 0}
ADA = {
    "external_id": "c1",
    "email": "ada@example.com",
    "first_name": "Ada",
    "last_name": "Lovelace",
    "phone": "+44 20 7946 0000",
    "birthday": "1815-12-10",
    "locale": "en-GB",
    "tags": ["vip", "newsletter"],
    "marketing_consent": True,
}


def enrol(client: TestClient, tenant: Tenant, external_id: str, **profile: Any) -> Any:
    response = client.post(
        "/v1/members", json={"external_id": external_id, **profile}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Rows added per table (tables that did not change are left out)."""
    return {table: after[table] - before[table] for table in after if after[table] != before[table]}


def test_enrol_returns_the_member_and_writes_it_with_an_event(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    before = count_rows(engine)
    response = client.post("/v1/members", json=ADA, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        **ADA,
        "status": "active",
        "enrolled_at": "2026-03-01T12:00:00Z",
        "updated_at": "2026-03-01T12:00:00Z",
        "balance": ZERO,
        "tier": None,
        "chosen_day": None,
        "store_credit": {"currency": "USD", "available": 0, "pending": 0, "lifetime_earned": 0},
        "memberships": None,
        "recent_ledger": [],
    }
    # one member, its balance row, and a member.enrolled event in the outbox
    assert delta(before, count_rows(engine)) == {"members": 1, "member_balances": 1, "outbox": 1}


def test_enrol_with_only_an_id_gives_empty_profile(client: TestClient, tenant: Tenant) -> None:
    member = enrol(client, tenant, "c2")
    assert {key: member[key] for key in ADA} == {
        "external_id": "c2",
        "email": None,
        "first_name": None,
        "last_name": None,
        "phone": None,
        "birthday": None,
        "locale": None,
        "tags": [],
        "marketing_consent": False,
    }


def test_enrolling_twice_is_409_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    enrol(client, tenant, "c1", email="first@example.com")
    before = count_rows(engine)
    again = client.post(
        "/v1/members",
        json={"external_id": "c1", "email": "second@example.com"},
        headers=tenant.headers,
    )
    assert again.status_code == 409, again.text
    assert again.headers["content-type"] == "application/problem+json"
    problem = again.json()
    assert (problem["code"], problem["field"]) == ("conflict", "external_id")
    assert problem["detail"] == "member 'c1' exists"
    assert count_rows(engine) == before
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["email"] == "first@example.com"


def test_get_member_returns_what_enrolment_returned(client: TestClient, tenant: Tenant) -> None:
    enrolled = client.post("/v1/members", json=ADA, headers=tenant.headers).json()
    response = client.get("/v1/members/c1", headers=tenant.headers)
    assert response.status_code == 200
    assert response.json() == enrolled
    missing = client.get("/v1/members/c404", headers=tenant.headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "not-found"
    assert missing.json()["field"] == "customer_id"
    assert missing.json()["detail"] == "no member 'c404'"


def test_patch_changes_only_the_fields_given(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    # given Ada, enrolled at 12:00
    enrolled = client.post("/v1/members", json=ADA, headers=tenant.headers).json()
    # when her last name and tags change at 13:00
    clock.advance(hours=1)
    response = client.patch(
        "/v1/members/c1", json={"last_name": "King", "tags": ["gold"]}, headers=tenant.headers
    )
    # then only those fields (and updated_at) changed
    assert response.status_code == 200, response.text
    assert response.json() == {
        **enrolled,
        "last_name": "King",
        "tags": ["gold"],
        "updated_at": "2026-03-01T13:00:00Z",
    }
    assert client.get("/v1/members/c1", headers=tenant.headers).json() == response.json()


def test_patch_with_null_clears_an_optional_field(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    enrolled = client.post("/v1/members", json=ADA, headers=tenant.headers).json()
    clock.advance(minutes=1)
    response = client.patch(
        "/v1/members/c1", json={"phone": None, "birthday": None}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        **enrolled,
        "phone": None,
        "birthday": None,
        "updated_at": "2026-03-01T12:01:00Z",
    }


def test_empty_patch_changes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, clock: Clock
) -> None:
    enrolled = client.post("/v1/members", json=ADA, headers=tenant.headers).json()
    clock.advance(hours=1)
    before = count_rows(engine)
    response = client.patch("/v1/members/c1", json={}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json() == enrolled
    assert count_rows(engine) == before


def test_blocked_member_earns_nothing_until_unblocked(
    client: TestClient, tenant: Tenant, clock: Clock
) -> None:
    # given a member who earned 100 points, then was blocked
    client.post("/v1/orders", json=order("o1", "c1"), headers=tenant.headers)
    clock.advance(minutes=1)
    blocked = client.patch("/v1/members/c1", json={"status": "blocked"}, headers=tenant.headers)
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["status"] == "blocked"
    # when a paid $100.00 order arrives
    paid = client.post("/v1/orders", json=order("o2", "c1"), headers=tenant.headers)
    # then it is recorded but earns 0 points, and says why
    assert paid.status_code == 201, paid.text
    result = paid.json()
    assert (result["points"], result["points_status"], result["transaction_id"]) == (
        0,
        "none",
        None,
    )
    assert result["eligible_amount"] == 10_000
    assert result["explanation"] == {
        "eligible_amount": 10_000,
        "points": 0,
        "reason": "member blocked",
        "rules": [],
    }
    assert client.get("/v1/orders/o2", headers=tenant.headers).json()["points_awarded"] == 0
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert member["balance"] == {"available": 100, "pending": 0, "debt": 0, "lifetime_earned": 100}
    # and once active again, the next order earns
    client.patch("/v1/members/c1", json={"status": "active"}, headers=tenant.headers)
    again = client.post("/v1/orders", json=order("o3", "c1"), headers=tenant.headers).json()
    assert (again["points"], again["points_status"]) == (100, "available")
    assert "reason" not in again["explanation"]


def test_members_list_in_pages_of_three(client: TestClient, tenant: Tenant) -> None:
    # given seven members
    for n in range(1, 8):
        enrol(client, tenant, f"c{n}")
    # when they are listed three at a time, following next_cursor
    pages: list[list[str]] = []
    cursors: list[str | None] = []
    url = "/v1/members?limit=3"
    while True:
        response = client.get(url, headers=tenant.headers)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append([member["external_id"] for member in page["data"]])
        cursors.append(page["next_cursor"])
        if page["next_cursor"] is None:
            break
        assert len(pages) < 5, "pagination does not end"
        url = f"/v1/members?limit=3&cursor={page['next_cursor']}"
    # then: three pages, in enrolment order, no member twice, no cursor after the last
    assert pages == [["c1", "c2", "c3"], ["c4", "c5", "c6"], ["c7"]]
    assert all(isinstance(cursor, str) and cursor for cursor in cursors[:2])
    assert cursors[2] is None
    assert len({member for page in pages for member in page}) == 7


def test_members_list_edges(client: TestClient, tenant: Tenant) -> None:
    # no members: an empty page
    assert client.get("/v1/members", headers=tenant.headers).json() == {
        "data": [],
        "next_cursor": None,
    }
    for n in range(1, 7):
        enrol(client, tenant, f"c{n}")
    # exactly `limit` members: one page, no cursor
    page = client.get("/v1/members?limit=6", headers=tenant.headers).json()
    assert [m["external_id"] for m in page["data"]] == [f"c{n}" for n in range(1, 7)]
    assert page["next_cursor"] is None
    # the default limit (50) holds them all; list items carry no recent ledger
    page = client.get("/v1/members", headers=tenant.headers).json()
    assert len(page["data"]) == 6
    assert all(member["recent_ledger"] == [] for member in page["data"])


def test_member_enrolled_while_paging_shows_up_on_a_later_page(
    client: TestClient, tenant: Tenant
) -> None:
    for n in range(1, 5):
        enrol(client, tenant, f"c{n}")
    first = client.get("/v1/members?limit=2", headers=tenant.headers).json()
    enrol(client, tenant, "c5")
    second = client.get(
        f"/v1/members?limit=2&cursor={first['next_cursor']}", headers=tenant.headers
    ).json()
    third = client.get(
        f"/v1/members?limit=2&cursor={second['next_cursor']}", headers=tenant.headers
    ).json()
    assert [m["external_id"] for m in first["data"]] == ["c1", "c2"]
    assert [m["external_id"] for m in second["data"]] == ["c3", "c4"]
    assert [m["external_id"] for m in third["data"]] == ["c5"]
    assert third["next_cursor"] is None


def test_ledger_pages_newest_first(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    # given an order (100 points) and four adjustments, a minute apart
    client.post("/v1/orders", json=order("o1", "c1"), headers=tenant.headers)
    for points, reason in [(10, "welcome"), (20, "survey"), (-5, "correction"), (30, "apology")]:
        clock.advance(minutes=1)
        response = client.post(
            "/v1/members/c1/adjustments",
            json={"points": points, "reason": reason},
            headers=tenant.headers,
        )
        assert response.status_code == 201, response.text
    # when the ledger is read two at a time
    pages: list[list[tuple[str, int, str | None]]] = []
    ids: list[int] = []
    url = "/v1/members/c1/ledger?limit=2"
    while url:
        page = client.get(url, headers=tenant.headers).json()
        pages.append([(tx["kind"], tx["points"], tx["reason"]) for tx in page["data"]])
        ids += [tx["id"] for tx in page["data"]]
        cursor = page["next_cursor"]
        url = f"/v1/members/c1/ledger?limit=2&cursor={cursor}" if cursor else ""
        assert len(pages) < 5, "pagination does not end"
    # then newest first, each transaction once, and the last page has no cursor
    assert pages == [
        [("adjust", 30, "apology"), ("adjust", -5, "correction")],
        [("adjust", 20, "survey"), ("adjust", 10, "welcome")],
        [("earn", 100, None)],
    ]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 5
    # and the balance is the sum of the ledger
    balance = client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]
    assert balance["available"] == 155


def test_ledger_entries_detail_an_earning(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/orders", json=order("o1", "c1", lines=[(2, 1_250)]), headers=tenant.headers)
    page = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()
    assert page["next_cursor"] is None
    [tx] = page["data"]
    assert (tx["kind"], tx["points"], tx["reason"]) == ("earn", 25, None)
    assert tx["details"]["order_id"] == "o1"
    assert tx["occurred_at"] == "2026-03-01T12:00:00Z"
    assert sum(entry["amount"] for entry in tx["entries"]) == 25
    assert all(entry["account"].startswith("member:") for entry in tx["entries"])


def test_member_shows_the_ten_latest_transactions(client: TestClient, tenant: Tenant) -> None:
    enrol(client, tenant, "c1")
    for n in range(1, 13):
        client.post(
            "/v1/members/c1/adjustments",
            json={"points": n, "reason": f"gift {n}"},
            headers=tenant.headers,
        )
    member = client.get("/v1/members/c1", headers=tenant.headers).json()
    assert [tx["points"] for tx in member["recent_ledger"]] == list(range(12, 2, -1))
    assert member["balance"]["available"] == sum(range(1, 13))


def test_ledger_of_an_unknown_member_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/members/ghost/ledger", headers=tenant.headers)
    assert response.status_code == 404
    assert (response.json()["code"], response.json()["field"]) == ("not-found", "customer_id")


def test_order_of_an_unknown_customer_enrols_it_with_its_profile(
    client: TestClient, tenant: Tenant, engine: Engine, clock: Clock
) -> None:
    # given no member "new1"
    profile = {
        "email": "nia@example.com",
        "first_name": "Nia",
        "last_name": "Okafor",
        "tags": ["web"],
        "marketing_consent": True,
    }
    before = count_rows(engine)
    # when its first order arrives with a customer profile
    paid = client.post(
        "/v1/orders", json=order("o1", "new1", customer=profile), headers=tenant.headers
    )
    # then it is enrolled with that profile, and earns
    assert paid.status_code == 201, paid.text
    assert (paid.json()["member_enrolled"], paid.json()["points"]) == (True, 100)
    member = client.get("/v1/members/new1", headers=tenant.headers).json()
    assert {key: member[key] for key in ADA} == {
        "external_id": "new1",
        "phone": None,
        "birthday": None,
        "locale": None,
        **profile,
    }
    assert (member["status"], member["enrolled_at"]) == ("active", "2026-03-01T12:00:00Z")
    assert member["balance"] == {"available": 100, "pending": 0, "debt": 0, "lifetime_earned": 100}
    assert [tx["kind"] for tx in member["recent_ledger"]] == ["earn"]
    added = delta(before, count_rows(engine))
    assert added["members"] == 1 and added["orders"] == 1 and added["events"] == 1
    # and a later order's profile does not overwrite the member
    clock.advance(days=1)
    other = {"email": "other@example.com", "first_name": "Someone"}
    later = client.post(
        "/v1/orders", json=order("o2", "new1", customer=other), headers=tenant.headers
    ).json()
    assert (later["member_enrolled"], later["points"]) == (False, 100)
    member = client.get("/v1/members/new1", headers=tenant.headers).json()
    assert (member["email"], member["first_name"]) == ("nia@example.com", "Nia")
    assert member["updated_at"] == "2026-03-01T12:00:00Z"


def test_order_without_a_profile_enrols_a_bare_member(client: TestClient, tenant: Tenant) -> None:
    paid = client.post("/v1/orders", json=order("o1", "anon"), headers=tenant.headers).json()
    assert paid["member_enrolled"] is True
    member = client.get("/v1/members/anon", headers=tenant.headers).json()
    assert (member["email"], member["tags"], member["marketing_consent"]) == (None, [], False)
