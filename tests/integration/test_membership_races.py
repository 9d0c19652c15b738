"""Membership races on PostgreSQL: the same payment reported many times at once is recorded
once; two workers catching up on credits at once (runs of different hours, so both claim
their run) still credit each month once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from patron.db.tables import membership_credits, membership_payments
from patron.worker.jobs import run_job
from tests.conftest import START, Clock, Tenant, make_tenant
from tests.helpers import assert_ledger_ok, money

PLAN = {
    "code": "plus",
    "name": "Plus",
    "price": money(500),
    "period": "month",
    "perks": {"monthly_credit": money(1_000)},
}


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _subscribed(client: TestClient, tenant: Tenant, customers: list[str]) -> list[str]:
    assert client.post("/v1/membership-plans", json=PLAN, headers=tenant.headers).is_success
    ids = []
    for index, customer in enumerate(customers):
        client.post("/v1/members", json={"external_id": customer}, headers=tenant.headers)
        body = {"plan": "plus", "payment_reference": f"start-{index}"}
        started = client.post(
            f"/v1/members/{customer}/subscriptions", json=body, headers=tenant.headers
        )
        assert started.status_code == 201, started.text
        ids.append(started.json()["id"])
    return ids


@pytest.mark.postgres_only
def test_one_renewal_reported_eight_times_at_once_is_recorded_once(
    live_server: str, client: TestClient, pg: Engine, tenant: Tenant
) -> None:
    # given a subscription
    (sub,) = _subscribed(client, tenant, ["c1"])
    payments = _count(pg, membership_payments)
    # when the same renewal arrives 8 times at once, each with its own idempotency key
    url = f"{live_server}/v1/subscriptions/{sub}/renewals"

    def renew(index: int) -> httpx.Response:
        headers = {**tenant.headers, "Idempotency-Key": f"k{index}"}
        return httpx.post(url, json={"payment_reference": "pay-2"}, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(renew, range(8)))
    # then one is recorded, the 7 others are 409, and the period moved once
    assert sorted(r.status_code for r in responses) == [200] + [409] * 7
    assert _count(pg, membership_payments) == payments + 1
    got = client.get(f"/v1/subscriptions/{sub}", headers=tenant.headers).json()
    assert (got["period_start"], got["period_end"]) == (
        "2026-04-01T12:00:00Z",
        "2026-05-01T12:00:00Z",
    )


@pytest.mark.postgres_only
def test_two_workers_catching_up_at_once_credit_each_month_once(
    client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given 20 members on a monthly plan with a 10 credit, renewed for a year
    tenant = make_tenant(pg, "racers")
    customers = [f"m{i}" for i in range(20)]
    subs = _subscribed(client, tenant, customers)
    for month in range(1, 12):
        clock.now = START + timedelta(days=30 * month)
        for index, sub in enumerate(subs):
            body = {"payment_reference": f"r{month}-{index}"}
            renewed = client.post(
                f"/v1/subscriptions/{sub}/renewals", json=body, headers=tenant.headers
            )
            assert renewed.status_code == 200, renewed.text
    # when two workers, down all year, run the credits job at once for two different hours
    later = START + timedelta(days=365)

    def run(hours: int) -> Any:
        return run_job(pg, "membership_credits", later + timedelta(hours=hours))

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(run, (0, 1)))
    # then each of the 12 months is credited once to each member, whoever did it
    given = [run.result["monthly"] for result in results for run in result]
    assert sum(count for count, _ in given) == 20 * 12
    assert sum(amount for _, amount in given) == 20 * 12 * 1_000
    assert _count(pg, membership_credits) == 20 * 12
    member = client.get("/v1/members/m0", headers=tenant.headers).json()
    assert member["store_credit"]["available"] == 12_000
    assert_ledger_ok(pg)
