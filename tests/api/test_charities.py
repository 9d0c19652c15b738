"""The charity catalogue through the API: create, list (all or active), read, replace and
deactivate; bad catalogue input writes nothing; the `beauty-charity` template."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from tests.conftest import Clock, Tenant, count_rows
from tests.helpers import assert_ledger_ok, money, order

WATER = {
    "code": "clean-water",
    "name": "Clean Water Fund",
    "description": "Wells and filters.",
    "logo_url": "https://example.org/water.png",
    "points_step": 50,
    "min_points": 100,
    "matching_percent": 25,
}


def _create(client: TestClient, tenant: Tenant, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/charities", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_catalogue_create_list_read_replace_and_deactivate(
    client: TestClient, clock: Clock, tenant: Tenant
) -> None:
    # when two charities are added
    water = _create(client, tenant, WATER)
    trees = _create(client, tenant, {"code": "trees", "name": "Trees"})
    # then they read back with their terms (defaults: any positive points, no matching)
    assert water["id"].startswith("chr_") and len(water["id"]) == 20
    assert {k: v for k, v in water.items() if k not in {"id", "created_at", "updated_at"}} == {
        **WATER,
        "active": True,
    }
    assert (trees["points_step"], trees["min_points"], trees["matching_percent"]) == (1, 0, 0)
    assert (trees["description"], trees["logo_url"]) == (None, None)
    assert client.get(f"/v1/charities/{water['id']}", headers=tenant.headers).json() == water
    # when trees is deactivated (PUT replaces every field)
    clock.advance(hours=1)
    body = {"name": "Trees for all", "active": False}
    put = client.put(f"/v1/charities/{trees['id']}", json=body, headers=tenant.headers)
    assert put.status_code == 200, put.text
    assert (put.json()["name"], put.json()["active"], put.json()["code"]) == (
        "Trees for all",
        False,
        "trees",
    )
    assert put.json()["updated_at"] == "2026-03-01T13:00:00Z"
    assert put.json()["created_at"] == "2026-03-01T12:00:00Z"
    # then the catalogue lists both, and the members' view only the active one
    listed = client.get("/v1/charities", headers=tenant.headers).json()
    assert [c["code"] for c in listed] == ["clean-water", "trees"]
    active = client.get("/v1/charities?active=true", headers=tenant.headers).json()
    assert [c["code"] for c in active] == ["clean-water"]
    inactive = client.get("/v1/charities?active=false", headers=tenant.headers).json()
    assert [c["code"] for c in inactive] == ["trees"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"code": "Clean Water"}, "code"),
        ({"name": ""}, "name"),
        ({"logo_url": "javascript:alert(1)"}, "logo_url"),
        ({"points_step": 0}, "points_step"),
        ({"min_points": -1}, "min_points"),
        ({"matching_percent": 101}, "matching_percent"),
        ({"matching_percent": "50"}, "matching_percent"),
        ({"active": "yes"}, "active"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_bad_charity_is_422_and_writes_nothing(
    client: TestClient, engine: Engine, tenant: Tenant, change: dict[str, Any], field: str
) -> None:
    rows = count_rows(engine)
    response = client.post("/v1/charities", json={**WATER, **change}, headers=tenant.headers)
    assert response.status_code == 422, response.text
    assert (response.json()["code"], response.json()["field"]) == ("validation-failed", field)
    assert count_rows(engine) == rows


def test_duplicate_code_is_409_and_unknown_charity_404(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    _create(client, tenant, WATER)
    rows = count_rows(engine)
    again = client.post("/v1/charities", json=WATER, headers=tenant.headers)
    assert (again.status_code, again.json()["code"], again.json()["field"]) == (
        409,
        "conflict",
        "code",
    )
    unknown = "/v1/charities/chr_0000000000000000"
    assert client.get(unknown, headers=tenant.headers).json()["field"] == "charity_id"
    put = client.put(unknown, json={"name": "X"}, headers=tenant.headers)
    assert (put.status_code, put.json()["field"]) == (404, "charity_id")
    assert count_rows(engine) == rows


def test_beauty_charity_template_spends_or_donates_points(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given a program from the beauty-charity template
    body = {"template": "beauty-charity", "code": "glow", "currency": "USD"}
    created = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    headers = {**tenant.headers, "Patron-Program": "glow"}
    charities = client.get("/v1/charities?active=true", headers=headers).json()
    assert [
        (c["code"], c["points_step"], c["min_points"], c["matching_percent"]) for c in charities
    ] == [
        ("clean-water", 100, 100, 50),
        ("reforest", 100, 100, 50),
        ("safe-shelter", 100, 100, 50),
    ]
    # when a member spends $612.34: 1 point per 1 spent
    paid = client.post("/v1/orders", json=order("o1", "ann", lines=[(1, 61_234)]), headers=headers)
    assert paid.json()["points"] == 612
    # then 500 points buy the 5 off reward
    reward = client.get("/v1/rewards", headers=headers).json()[0]
    assert (reward["name"], reward["points_cost"]) == ("5 off", 500)
    redeemed = client.post(
        "/v1/members/ann/redemptions", json={"reward_id": reward["id"]}, headers=headers
    )
    assert redeemed.status_code == 201, redeemed.text
    # and 100 more are donated to clean water: worth 1.00, matched 0.50; 12 are left
    donation = client.post(
        "/v1/members/ann/donations",
        json={"charity_id": charities[0]["id"], "points": 100},
        headers=headers,
    )
    assert donation.status_code == 201, donation.text
    assert (donation.json()["value"], donation.json()["matching"]) == (money(100), money(50))
    member = client.get("/v1/members/ann", headers=headers).json()
    assert member["balance"]["available"] == 12
    # and the rest (12) is not a step of 100
    rest = client.post(
        "/v1/members/ann/donations",
        json={"charity_id": charities[1]["id"], "points": 12},
        headers=headers,
    )
    assert (rest.status_code, rest.json()["field"]) == (422, "points")
    # and the default program has no charities
    assert client.get("/v1/charities", headers=tenant.headers).json() == []
    assert_ledger_ok(engine)
