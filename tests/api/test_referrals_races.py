"""Referrals under true concurrency (PostgreSQL row locks): an admin's decision is taken
once, and friends enrolling at once with one code are each referred once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import Tenant
from tests.helpers import assert_ledger_ok
from tests.integration.conftest import live_server

__all__ = ["live_server"]  # the live server fixture

POLICY = {"base_url": "https://shop.example/r", "friend_reward": {"points": 500}}


def _post_at_once(base: str, requests: list[tuple[str, Any]], tenant: Tenant) -> list[Any]:
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [
            pool.submit(httpx.post, base + path, json=body, headers=tenant.headers, timeout=60)
            for path, body in requests
        ]
        return [future.result() for future in futures]


def _setup(base: str, tenant: Tenant) -> str:
    put = httpx.put(f"{base}/v1/program/referral-policy", json=POLICY, headers=tenant.headers)
    assert put.status_code == 200, put.text
    enrolled = httpx.post(f"{base}/v1/members", json={"external_id": "ann"}, headers=tenant.headers)
    assert enrolled.status_code == 201, enrolled.text
    mine = httpx.get(f"{base}/v1/members/ann/referral", headers=tenant.headers)
    return str(mine.json()["code"])


def _available(base: str, tenant: Tenant, customer: str) -> int:
    member = httpx.get(f"{base}/v1/members/{customer}", headers=tenant.headers).json()
    return int(member["balance"]["available"])


@pytest.mark.postgres_only
def test_five_approvals_at_once_reward_the_friend_once(
    live_server: str, tenant: Tenant, pg: Engine
) -> None:
    # given a referral held by the velocity check (limit 1 a day)
    code = _setup(live_server, tenant)
    policy = POLICY | {"checks": {"velocity_per_day": 1}}
    httpx.put(f"{live_server}/v1/program/referral-policy", json=policy, headers=tenant.headers)
    for friend in ("bob", "cid"):
        body = {"external_id": friend, "referral": {"code": code}}
        assert httpx.post(f"{live_server}/v1/members", json=body, headers=tenant.headers).is_success
    listed = httpx.get(f"{live_server}/v1/referrals?status=held", headers=tenant.headers).json()
    held = listed["data"][0]["id"]
    # when five admins approve it at once
    url = f"/v1/referrals/{held}/approve"
    responses = _post_at_once(live_server, [(url, {"note": f"ok {i}"}) for i in range(5)], tenant)
    # then one approval wins, the others are 409, and the friend has its 500 points once
    assert sorted(response.status_code for response in responses) == [200] + [409] * 4
    assert _available(live_server, tenant, "cid") == 500
    assert_ledger_ok(pg)


@pytest.mark.postgres_only
def test_ten_friends_enrol_at_once_with_one_code(
    live_server: str, tenant: Tenant, pg: Engine
) -> None:
    code = _setup(live_server, tenant)
    requests = [
        ("/v1/members", {"external_id": f"f{i}", "referral": {"code": code}}) for i in range(10)
    ]
    responses = _post_at_once(live_server, requests, tenant)
    assert [response.status_code for response in responses] == [201] * 10
    stats = httpx.get(f"{live_server}/v1/referrals/stats", headers=tenant.headers).json()
    assert (stats["enrolled"], stats["pending"], stats["friends_rewarded"]) == (10, 10, 10)
    assert [_available(live_server, tenant, f"f{i}") for i in range(10)] == [500] * 10
    assert_ledger_ok(pg)


@pytest.mark.postgres_only
def test_velocity_holds_when_friends_enrol_at_once(
    live_server: str, tenant: Tenant, pg: Engine
) -> None:
    # given a velocity limit of 3 friends a day
    code = _setup(live_server, tenant)
    policy = POLICY | {"checks": {"velocity_per_day": 3}}
    put = httpx.put(
        f"{live_server}/v1/program/referral-policy", json=policy, headers=tenant.headers
    )
    assert put.status_code == 200, put.text
    # when 8 friends enrol with the code at the same moment
    requests = [
        ("/v1/members", {"external_id": f"f{i}", "referral": {"code": code}}) for i in range(8)
    ]
    responses = _post_at_once(live_server, requests, tenant)
    # then all enrol, exactly 3 are rewarded at once and the other 5 are held for review
    assert [response.status_code for response in responses] == [201] * 8
    stats = httpx.get(f"{live_server}/v1/referrals/stats", headers=tenant.headers).json()
    assert (stats["enrolled"], stats["held"], stats["friends_rewarded"]) == (8, 5, 3)
    assert_ledger_ok(pg)
