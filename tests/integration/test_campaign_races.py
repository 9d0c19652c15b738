"""Campaigns under concurrency: runs of one campaign racing for its capacity, jobs racing
with themselves, first orders racing to enrol a customer with a welcome offer. On
PostgreSQL these exercise the campaign row lock and the grants' unique key; on SQLite, the
serialised write transactions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from sqlalchemy import Engine, text

from patron.worker.jobs import run_job
from tests.conftest import Tenant
from tests.helpers import assert_ledger_ok, money, order, utc


def _post(base: str, url: str, body: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = httpx.post(f"{base}{url}", json=body, headers=headers, timeout=60)
    assert response.status_code in {200, 201}, response.text
    return dict(response.json())


def _grants(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT member_id, key FROM campaign_grants ORDER BY 1"))
        return [(int(member_id), str(key)) for member_id, key in rows]


def test_eight_runs_at_once_never_pass_the_capacity(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given 10 members and an appreciation gift for the first 3
    headers = tenant.headers
    for index in range(10):
        _post(live_server, "/v1/members", {"external_id": f"m{index}"}, headers)
    body = {"name": "$1 off", "code": "gala", "points_cost": 100, "value": money(100)}
    _post(live_server, "/v1/rewards", body, headers)
    spec = {"code": "gala", "name": "Gala", "kind": "appreciation", "capacity": 3}
    _post(live_server, "/v1/campaigns", spec | {"offer": {"reward": "gala"}}, headers)
    # when the campaign is run 8 times at once
    url = f"{live_server}/v1/campaigns/gala/run"
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(httpx.post, url, headers=headers, timeout=60) for _ in range(8)]
        results = [future.result() for future in futures]
    # then 3 members are invited in all, the first 3 enrolled, once each
    assert {response.status_code for response in results} == {200}
    assert sum(response.json()["members"] for response in results) == 3
    assert _grants(engine) == [(1, "invite"), (2, "invite"), (3, "invite")]
    assert_ledger_ok(engine)


def test_jobs_racing_for_one_day_grant_each_birthday_once(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given 5 members born on 15 March and a birthday campaign of 10 points on the day
    headers = tenant.headers
    for index in range(5):
        _post(
            live_server,
            "/v1/members",
            {"external_id": f"b{index}", "birthday": "1990-03-15"},
            headers,
        )
    spec = {"code": "bday", "name": "B", "kind": "birthday", "timing": "day"}
    _post(live_server, "/v1/campaigns", spec | {"offer": {"points": 10}}, headers)
    # when 4 workers run the job at once on the 15th, then on the 16th (a catch-up day)
    for at in (utc(2026, 3, 15, 9, 0), utc(2026, 3, 16, 9, 0)):
        with ThreadPoolExecutor(max_workers=4) as pool:
            runs = [
                run
                for f in [pool.submit(run_job, engine, "campaigns", at) for _ in range(4)]
                for run in f.result()
            ]
        assert sum(run.ran for run in runs) == 1
    # then each member got 10 points, once
    assert _grants(engine) == [(index, "2026") for index in range(1, 6)]
    member = httpx.get(f"{live_server}/v1/members/b0", headers=headers).json()
    assert member["balance"]["available"] == 10
    assert_ledger_ok(engine)


def test_first_orders_racing_to_enrol_give_one_welcome(
    live_server: str, tenant: Tenant, engine: Engine
) -> None:
    # given a welcome offer of 25 points
    headers = tenant.headers
    spec = {"code": "hello", "name": "Hello", "kind": "welcome", "offer": {"points": 25}}
    _post(live_server, "/v1/campaigns", spec, headers)
    # when 6 first orders of the same new customer arrive at once
    url = f"{live_server}/v1/orders"
    bodies = [order(f"w-{index}", "newcomer", lines=[(1, 1_000)]) for index in range(6)]
    with ThreadPoolExecutor(max_workers=6) as pool:
        futures = [
            pool.submit(httpx.post, url, json=b, headers=headers, timeout=60) for b in bodies
        ]
        assert {future.result().status_code for future in futures} == {201}
    # then it is enrolled once, welcomed once: 6 x 10 points of orders and 25 of welcome
    assert _grants(engine) == [(1, "welcome")]
    member = httpx.get(f"{live_server}/v1/members/newcomer", headers=headers).json()
    assert member["balance"]["available"] == 60 + 25
    assert_ledger_ok(engine)
