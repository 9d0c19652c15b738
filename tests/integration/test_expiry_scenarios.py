"""Points expiry end to end: programs set up and members served through the HTTP API, the
scheduled jobs run with an explicit instant (`run_job(engine, name, at)`).

Fixed expiry: a lot is valid through the whole local anniversary day of the day it was
earned, in the program's time zone, and expires when the next local day begins (optionally
rounded up to the end of a month, quarter or year). Activity expiry: the whole balance
expires `months` after the last earning. Reminders (`points.expiring`) go out once per lot
and lead time. After every job run the ledger must verify.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from patron.db.tables import expiry_reminders, job_runs, lots, members, outbox
from patron.worker.jobs import run_all
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, run_one_job, utc

TAIPEI = "Asia/Taipei"
NEW_YORK = "America/New_York"
#: 2026-04-01 00:30 in Taipei, 2026-03-31 12:30 in New York.
EARNED = datetime(2026, 3, 31, 16, 30, tzinfo=UTC)
#: A lot earned at EARNED with 12 months expires when 2027-04-02 begins in Taipei...
TAIPEI_EXPIRY = datetime(2027, 4, 1, 16, 0, tzinfo=UTC)
#: ...and when 2027-04-01 begins in New York (EDT, UTC-4).
NEW_YORK_EXPIRY = datetime(2027, 4, 1, 4, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)
NOTHING = {"members": 0, "lots": 0, "points": 0}


# -- helpers -----------------------------------------------------------------------------


def _tenant(
    client: TestClient, engine: Engine, zone: str, expiry: dict[str, Any], **program: Any
) -> Tenant:
    """A tenant whose program runs in `zone`; its expiry policy set through PATCH."""
    tenant = make_tenant(engine, "shop", time_zone=zone, **program)
    response = client.patch("/v1/program", json={"expiry": expiry}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    assert response.json()["expiry"]["kind"] == expiry["kind"]
    return tenant


def _fixed(months: int = 12, **fields: Any) -> dict[str, Any]:
    return {"kind": "fixed", "months": months, **fields}


def _earn(
    client: TestClient,
    tenant: Tenant,
    clock: Clock,
    order_id: str,
    customer: str,
    points: int,
    at: datetime,
) -> dict[str, Any]:
    """An order worth `points` points paid at `at` (the API's clock is moved there too)."""
    clock.now = at
    body = order(order_id, customer, lines=[(1, points * 100)], occurred_at=at)
    response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["points"] == points
    return dict(response.json())


def _balance(client: TestClient, tenant: Tenant, customer: str) -> dict[str, int]:
    response = client.get(f"/v1/members/{customer}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return dict(response.json()["balance"])


def _ledger(client: TestClient, tenant: Tenant, customer: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/members/{customer}/ledger", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return list(response.json()["data"])


def _redeem(client: TestClient, tenant: Tenant, customer: str, points: int) -> dict[str, Any]:
    reward = client.post(
        "/v1/rewards",
        json={"name": f"{points} points off", "points_cost": points, "value": money(points)},
        headers=tenant.headers,
    )
    assert reward.status_code == 201, reward.text
    redemption = client.post(
        f"/v1/members/{customer}/redemptions",
        json={"reward_id": reward.json()["id"]},
        headers=tenant.headers,
    )
    assert redemption.status_code == 201, redemption.text
    return dict(redemption.json())


def _lots(engine: Engine, customer: str) -> list[Any]:
    query = (
        select(lots.c.id, lots.c.amount, lots.c.remaining, lots.c.state, lots.c.expires_at)
        .join(members, members.c.id == lots.c.member_id)
        .where(members.c.external_id == customer)
        .order_by(lots.c.id)
    )
    with engine.connect() as connection:
        return list(connection.execute(query))


def _member_id(engine: Engine, customer: str) -> int:
    with engine.connect() as connection:
        query = select(members.c.id).where(members.c.external_id == customer)
        return int(connection.execute(query).scalar_one())


def _outbox(engine: Engine, type_: str) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).where(outbox.c.type == type_).order_by(outbox.c.id)
    with engine.connect() as connection:
        return [dict(row.payload) for row in connection.execute(query)]


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _kinds(client: TestClient, tenant: Tenant, customer: str) -> list[str]:
    return [tx["kind"] for tx in _ledger(client, tenant, customer)]


# -- fixed expiry ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "expires", "later_expires"),
    [
        # earned 2026-04-01 local: valid through 2027-04-01, gone when 2027-04-02 begins
        (TAIPEI, TAIPEI_EXPIRY, utc(2027, 4, 2, 16)),
        # earned 2026-03-31 local: valid through 2027-03-31, gone when 2027-04-01 begins
        (NEW_YORK, NEW_YORK_EXPIRY, utc(2027, 4, 2, 4)),
    ],
    ids=["taipei", "new_york"],
)
def test_a_lot_expires_when_the_local_day_after_its_anniversary_begins(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    zone: str,
    expires: datetime,
    later_expires: datetime,
) -> None:
    # given a fixed 12-month expiry, 100 points earned at 2026-03-31T16:30Z and 40 a day later
    tenant = _tenant(client, engine, zone, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    _earn(client, tenant, clock, "o2", "c1", 40, EARNED + timedelta(days=1))
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [expires, later_expires]
    clock.now = expires - SECOND  # reads are as of the API's clock
    before = _balance(client, tenant, "c1")
    assert before == {"available": 140, "pending": 0, "debt": 0, "lifetime_earned": 140}
    # when the expiry job runs one second before the first lot expires, nothing expires
    early = run_one_job(engine, "expire", expires - SECOND)
    assert early.ran and early.result == NOTHING
    assert _balance(client, tenant, "c1") == before
    assert "expire" not in _kinds(client, tenant, "c1")
    # a read at the instant the first lot expires leaves its points out, before any job
    clock.now = expires
    assert _balance(client, tenant, "c1")["available"] == 40
    # when the job runs at the very instant, the first lot's 100 points go, exactly
    run = run_one_job(engine, "expire", expires)
    assert run.ran and run.result == {"members": 1, "lots": 1, "points": 100}
    assert _balance(client, tenant, "c1") == {
        "available": 40,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 140,
    }
    first, second = _lots(engine, "c1")
    assert (first.remaining, second.remaining) == (0, 40)
    # then the ledger shows one expire transaction taking the points off that lot
    latest = _ledger(client, tenant, "c1")[0]
    assert latest["kind"] == "expire"
    assert latest["points"] == -100
    member_id = _member_id(engine, "c1")
    assert latest["entries"] == [
        {"account": f"member:{member_id}:available", "amount": -100, "lot_id": first.id}
    ]
    assert datetime.fromisoformat(latest["occurred_at"]) == expires
    assert _outbox(engine, "points.expired") == [
        {"customer_id": "c1", "points": 100, "transaction_id": latest["id"]}
    ]
    # and the second lot goes at its own instant (the next local day's run)
    clock.now = later_expires
    assert run_one_job(engine, "expire", later_expires).result == {
        "members": 1,
        "lots": 1,
        "points": 40,
    }
    assert _balance(client, tenant, "c1") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 140,
    }


def test_points_past_their_date_are_never_spent_even_before_the_job_runs(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points expiring at TAIPEI_EXPIRY and 40 earned a day later, and a 50-point
    # reward; the expire job has not run
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    _earn(client, tenant, clock, "o2", "c1", 40, EARNED + timedelta(days=1))
    body = {"name": "50", "points_cost": 50, "value": money(50)}
    reward = client.post("/v1/rewards", json=body, headers=tenant.headers).json()["id"]
    clock.now = TAIPEI_EXPIRY + SECOND
    # when the member tries to spend 50, only the 40 unexpired points count: 422, nothing
    before = count_rows(engine)
    redeem = {"reward_id": reward}
    refused = client.post("/v1/members/c1/redemptions", json=redeem, headers=tenant.headers)
    assert (refused.status_code, refused.json()["code"]) == (422, "insufficient-points")
    assert count_rows(engine) == before
    # when it earns 20 more and spends 50, the 100 expire first, then 40 + 10 are spent
    _earn(client, tenant, clock, "o3", "c1", 20, TAIPEI_EXPIRY + SECOND)
    clock.now = TAIPEI_EXPIRY + 2 * SECOND
    spent = client.post("/v1/members/c1/redemptions", json=redeem, headers=tenant.headers)
    assert spent.status_code == 201, spent.text
    assert _kinds(client, tenant, "c1")[:2] == ["redeem", "expire"]
    assert [lot.remaining for lot in _lots(engine, "c1")] == [0, 0, 10]
    assert _balance(client, tenant, "c1")["available"] == 10
    assert _outbox(engine, "points.expired")[0]["points"] == 100
    # and the job later finds nothing left to expire for it
    assert run_one_job(engine, "expire", TAIPEI_EXPIRY + 3 * SECOND).result == NOTHING
    assert_ledger_ok(engine)


def test_points_earned_just_before_local_midnight_count_on_that_local_day(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given Taipei points earned at 23:59 and at 00:00 local, one minute apart
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "late", 10, utc(2026, 3, 31, 15, 59))
    _earn(client, tenant, clock, "o2", "early", 20, utc(2026, 3, 31, 16, 0))
    # then they expire a whole day apart: 2027-04-01 and 2027-04-02 local midnight
    assert [lot.expires_at for lot in _lots(engine, "late")] == [utc(2027, 3, 31, 16)]
    assert [lot.expires_at for lot in _lots(engine, "early")] == [TAIPEI_EXPIRY]
    assert run_one_job(engine, "expire", utc(2027, 3, 31, 16)).result == {
        "members": 1,
        "lots": 1,
        "points": 10,
    }
    assert [lot.remaining for lot in _lots(engine, "early")] == [20]


def test_pending_points_expire_from_the_day_they_were_earned_not_released(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a 14-day return window and 12-month expiry in Taipei
    tenant = _tenant(client, engine, TAIPEI, _fixed(), pending_days=14)
    earned = _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    assert earned["points_status"] == "pending"
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [TAIPEI_EXPIRY]
    # when the window ends the release job makes them available
    released = run_one_job(engine, "release", EARNED + timedelta(days=14))
    assert released.result == {"members": 1, "lots": 1, "points": 100}
    # then they still expire on the anniversary of the day they were earned
    assert run_one_job(engine, "expire", TAIPEI_EXPIRY - SECOND).result == NOTHING
    run = run_one_job(engine, "expire", TAIPEI_EXPIRY)
    assert run.result == {"members": 1, "lots": 1, "points": 100}
    clock.now = TAIPEI_EXPIRY
    assert _balance(client, tenant, "c1") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    assert _kinds(client, tenant, "c1") == ["expire", "release", "earn"]


def test_one_round_of_every_job_releases_then_expires_what_was_never_released(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given pending points no job ever released (no member write either)
    tenant = _tenant(client, engine, TAIPEI, _fixed(), pending_days=14)
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    # when the worker's first round runs at their expiry instant
    runs = {run.job: run for run in run_all(engine, TAIPEI_EXPIRY)}
    assert_ledger_ok(engine)
    # then release runs before expiry: the points are released, then expired
    assert [job for job in runs if job in {"release", "expire", "remind"}] == [
        "release",
        "expire",
        "remind",
    ]
    assert runs["release"].result == {"members": 1, "lots": 1, "points": 100}
    assert runs["expire"].result == {"members": 1, "lots": 1, "points": 100}
    assert _kinds(client, tenant, "c1") == ["expire", "release", "earn"]
    assert _balance(client, tenant, "c1")["available"] == 0


def test_only_what_is_left_of_a_partly_spent_lot_expires(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points of which a reward spent 30
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    _redeem(client, tenant, "c1", 30)
    assert _balance(client, tenant, "c1")["available"] == 70
    # when the lot expires
    run = run_one_job(engine, "expire", TAIPEI_EXPIRY)
    # then the 70 left go, the 30 spent stay spent, and lifetime earned is unchanged
    assert run.result == {"members": 1, "lots": 1, "points": 70}
    assert _balance(client, tenant, "c1") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }
    ledger = _ledger(client, tenant, "c1")
    assert [(tx["kind"], tx["points"]) for tx in ledger] == [
        ("expire", -70),
        ("redeem", -30),
        ("earn", 100),
    ]
    assert [(lot.amount, lot.remaining) for lot in _lots(engine, "c1")] == [(100, 0)]


def test_a_fully_spent_lot_expires_nothing_and_writes_no_transaction(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    _redeem(client, tenant, "c1", 100)
    run = run_one_job(engine, "expire", TAIPEI_EXPIRY)
    assert run.result == NOTHING
    assert _kinds(client, tenant, "c1") == ["redeem", "earn"]
    assert _outbox(engine, "points.expired") == []


@pytest.mark.parametrize(
    ("zone", "round_to", "expires"),
    [
        # Taipei: earned 2026-04-01, last day 2027-04-01, rounded to the end of its period
        (TAIPEI, "month", utc(2027, 4, 30, 16)),  # 2027-05-01 00:00 +08
        (TAIPEI, "quarter", utc(2027, 6, 30, 16)),  # 2027-07-01 00:00 +08
        (TAIPEI, "year", utc(2027, 12, 31, 16)),  # 2028-01-01 00:00 +08
        # New York: earned 2026-03-31, last day 2027-03-31 already ends a month and a
        # quarter, so it is not rounded into the next one
        (NEW_YORK, "month", NEW_YORK_EXPIRY),  # 2027-04-01 00:00 -04
        (NEW_YORK, "quarter", NEW_YORK_EXPIRY),
        (NEW_YORK, "year", utc(2028, 1, 1, 5)),  # 2028-01-01 00:00 -05 (winter time)
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_rounded_expiry_waits_for_the_end_of_the_period(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    zone: str,
    round_to: str,
    expires: datetime,
) -> None:
    tenant = _tenant(client, engine, zone, _fixed(round_to=round_to))
    assert client.get("/v1/program", headers=tenant.headers).json()["expiry"] == {
        "kind": "fixed",
        "months": 12,
        "round_to": round_to,
        "remind_days": [],
    }
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [expires]
    assert run_one_job(engine, "expire", expires - SECOND).result == NOTHING
    assert [lot.remaining for lot in _lots(engine, "c1")] == [100]
    assert run_one_job(engine, "expire", expires).result == {"members": 1, "lots": 1, "points": 100}
    clock.now = expires
    assert _balance(client, tenant, "c1") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 100,
    }


def test_points_that_never_expire_stay(client: TestClient, engine: Engine, clock: Clock) -> None:
    tenant = _tenant(client, engine, TAIPEI, {"kind": "never"})
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [None]
    for years in (1, 5, 10):
        run = run_one_job(engine, "expire", EARNED + timedelta(days=366 * years))
        assert run.ran and run.result == NOTHING
    assert run_one_job(engine, "remind", EARNED + timedelta(days=365)).result == {
        "members": 0,
        "lots": 0,
    }
    assert _balance(client, tenant, "c1")["available"] == 100
    assert _kinds(client, tenant, "c1") == ["earn"]


def test_a_new_expiry_policy_applies_to_points_earned_from_then_on(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points earned while points never expired
    tenant = _tenant(client, engine, TAIPEI, {"kind": "never"})
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    # when the program switches to a fixed 12-month expiry and 40 more are earned
    patched = client.patch("/v1/program", json={"expiry": _fixed()}, headers=tenant.headers)
    assert patched.status_code == 200, patched.text
    _earn(client, tenant, clock, "o2", "c1", 40, EARNED)
    # then only the new points expire; the old ones keep "never"
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [None, TAIPEI_EXPIRY]
    assert run_one_job(engine, "expire", TAIPEI_EXPIRY).result == {
        "members": 1,
        "lots": 1,
        "points": 40,
    }
    clock.now = TAIPEI_EXPIRY
    assert _balance(client, tenant, "c1")["available"] == 100


def test_lots_keep_their_expiry_when_the_policy_changes_to_never(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 100 points earned under a fixed 12-month expiry
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    # when the program stops expiring points
    patched = client.patch(
        "/v1/program", json={"expiry": {"kind": "never"}}, headers=tenant.headers
    )
    assert patched.status_code == 200, patched.text
    assert [lot.expires_at for lot in _lots(engine, "c1")] == [TAIPEI_EXPIRY]
    # then the lot still expires at the date it was given
    run = run_one_job(engine, "expire", TAIPEI_EXPIRY)
    assert run.result == {"members": 1, "lots": 1, "points": 100}


# -- activity expiry ---------------------------------------------------------------------


def test_a_balance_expires_whole_after_six_months_without_earning(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given an activity policy of 6 months in Taipei
    tenant = _tenant(client, engine, TAIPEI, {"kind": "activity", "months": 6})
    # "idle" earns twice on 2026-03-01 local (20:00 and 23:00), then never again
    _earn(client, tenant, clock, "o1", "idle", 60, utc(2026, 3, 1, 12))
    _earn(client, tenant, clock, "o2", "idle", 100, utc(2026, 3, 1, 15))
    # "active" earns the same day, and again on 2026-06-15, inside the six months
    _earn(client, tenant, clock, "o3", "active", 100, utc(2026, 3, 1, 12))
    _earn(client, tenant, clock, "o4", "active", 20, utc(2026, 6, 15, 4))
    assert [lot.expires_at for lot in _lots(engine, "idle")] == [None, None]
    # idle's balance is valid through 2026-09-01 local and expires when 09-02 begins
    idle_expiry = utc(2026, 9, 1, 16)
    assert run_one_job(engine, "expire", idle_expiry - SECOND).result == NOTHING
    run = run_one_job(engine, "expire", idle_expiry)
    # then idle's whole balance, both lots, goes in one transaction; active keeps all
    assert run.result == {"members": 1, "lots": 2, "points": 160}
    clock.now = idle_expiry
    assert _balance(client, tenant, "idle") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 160,
    }
    latest = _ledger(client, tenant, "idle")[0]
    assert (latest["kind"], latest["points"], len(latest["entries"])) == ("expire", -160, 2)
    assert _balance(client, tenant, "active")["available"] == 120
    # active's balance lasts until 6 months after its last earning (2026-06-15 local):
    # it expires when 2026-12-16 begins in Taipei, both lots, the old one included
    active_expiry = utc(2026, 12, 15, 16)
    assert run_one_job(engine, "expire", active_expiry - SECOND).result == NOTHING
    assert run_one_job(engine, "expire", active_expiry).result == {
        "members": 1,
        "lots": 2,
        "points": 120,
    }
    clock.now = active_expiry
    assert _balance(client, tenant, "active") == {
        "available": 0,
        "pending": 0,
        "debt": 0,
        "lifetime_earned": 120,
    }
    assert _outbox(engine, "points.expired") == [
        {"customer_id": "idle", "points": 160, "transaction_id": latest["id"]},
        {
            "customer_id": "active",
            "points": 120,
            "transaction_id": _ledger(client, tenant, "active")[0]["id"],
        },
    ]


def test_an_earning_inside_the_window_keeps_the_whole_balance(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = _tenant(client, engine, NEW_YORK, {"kind": "activity", "months": 6})
    _earn(client, tenant, clock, "o1", "c1", 100, utc(2026, 3, 1, 17))  # 12:00 EST
    # one earning the day before the balance would have expired keeps it all
    _earn(client, tenant, clock, "o2", "c1", 1, utc(2026, 9, 1, 16))  # 12:00 EDT, 09-01
    # without it, the balance would have gone when 2026-09-02 began in New York
    assert run_one_job(engine, "expire", utc(2026, 9, 2, 4)).result == NOTHING
    assert run_one_job(engine, "expire", utc(2027, 3, 2, 5) - SECOND).result == NOTHING
    clock.now = utc(2027, 3, 1)
    assert _balance(client, tenant, "c1")["available"] == 101
    # six months after the last earning (2026-09-01 local): gone when 2027-03-02 begins
    assert run_one_job(engine, "expire", utc(2027, 3, 2, 5)).result == {
        "members": 1,
        "lots": 2,
        "points": 101,
    }


def test_a_member_who_never_earned_has_nothing_to_expire(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = _tenant(client, engine, TAIPEI, {"kind": "activity", "months": 1})
    enrolled = client.post("/v1/members", json={"external_id": "quiet"}, headers=tenant.headers)
    assert enrolled.status_code == 201, enrolled.text
    assert run_one_job(engine, "expire", utc(2027, 1, 1)).result == NOTHING
    assert _balance(client, tenant, "quiet")["available"] == 0


def test_a_member_with_points_still_pending_is_active(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given 1 month of inactivity, a 45-day return window, 50 available points (adjusted
    # in) and 100 pending points, both from 2026-03-01
    tenant = _tenant(client, engine, "UTC", {"kind": "activity", "months": 1}, pending_days=45)
    _earn(client, tenant, clock, "o1", "c1", 100, utc(2026, 3, 1, 12))
    adjusted = client.post(
        "/v1/members/c1/adjustments",
        json={"points": 50, "reason": "welcome"},
        headers=tenant.headers,
    )
    assert adjusted.status_code == 201, adjusted.text
    # when the expiry job runs after a month, with the return window still open
    run = run_one_job(engine, "expire", utc(2026, 4, 2))
    # then nothing expires: the member is active while its points are pending
    assert run.result == NOTHING


# -- reminders ---------------------------------------------------------------------------


def test_reminders_go_once_per_lot_and_lead_time(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given reminders 30 and 7 days before a Taipei 12-month expiry; 100 points expiring at
    # 2027-04-01T16:00Z and 40 points a day later
    tenant = _tenant(client, engine, TAIPEI, _fixed(remind_days=[30, 7]))
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    _earn(client, tenant, clock, "o2", "c1", 40, EARNED + timedelta(days=1))
    first, second = (lot.id for lot in _lots(engine, "c1"))
    sent: list[dict[str, Any]] = []

    def reminded(at: datetime, expected: dict[str, int], *new: dict[str, Any]) -> None:
        run = run_one_job(engine, "remind", at)
        assert run.ran and run.result == expected
        sent.extend(new)
        assert _outbox(engine, "points.expiring") == sent

    def payload(points: int, expires: str, days: int) -> dict[str, Any]:
        return {"customer_id": "c1", "points": points, "expires_at": expires, "days_before": days}

    # 31 days before: nothing is due yet
    reminded(TAIPEI_EXPIRY - timedelta(days=31), {"members": 0, "lots": 0})
    # 30 days before, to the second: the 30-day reminder of the first lot only
    at = TAIPEI_EXPIRY - timedelta(days=30)
    reminded(at, {"members": 1, "lots": 1}, payload(100, "2027-04-01T16:00:00Z", 30))
    # again later that local day: the run is skipped
    runs_before = _count(engine, job_runs)
    again = run_one_job(engine, "remind", at + timedelta(hours=7))
    assert not again.ran and again.period == "2027-03-03"
    assert _count(engine, job_runs) == runs_before
    assert _outbox(engine, "points.expiring") == sent
    # the next day: the second lot's 30-day reminder, and nothing again for the first
    reminded(
        at + timedelta(days=1), {"members": 1, "lots": 1}, payload(40, "2027-04-02T16:00:00Z", 30)
    )
    # the day after: nothing new for the same lots
    reminded(at + timedelta(days=2), {"members": 0, "lots": 0})
    # 7 days before each expiry: the 7-day reminders, one lot each day
    at = TAIPEI_EXPIRY - timedelta(days=7)
    reminded(at, {"members": 1, "lots": 1}, payload(100, "2027-04-01T16:00:00Z", 7))
    reminded(
        at + timedelta(days=1), {"members": 1, "lots": 1}, payload(40, "2027-04-02T16:00:00Z", 7)
    )
    reminded(at + timedelta(days=2), {"members": 0, "lots": 0})
    with engine.connect() as connection:
        rows = connection.execute(
            select(expiry_reminders.c.lot_id, expiry_reminders.c.days_before).order_by(
                expiry_reminders.c.lot_id, expiry_reminders.c.days_before
            )
        )
        assert [tuple(row) for row in rows] == [(first, 7), (first, 30), (second, 7), (second, 30)]
    # once past their expiry instant, lots are not reminded of any more
    reminded(TAIPEI_EXPIRY + timedelta(days=1, hours=1), {"members": 0, "lots": 0})


def test_one_reminder_per_member_sums_its_lots_left_and_names_the_first_expiry(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given, in New York with a 30-day reminder, "c1" with two lots expiring within the
    # next 30 days (60 points, of which 25 were spent, and 30 points), "c2" with one lot,
    # "c3" whose only lot is spent, and "c4" whose lot expires later
    tenant = _tenant(client, engine, NEW_YORK, _fixed(remind_days=[30]))
    _earn(client, tenant, clock, "o1", "c1", 60, utc(2026, 3, 10, 16))  # 12:00 EDT 03-10
    _earn(client, tenant, clock, "o2", "c1", 30, utc(2026, 3, 20, 16))
    _redeem(client, tenant, "c1", 25)
    _earn(client, tenant, clock, "o3", "c2", 10, utc(2026, 3, 15, 16))
    _earn(client, tenant, clock, "o4", "c3", 50, utc(2026, 3, 15, 16))
    _redeem(client, tenant, "c3", 50)
    _earn(client, tenant, clock, "o5", "c4", 70, utc(2026, 5, 1, 16))
    # when reminders run on 2027-03-01 local
    run = run_one_job(engine, "remind", utc(2027, 3, 1, 5, 30))  # 00:30 EST
    # then one message per member with lots expiring, with what is left of them
    assert run.result == {"members": 2, "lots": 3}
    reminders = sorted(_outbox(engine, "points.expiring"), key=lambda p: p["customer_id"])
    assert reminders == [
        {
            "customer_id": "c1",
            "points": 35 + 30,
            "expires_at": "2027-03-11T05:00:00Z",  # 2027-03-11 00:00 EST
            "days_before": 30,
        },
        {
            "customer_id": "c2",
            "points": 10,
            "expires_at": "2027-03-16T04:00:00Z",  # 2027-03-16 00:00 EDT
            "days_before": 30,
        },
    ]
    assert _count(engine, expiry_reminders) == 3


def test_no_reminders_without_reminder_days(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    tenant = _tenant(client, engine, TAIPEI, _fixed())
    _earn(client, tenant, clock, "o1", "c1", 100, EARNED)
    assert run_one_job(engine, "remind", TAIPEI_EXPIRY - timedelta(days=1)).result == {
        "members": 0,
        "lots": 0,
    }
    assert _outbox(engine, "points.expiring") == []
