"""Scheduled jobs: release of pending points, one run per program and period (a second run
is skipped and writes nothing, a failed run is retried, a late run catches up), workers
racing each other and member writes on PostgreSQL, and the `patron jobs` / `patron
worker` commands. After every job run the ledger must verify.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, func, select

from patron.db.tables import job_runs, ledger_transactions, lots, member_balances, members, outbox
from patron.domain.errors import NotFound
from patron.worker import jobs
from patron.worker.jobs import run_all, run_job
from tests.conftest import START, Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, refund, run_one_job, utc

TAIPEI = "Asia/Taipei"
NEW_YORK = "America/New_York"
#: 2026-04-01 00:30 in Taipei; with 12-month expiry the points go at TAIPEI_EXPIRY.
EARNED = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
TAIPEI_EXPIRY = datetime(2027, 4, 1, 16, 0, tzinfo=UTC)  # 2027-04-02 00:00 +08
FIXED = {"kind": "fixed", "months": 12}
NOTHING = {"members": 0, "lots": 0, "points": 0}
SECOND = timedelta(seconds=1)
PATRON = [sys.executable, "-m", "patron.cli"]


# -- helpers -----------------------------------------------------------------------------


def _earn(
    client: TestClient,
    tenant: Tenant,
    clock: Clock,
    order_id: str,
    customer: str,
    points: int,
    at: datetime,
) -> dict[str, Any]:
    clock.now = at
    body = order(order_id, customer, lines=[(1, points * 100)], occurred_at=at)
    response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["points"] == points
    return dict(response.json())


def _stored(engine: Engine, customer: str) -> dict[str, int]:
    """The member's balance row as stored (the API shows matured pending points as
    available before anything released them; this shows what was written)."""
    query = (
        select(
            member_balances.c.available,
            member_balances.c.pending,
            member_balances.c.debt,
            member_balances.c.lifetime_earned,
        )
        .join(members, members.c.id == member_balances.c.member_id)
        .where(members.c.external_id == customer)
    )
    with engine.connect() as connection:
        return dict(connection.execute(query).one()._mapping)


def _ledger(client: TestClient, tenant: Tenant, customer: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/members/{customer}/ledger", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _member_id(engine: Engine, customer: str) -> int:
    with engine.connect() as connection:
        query = select(members.c.id).where(members.c.external_id == customer)
        return int(connection.execute(query).scalar_one())


def _reward(client: TestClient, tenant: Tenant, points: int) -> str:
    response = client.post(
        "/v1/rewards",
        json={"name": f"{points} off", "points_cost": points, "value": money(points)},
        headers=tenant.headers,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _outbox(engine: Engine, type_: str) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).where(outbox.c.type == type_).order_by(outbox.c.id)
    with engine.connect() as connection:
        return [dict(row.payload) for row in connection.execute(query)]


def _count(engine: Engine, table: Any, *where: Any) -> int:
    query = select(func.count()).select_from(table).where(*where)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _expiring_tenant(engine: Engine, expiry: dict[str, Any] = FIXED, **program: Any) -> Tenant:
    """A Taipei program with a fixed 12-month expiry (by default)."""
    return make_tenant(engine, "shop", time_zone=TAIPEI, expiry=expiry, **program)


# -- release -----------------------------------------------------------------------------


def test_release_moves_pending_points_to_available_when_the_window_ends(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a 14-day return window; "a" earns 100 points at START, "b" 30 a day later
    tenant = make_tenant(engine, "shop", pending_days=14)
    _earn(client, tenant, clock, "o1", "a", 100, START)
    _earn(client, tenant, clock, "o2", "b", 30, START + timedelta(days=1))
    # when the release job runs one second before a's window ends, nothing moves
    assert run_one_job(engine, "release", START + timedelta(days=14) - SECOND).result == NOTHING
    assert _stored(engine, "a") == {
        "available": 0,
        "pending": 100,
        "debt": 0,
        "lifetime_earned": 100,
    }
    # when it runs as the window ends
    run = run_one_job(engine, "release", START + timedelta(days=14))
    # then exactly a's 100 points move from pending to available; b's stay pending
    assert run.ran and run.result == {"members": 1, "lots": 1, "points": 100}
    assert _stored(engine, "a") == {
        "available": 100,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    assert _stored(engine, "b") == {"available": 0, "pending": 30, "debt": 0, "lifetime_earned": 30}
    with engine.connect() as connection:
        state = connection.execute(select(lots.c.state).order_by(lots.c.id)).scalars().all()
    assert state == ["available", "pending"]
    # and the member's ledger shows a release transaction (net zero for the member)
    clock.now = START + timedelta(days=1)  # the API's clock is not what released them
    ledger = _ledger(client, tenant, "a")
    assert [tx["kind"] for tx in ledger] == ["release", "earn"]
    member_id = _member_id(engine, "a")
    lot_id = ledger[1]["entries"][0]["lot_id"]
    assert ledger[0]["points"] == 0
    assert ledger[0]["entries"] == [
        {"account": f"member:{member_id}:pending", "amount": -100, "lot_id": lot_id},
        {"account": f"member:{member_id}:available", "amount": 100, "lot_id": lot_id},
    ]
    assert _outbox(engine, "points.released") == [
        {"customer_id": "a", "points": 100, "transaction_id": ledger[0]["id"]}
    ]
    # b's points are released by the next hour's run after its window
    later = run_one_job(engine, "release", START + timedelta(days=15))
    assert later.result == {"members": 1, "lots": 1, "points": 30}
    assert _stored(engine, "b") == {"available": 30, "pending": 0, "debt": 0, "lifetime_earned": 30}


def test_a_refund_inside_the_window_cancels_what_it_refunds_before_release(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given pending orders: "a" 60 + 40 points on two lines, "b" 50 points
    tenant = make_tenant(engine, "shop", pending_days=14)
    clock.now = START
    body = order("o1", "a", lines=[(1, 6_000), (1, 4_000)], occurred_at=START)
    assert client.post("/v1/orders", json=body, headers=tenant.headers).json()["points"] == 100
    _earn(client, tenant, clock, "o2", "b", 50, START)
    # when, three days later, a's second line and b's whole order are refunded
    clock.now = START + timedelta(days=3)
    for refund_body in (
        refund("r1", "o1", lines=[("L1", 1)], occurred_at=clock.now),
        refund("r2", "o2", lines=[("L0", 1)], occurred_at=clock.now),
    ):
        response = client.post("/v1/refunds", json=refund_body, headers=tenant.headers)
        assert response.status_code == 201, response.text
    assert _stored(engine, "a")["pending"] == 60
    assert _stored(engine, "b")["pending"] == 0
    # then the release at the end of the window moves only what is left: 60 points of a
    run = run_one_job(engine, "release", START + timedelta(days=14))
    assert run.result["points"] == 60
    assert _stored(engine, "a") == {
        "available": 60,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    assert _stored(engine, "b") == {"available": 0, "pending": 0, "debt": 0, "lifetime_earned": 50}
    assert [tx["kind"] for tx in _ledger(client, tenant, "a")] == ["release", "reverse", "earn"]
    assert [tx["kind"] for tx in _ledger(client, tenant, "b")] == ["reverse", "earn"]
    assert [p["customer_id"] for p in _outbox(engine, "points.released")] == ["a"]


def _member_with_debt_and_pending_points(client: TestClient, tenant: Tenant, clock: Clock) -> None:
    """Member "d": 100 points earned, released and spent, then clawed back by a refund
    (debt 100), then 30 new points pending until START + 29 days. Member "e": 50 pending
    points, no debt, released at the same instant."""
    _earn(client, tenant, clock, "o1", "d", 100, START)
    clock.now = START + timedelta(days=14)
    reward = _reward(client, tenant, 100)
    redeemed = client.post(
        "/v1/members/d/redemptions", json={"reward_id": reward}, headers=tenant.headers
    )
    assert redeemed.status_code == 201, redeemed.text
    clock.now = START + timedelta(days=15)
    clawback = client.post(
        "/v1/refunds",
        json=refund("r1", "o1", lines=[("L0", 1)], occurred_at=clock.now),
        headers=tenant.headers,
    )
    assert clawback.json()["debt_created"] == 100, clawback.text
    _earn(client, tenant, clock, "o2", "d", 30, START + timedelta(days=15))
    _earn(client, tenant, clock, "o3", "e", 50, START + timedelta(days=15))


def test_released_points_pay_off_debt_first(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = make_tenant(engine, "shop", pending_days=14)  # refunds claw back (default)
    _member_with_debt_and_pending_points(client, tenant, clock)
    assert _stored(engine, "d") == {
        "available": 0,
        "pending": 30,
        "debt": 100,
        "lifetime_earned": 130,
    }
    # when the release job runs as the 30 points' window ends
    run_one_job(engine, "release", START + timedelta(days=29))
    # then they pay 30 of the debt; e's points become available
    assert _stored(engine, "d") == {
        "available": 0,
        "pending": 0,
        "debt": 70,
        "lifetime_earned": 130,
    }
    assert _stored(engine, "e") == {"available": 50, "pending": 0, "debt": 0, "lifetime_earned": 50}
    ledger = _ledger(client, tenant, "d")
    assert ledger[0]["kind"] == "release"
    member_id = _member_id(engine, "d")
    available = f"member:{member_id}:available"
    assert sorted(
        (e["account"], e["amount"], e["lot_id"] is None) for e in ledger[0]["entries"]
    ) == sorted(
        [
            (f"member:{member_id}:pending", -30, False),
            (available, 30, False),
            (available, -30, False),  # taken off the released lot...
            (available, 30, True),  # ...to pay the debt (a lot-less posting)
        ]
    )
    clock.now = START + timedelta(days=29)
    balance = client.get("/v1/members/d", headers=tenant.headers).json()["balance"]
    assert balance == {"available": 0, "pending": 0, "debt": 70, "lifetime_earned": 130}


def test_a_release_that_pays_debt_is_counted_and_announced(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = make_tenant(engine, "shop", pending_days=14)
    _member_with_debt_and_pending_points(client, tenant, clock)
    run = run_one_job(engine, "release", START + timedelta(days=29))
    assert run.result == {"members": 2, "lots": 2, "points": 80}
    released = sorted(p["customer_id"] for p in _outbox(engine, "points.released"))
    assert released == ["d", "e"]


def test_a_release_catches_up_on_windows_that_ended_days_ago(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = make_tenant(engine, "shop", pending_days=14)
    for day in range(3):
        _earn(
            client, tenant, clock, f"o{day}", f"c{day}", 10 * (day + 1), START + timedelta(days=day)
        )
    # the first run, 40 days later, releases the three lots whose windows ended long ago
    run = run_one_job(engine, "release", START + timedelta(days=40))
    assert run.result == {"members": 3, "lots": 3, "points": 60}
    assert [_stored(engine, f"c{day}")["available"] for day in range(3)] == [10, 20, 30]
    assert run_one_job(engine, "release", START + timedelta(days=41)).result == NOTHING


# -- one run per program and period ------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "at", "later", "result"),
    [
        pytest.param(
            "release",
            EARNED + timedelta(days=14),
            EARNED + timedelta(days=14, minutes=29),  # same hour
            {"members": 1, "lots": 1, "points": 100},
            id="release",
        ),
        pytest.param(
            "expire",
            TAIPEI_EXPIRY,
            TAIPEI_EXPIRY + timedelta(hours=15),  # same local day (15:00 in Taipei)
            {"members": 1, "lots": 1, "points": 100},
            id="expire",
        ),
        pytest.param(
            "remind",
            TAIPEI_EXPIRY - timedelta(days=30),
            TAIPEI_EXPIRY - timedelta(days=30) + timedelta(hours=23, minutes=59),
            {"members": 1, "lots": 1},
            id="remind",
        ),
    ],
)
def test_a_second_run_for_the_same_period_is_skipped_and_writes_nothing(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    name: str,
    at: datetime,
    later: datetime,
    result: dict[str, int],
) -> None:
    # given 100 pending points (14-day window) expiring after 12 months, reminded 30 days before
    tenant = _expiring_tenant(engine, pending_days=14, expiry={**FIXED, "remind_days": [30]})
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    if name == "expire":
        run_one_job(engine, "release", EARNED + timedelta(days=14))
    # when the job runs
    first = run_one_job(engine, name, at)
    assert first.ran and first.result == result
    with engine.connect() as connection:
        recorded = connection.execute(
            select(job_runs.c.period, job_runs.c.started_at, job_runs.c.result).where(
                job_runs.c.job == name
            )
        ).one()
    assert (recorded.period, recorded.started_at, recorded.result) == (
        first.period,
        at,
        result,
    )
    rows = count_rows(engine)
    # then running it again for the same instant, or later in the same period, is skipped
    for instant in (at, later):
        again = run_one_job(engine, name, instant)
        assert (again.ran, again.period, again.result) == (False, first.period, {})
        assert count_rows(engine) == rows


def test_the_period_is_the_local_day_of_each_program(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a Taipei program and a New York one (a second program of the same tenant)
    tenant = make_tenant(engine, "shop", time_zone=TAIPEI)
    created = client.post(
        "/v1/programs",
        json={"code": "ny", "name": "NY", "currency": "USD", "time_zone": NEW_YORK},
        headers=tenant.headers,
    )
    assert created.status_code == 201, created.text

    def periods(at: datetime) -> dict[str, tuple[str, bool]]:
        runs = run_job(engine, "remind", at)
        assert_ledger_ok(engine)
        return {run.program: (run.period, run.ran) for run in runs}

    # 2027-04-01T15:00Z is 23:00 on 04-01 in Taipei and 11:00 on 04-01 in New York
    assert periods(utc(2027, 4, 1, 15)) == {
        "main": ("2027-04-01", True),
        "ny": ("2027-04-01", True),
    }
    # an hour later Taipei is on 04-02 (a new period), New York still on 04-01 (skipped)
    assert periods(utc(2027, 4, 1, 16)) == {
        "main": ("2027-04-02", True),
        "ny": ("2027-04-01", False),
    }
    # New York's 04-02 begins at 04:00Z
    assert periods(utc(2027, 4, 2, 3, 59)) == {
        "main": ("2027-04-02", False),
        "ny": ("2027-04-01", False),
    }
    assert periods(utc(2027, 4, 2, 4)) == {
        "main": ("2027-04-02", False),
        "ny": ("2027-04-02", True),
    }


def test_a_run_after_downtime_expires_everything_due_since(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given lots that expired on 2027-04-02, 04-04 and 04-06 (Taipei), and one that has not
    tenant = _expiring_tenant(engine)
    _earn(client, tenant, clock, "o1", "a", 10, utc(2026, 4, 1, 4))
    _earn(client, tenant, clock, "o2", "b", 20, utc(2026, 4, 3, 4))
    _earn(client, tenant, clock, "o3", "b", 30, utc(2026, 4, 5, 4))
    _earn(client, tenant, clock, "o4", "c", 40, utc(2026, 4, 20, 4))
    # when no expiry job ran for a week, the first run takes everything due by then
    run = run_one_job(engine, "expire", utc(2027, 4, 8, 1))
    assert run.result == {"members": 2, "lots": 3, "points": 60}
    assert [_stored(engine, c)["available"] for c in "abc"] == [0, 0, 40]
    # one transaction per member, whatever the number of its lots
    assert _count(engine, ledger_transactions, ledger_transactions.c.kind == "expire") == 2
    # and the next day's run finds nothing more
    assert run_one_job(engine, "expire", utc(2027, 4, 9, 1)).result == NOTHING


def test_a_failed_run_is_rolled_back_with_its_claim_and_retried(
    client: TestClient, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a lot to remind of, and a remind job that fails after doing its work
    tenant = _expiring_tenant(engine, expiry={**FIXED, "remind_days": [30]})
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    job = jobs.JOBS["remind"]

    def failing(*args: Any) -> dict[str, Any]:
        job.step(*args)
        raise RuntimeError("worker lost")

    monkeypatch.setitem(jobs.JOBS, "remind", replace(job, step=failing))
    rows = count_rows(engine)
    at = TAIPEI_EXPIRY - timedelta(days=30)
    with pytest.raises(RuntimeError, match="worker lost"):
        run_job(engine, "remind", at)
    # then neither the claim nor the work was kept
    assert count_rows(engine) == rows
    assert_ledger_ok(engine)
    # and the next run of the same period does the work, once
    monkeypatch.setitem(jobs.JOBS, "remind", job)
    retried = run_one_job(engine, "remind", at + timedelta(hours=1))
    assert retried.ran and retried.result == {"members": 1, "lots": 1}
    assert len(_outbox(engine, "points.expiring")) == 1


def test_an_unknown_job_is_refused(engine: Engine) -> None:
    with pytest.raises(NotFound, match=r"no job 'nope'; jobs: .*expire.*release.*remind"):
        run_job(engine, "nope", START)


def test_a_program_without_anything_due_runs_every_job_and_writes_only_the_runs(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = _expiring_tenant(engine, pending_days=14)
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    rows = count_rows(engine)
    runs = run_all(engine, EARNED + timedelta(days=1))
    assert_ledger_ok(engine)
    points_jobs = [run.job for run in runs if run.job in {"release", "expire", "remind"}]
    assert points_jobs == ["release", "expire", "remind"]
    assert all(run.ran for run in runs)
    assert count_rows(engine) == {**rows, "job_runs": len(runs)}
    assert _stored(engine, "c1") == {
        "available": 0,
        "pending": 100,
        "debt": 0,
        "lifetime_earned": 100,
    }


# -- races (PostgreSQL row locks) --------------------------------------------------------


def _many_members(client: TestClient, tenant: Tenant, clock: Clock, count: int) -> None:
    """`count` members "m0".. with 100 points each, all earned at EARNED (one batch)."""
    clock.now = EARNED
    batch = {
        "orders": [
            order(f"o{i}", f"m{i}", lines=[(1, 10_000)], occurred_at=EARNED) for i in range(count)
        ]
    }
    response = client.post("/v1/orders/batch", json=batch, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == count


def _at_once(count: int, task: Callable[[], Any]) -> list[Any]:
    """Run `task` in `count` threads released together."""
    barrier = threading.Barrier(count)

    def go() -> Any:
        barrier.wait(timeout=30)
        return task()

    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = [pool.submit(go) for _ in range(count)]
        return [future.result(timeout=120) for future in futures]


@pytest.mark.postgres_only
def test_two_workers_expiring_the_same_day_at_once_expire_once(
    client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given 300 members whose 100 points each expire at the same instant
    tenant = _expiring_tenant(pg)
    _many_members(client, tenant, clock, 300)
    # when two workers run the expiry job for that instant at the same moment
    results = _at_once(2, lambda: run_job(pg, "expire", TAIPEI_EXPIRY))
    # then one runs, the other waits for its claim and skips, and the points expire once
    runs = [run for result in results for run in result]
    assert sorted(run.ran for run in runs) == [False, True]
    winner = next(run for run in runs if run.ran)
    assert winner.result == {"members": 300, "lots": 300, "points": 30_000}
    assert _count(pg, ledger_transactions, ledger_transactions.c.kind == "expire") == 300
    assert len(_outbox(pg, "points.expired")) == 300
    assert _count(pg, job_runs, job_runs.c.job == "expire") == 1
    with pg.connect() as connection:
        left = connection.execute(select(func.sum(member_balances.c.available))).scalar_one()
    assert left == 0
    assert_ledger_ok(pg)


@pytest.mark.postgres_only
def test_four_workers_running_every_job_at_once_run_each_once(
    client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given 200 members with pending points (14 days) expiring after 12 months
    tenant = _expiring_tenant(pg, pending_days=14)
    _many_members(client, tenant, clock, 200)
    # when four workers start a round at the expiry instant together
    results = _at_once(4, lambda: run_all(pg, TAIPEI_EXPIRY))
    # then each job ran once: release, then expiry, of the 200 lots
    ran = [run for result in results for run in result if run.ran]
    assert sorted(run.job for run in ran) == sorted(jobs.JOBS)
    by_job = {run.job: run.result for run in ran}
    assert by_job["release"] == {"members": 200, "lots": 200, "points": 20_000}
    assert by_job["expire"] == {"members": 200, "lots": 200, "points": 20_000}
    assert_ledger_ok(pg)


@pytest.mark.postgres_only
def test_member_writes_racing_the_expiry_job_neither_deadlock_nor_corrupt(
    live_server: str, client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given 200 members with 100 points expiring now and 50 that expire a month later
    members_count = 200
    tenant = _expiring_tenant(pg)
    _many_members(client, tenant, clock, members_count)
    clock.now = EARNED + timedelta(days=31)
    later = {
        "orders": [
            order(f"p{i}", f"m{i}", lines=[(1, 5_000)], occurred_at=clock.now)
            for i in range(members_count)
        ]
    }
    assert client.post("/v1/orders/batch", json=later, headers=tenant.headers).status_code == 200
    reward = _reward(client, tenant, 120)
    clock.now = TAIPEI_EXPIRY - timedelta(minutes=1)  # requests in flight at midnight
    headers = tenant.headers

    def redeem(i: int) -> httpx.Response:
        return httpx.post(
            f"{live_server}/v1/members/m{i}/redemptions",
            json={"reward_id": reward},
            headers=headers,
            timeout=60,
        )

    def earn(i: int) -> httpx.Response:
        # a batch of 10 new orders, locking 10 balances in member order
        batch = [
            order(f"n{i}-{j}", f"m{i * 10 + j}", lines=[(1, 1_000)], occurred_at=clock.now)
            for j in range(10)
        ]
        return httpx.post(
            f"{live_server}/v1/orders/batch", json={"orders": batch}, headers=headers, timeout=60
        )

    # when redemptions of 120 points (more than either lot alone) and new orders race the
    # expiry job of the instant the 100 points expire
    with ThreadPoolExecutor(max_workers=10) as pool, ThreadPoolExecutor(1) as worker:
        redemptions, batches = [], []
        for i in range(members_count):
            redemptions.append(pool.submit(redeem, i))
            if i % 10 == 0:
                batches.append(pool.submit(earn, i // 10))
        while sum(future.done() for future in redemptions) < 20:
            threading.Event().wait(0.005)
        job = worker.submit(run_job, pg, "expire", TAIPEI_EXPIRY)
        (run,) = job.result(timeout=120)
        responses = [future.result(timeout=120) for future in redemptions + batches]
    # then nothing deadlocked or failed: a redemption either won (its 120 points came from
    # the expiring lot first) or found only 50 + 10 new points left after the expiry
    redemptions, batches = responses[:members_count], responses[members_count:]
    assert {r.status_code for r in batches} == {200}, [r.text for r in batches]
    codes = [r.status_code for r in redemptions]
    assert set(codes) <= {201, 422}, [r.text for r in redemptions if r.status_code >= 500]
    assert all(
        r.json()["code"] == "insufficient-points" for r in redemptions if r.status_code == 422
    )
    redeemed = codes.count(201)
    # every member either redeemed (and its expiring lot was spent) or lost the 100 points
    assert run.ran
    assert run.result["members"] == members_count - redeemed
    assert run.result["points"] == 100 * (members_count - redeemed)
    with pg.connect() as connection:
        left = connection.execute(select(func.sum(member_balances.c.available))).scalar_one()
    earned_total = members_count * 150 + 20 * 10 * 10
    assert left == earned_total - 120 * redeemed - 100 * (members_count - redeemed)
    assert_ledger_ok(pg)


class _MemberWrites:
    """Member writes POSTed from other threads while a job's statement is held up."""

    def __init__(self, base: str, headers: dict[str, str]) -> None:
        self._base = base
        self._headers = headers
        self._threads: list[threading.Thread] = []
        self._responses: list[httpx.Response] = []

    def post(self, path: str, body: dict[str, Any] | None) -> None:
        """POST and wait for the answer, 3 s at most: a job holding the member's lock
        makes the write wait for its commit; the write then finishes afterwards."""

        def send() -> None:
            url = f"{self._base}{path}"
            response = httpx.post(url, json=body, headers=self._headers, timeout=60)
            self._responses.append(response)

        thread = threading.Thread(target=send)
        thread.start()
        self._threads.append(thread)
        thread.join(timeout=3)

    def statuses(self) -> list[int]:
        for thread in self._threads:
            thread.join(timeout=60)
        return [response.status_code for response in self._responses]

    def texts(self) -> list[str]:
        return [response.text for response in self._responses]


