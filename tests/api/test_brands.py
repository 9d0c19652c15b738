"""Brands, and keys bound to one brand (coalition partners)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Tenant, count_rows
from tests.helpers import order


def _brand_key(client: TestClient, tenant: Tenant, brand: str) -> dict[str, str]:
    client.post("/v1/brands", json={"code": brand, "name": brand.title()}, headers=tenant.headers)
    key = client.post(
        "/v1/keys",
        json={"name": brand, "scopes": ["read", "write"], "brand": brand},
        headers=tenant.headers,
    )
    assert key.status_code == 201, key.text
    return {"Authorization": f"Bearer {key.json()['secret']}"}


def test_brands_are_listed_and_unique(client: TestClient, tenant: Tenant) -> None:
    created = client.post(
        "/v1/brands", json={"code": "north", "name": "North"}, headers=tenant.headers
    )
    assert created.status_code == 201
    again = client.post(
        "/v1/brands", json={"code": "north", "name": "North"}, headers=tenant.headers
    )
    assert again.status_code == 409 and again.json()["field"] == "code"
    codes = [brand["code"] for brand in client.get("/v1/brands", headers=tenant.headers).json()]
    assert codes == ["default", "north"]


def test_a_brand_key_records_orders_for_its_own_brand_only(
    client: TestClient, tenant: Tenant, engine: object
) -> None:
    north = _brand_key(client, tenant, "north")
    _brand_key(client, tenant, "south")
    # an order without a brand is the key's own brand's
    response = client.post("/v1/orders", json=order("n1"), headers=north)
    assert response.status_code == 201, response.text
    assert client.get("/v1/orders/n1", headers=north).json()["brand"] == "north"
    # the same order id at another brand is another order
    assert (
        client.post(
            "/v1/orders", json=order("n1", brand="south"), headers=tenant.headers
        ).status_code
        == 201
    )
    # a north key cannot record or read south's orders, and writes nothing trying
    before = count_rows(engine)  # type: ignore[arg-type]
    denied = client.post("/v1/orders", json=order("s2", brand="south"), headers=north)
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert count_rows(engine) == before  # type: ignore[arg-type]
    assert client.get("/v1/orders/n1?brand=south", headers=north).status_code == 403
    # a brand key cannot create keys or brands, and sees only its brand
    assert (
        client.post("/v1/brands", json={"code": "x", "name": "X"}, headers=north).status_code == 403
    )
    assert [b["code"] for b in client.get("/v1/brands", headers=north).json()] == ["north"]