@contextmanager
def _around(
    engine: Engine, starts: str, before: Callable[[], None], after: Callable[[], None]
) -> Iterator[None]:
    """Call `before` just before, and `after` just after, the first statement starting with
    `starts` that this thread runs (other threads' statements are left alone)."""
    thread = threading.get_ident()
    state = {"seen": False, "pending_after": False}

    def before_execute(*args: Any) -> None:
        statement = args[2]
        if threading.get_ident() == thread and not state["seen"] and statement.startswith(starts):
            state["seen"] = state["pending_after"] = True
            before()

    def after_execute(*args: Any) -> None:
        if threading.get_ident() == thread and state["pending_after"]:
            state["pending_after"] = False
            after()

    event.listen(engine, "before_cursor_execute", before_execute)
    event.listen(engine, "after_cursor_execute", after_execute)
    try:
        yield
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)
        event.remove(engine, "after_cursor_execute", after_execute)
    assert state["seen"], f"no statement starting with {starts!r} ran"


@pytest.mark.postgres_only
def test_points_restored_and_spent_again_while_the_expiry_job_runs_expire_once(
    live_server: str, client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given "x" with 100 points expiring at TAIPEI_EXPIRY, 200 expiring a month later, and
    # a redemption that spent the 100 expiring ones (so nothing of x is due)
    tenant = _expiring_tenant(pg)
    _earn(client, tenant, clock, "o1", "x", 100, EARNED)
    _earn(client, tenant, clock, "o2", "x", 200, EARNED + timedelta(days=31))
    reward = _reward(client, tenant, 100)
    first = client.post(
        "/v1/members/x/redemptions", json={"reward_id": reward}, headers=tenant.headers
    )
    assert first.status_code == 201, first.text
    clock.now = TAIPEI_EXPIRY - timedelta(minutes=1)
    writes = _MemberWrites(live_server, tenant.headers)

    # when, after the job has locked the balances of members with due lots, x cancels the
    # redemption (its 100 points go back to the expiring lot), and after the job has
    # selected the due lots x spends 100 points again (the expiring lot goes first)
    with _around(
        pg,
        "INSERT INTO moving",
        before=lambda: writes.post(f"/v1/redemptions/{first.json()['id']}/cancel", None),
        after=lambda: writes.post("/v1/members/x/redemptions", {"reward_id": reward}),
    ):
        (run,) = run_job(pg, "expire", TAIPEI_EXPIRY)
    assert writes.statuses() == [200, 201], writes.texts()
    # then x has exactly its 200 later points: the 100 restored were spent, not expired too
    assert run.ran
    assert_ledger_ok(pg)
    assert _stored(pg, "x")["available"] == 200


@pytest.mark.postgres_only
def test_a_member_write_while_the_release_job_runs_does_not_release_twice(
    live_server: str, client: TestClient, pg: Engine, clock: Clock
) -> None:
    # given y's 100 points, pending until START + 14 days, matured but not yet released
    tenant = make_tenant(pg, "shop", pending_days=14)
    _earn(client, tenant, clock, "o1", "y", 100, START)
    at = START + timedelta(days=14, hours=1)
    clock.now = at
    writes = _MemberWrites(live_server, tenant.headers)
    # when, just after the release job has selected y's lot, a write for y (an adjustment:
    # opening y's ledger releases matured lots first) runs
    with _around(
        pg,
        "INSERT INTO moving",
        before=lambda: None,
        after=lambda: writes.post("/v1/members/y/adjustments", {"points": 5, "reason": "thanks"}),
    ):
        (run,) = run_job(pg, "release", at)
    assert writes.statuses() == [201], writes.texts()
    # then the lot is released once, by whichever came first
    assert run.ran
    assert_ledger_ok(pg)
    assert _stored(pg, "y") == {"available": 105, "pending": 0, "debt": 0, "lifetime_earned": 100}
    kinds = [tx["kind"] for tx in _ledger(client, tenant, "y")]
    assert sorted(kinds) == ["adjust", "earn", "release"]


# -- the command line --------------------------------------------------------------------


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATRON_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run([*PATRON, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_cli_runs_a_job_as_of_an_instant_in_each_programs_time_zone(
    url: str, client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points earned at 2026-03-31T16:30Z in a Taipei program and a New York one
    for name, zone in (("tpe", TAIPEI), ("nyc", NEW_YORK)):
        tenant = make_tenant(engine, name, time_zone=zone, expiry=FIXED)
        _earn(client, tenant, clock, f"{name}-1", "c1", 100, EARNED)
    # when `patron jobs run expire --at 2027-04-02T00:00:00Z` runs (08:00 on 04-02 in
    # Taipei, 20:00 on 04-01 in New York: both lots expired, at 16:00Z and 04:00Z)
    result = _cli(url, "jobs", "run", "expire", "--at", "2027-04-02T00:00:00Z")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    expired = '{"members": 1, "lots": 1, "points": 100}'
    assert sorted(lines) == sorted(
        [f"expire main 2027-04-02: ran {expired}", f"expire main 2027-04-01: ran {expired}"]
    )
    with engine.connect() as connection:
        assert connection.execute(select(func.sum(member_balances.c.available))).scalar_one() == 0
    assert_ledger_ok(engine)
    # and again for the same instant: both skipped
    again = _cli(url, "jobs", "run", "expire", "--at", "2027-04-02T00:00:00Z")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("skipped (already ran)") == 2


def test_cli_runs_a_job_with_nothing_due(url: str, engine: Engine) -> None:
    make_tenant(engine, "shop", time_zone=TAIPEI, expiry=FIXED)
    result = _cli(url, "jobs", "run", "expire", "--at", "2027-04-02T00:00:00+08:00")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == (
        'expire main 2027-04-02: ran {"members": 0, "lots": 0, "points": 0}'
    )
    again = _cli(url, "jobs", "run", "expire", "--at", "2027-04-01T16:00:00Z")
    assert again.stdout.strip() == "expire main 2027-04-02: skipped (already ran) {}"
    assert_ledger_ok(engine)


def test_cli_refuses_an_unknown_job_and_a_bad_instant(url: str, engine: Engine) -> None:
    make_tenant(engine, "shop")
    unknown = _cli(url, "jobs", "run", "nope")
    assert unknown.returncode == 2
    assert "no job 'nope'; jobs: " in unknown.stdout
    assert all(name in unknown.stdout for name in ("expire", "release", "remind"))
    bad = _cli(url, "jobs", "run", "expire", "--at", "tomorrow")
    assert bad.returncode == 2
    assert "--at 'tomorrow' is not an RFC 3339 timestamp" in bad.stdout
    assert _count(engine, job_runs) == 0


def test_cli_lists_the_jobs_in_the_order_the_worker_runs_them(url: str) -> None:
    result = _cli(url, "jobs", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == list(jobs.JOBS)
    points = [line for line in lines if line.split(":")[0] in {"release", "expire", "remind"}]
    assert points == [
        "release: pending points whose window ended",
        "expire: points past their expiry",
        "remind: points.expiring reminders",
    ]


def test_cli_worker_once_runs_each_job_once_per_period(url: str, engine: Engine) -> None:
    make_tenant(engine, "shop", expiry=FIXED)
    first = _cli(url, "worker", "--once")
    assert first.returncode == 0, first.stdout + first.stderr
    ran = [line.split()[0] for line in first.stdout.strip().splitlines()]
    assert ran == list(jobs.JOBS)
    today = datetime.now(UTC).date().isoformat()
    assert f"expire main {today}: ran" in first.stdout
    assert_ledger_ok(engine)
    # a second round the same day runs neither the daily jobs nor (the same hour) release
    second = _cli(url, "worker", "--once")
    assert second.returncode == 0, second.stdout + second.stderr
    if datetime.now(UTC).date().isoformat() == today:
        assert "expire" not in second.stdout and "remind" not in second.stdout
    assert _count(engine, job_runs, job_runs.c.job == "expire") == 1


def test_cli_worker_once_expires_what_is_due_now(
    url: str, client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points earned 100 days ago under a 1-month expiry (so expired ~70 days ago)
    tenant = make_tenant(engine, "shop", expiry={"kind": "fixed", "months": 1})
    earned = datetime.now(UTC).replace(microsecond=0) - timedelta(days=100)
    _earn(client, tenant, clock, "o1", "c1", 100, earned)
    result = _cli(url, "worker", "--once")
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"points": 100' in next(
        line for line in result.stdout.splitlines() if line.startswith("expire main")
    )
    assert _stored(engine, "c1")["available"] == 0
    assert_ledger_ok(engine)
