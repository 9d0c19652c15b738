"""The `birthdays` job and the chosen-day perk at local-day boundaries: birthdays in two
time zones, 29 February, blocked members, programs without birthday rules, one run per
local day and one birthday per member and year; a chosen day is a local date of the
member's program, multiplies all the event's points, and is one day a year."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, select

from patron.db.tables import events, job_runs
from patron.worker.jobs import JobRun, run_job
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, order


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _program(
    client: TestClient,
    tenant: Tenant,
    code: str,
    time_zone: str,
    *,
    birthday_points: int | None = None,
    tiers: dict[str, Any] | None = None,
) -> dict[str, str]:
    """Create program `code` (USD, 1 point per 1.00) with a birthday rule giving
    `birthday_points` once a year; the headers that address it."""
    body: dict[str, Any] = {"code": code, "name": code, "currency": "USD", "time_zone": time_zone}
    if tiers is not None:
        body["tiers"] = tiers
    created = client.post("/v1/programs", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    headers = {**tenant.headers, "Patron-Program": code}
    if birthday_points is not None:
        rule = {
            "code": "birthday",
            "name": "Birthday",
            "trigger": "birthday",
            "award": {"kind": "fixed_points", "points": birthday_points},
            "limits": [{"period": "year", "max_awards": 1}],
        }
        response = client.post("/v1/rules", json=rule, headers=headers)
        assert response.status_code == 201, response.text
    return headers


def _enrol(client: TestClient, headers: dict[str, str], customer: str, birthday: str) -> None:
    body = {"external_id": customer, "birthday": birthday}
    response = client.post("/v1/members", json=body, headers=headers)
    assert response.status_code == 201, response.text


def _available(client: TestClient, headers: dict[str, str], customer: str) -> int:
    response = client.get(f"/v1/members/{customer}", headers=headers)
    assert response.status_code == 200, response.text
    return int(response.json()["balance"]["available"])


def _runs(engine: Engine, at: datetime, job: str = "birthdays") -> dict[str, JobRun]:
    """Run `job` as of `at`; each program's run by program code (codes are distinct here,
    but for the tenants' default programs, all `main`, which are left out)."""
    return {run.program: run for run in run_job(engine, job, at) if run.program != "main"}


def _birthday_events(engine: Engine) -> list[tuple[str, str]]:
    """(`<customer>:<year>`, local birthday) of every recorded birthday event, in order
    (source ids are `<program>:<customer>:<year>`)."""
    query = select(events.c.source_id, events.c.payload).where(events.c.type == "birthday")
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(events.c.id))
        return [(row.source_id.split(":", 1)[1], row.payload["birthday"]) for row in rows]


# -- birthdays ---------------------------------------------------------------------------


def test_birthdays_come_at_local_midnight_in_each_programs_time_zone(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a program in Taipei (UTC+8) and one in New York (EDT, UTC-4), each with members
    # born on 9 and 10 June
    taipei = make_tenant(engine, "taipei shop")
    newyork = make_tenant(engine, "new york shop")
    tpe = _program(client, taipei, "tpe", "Asia/Taipei", birthday_points=100)
    ny = _program(client, newyork, "ny", "America/New_York", birthday_points=200)
    for headers in (tpe, ny):
        _enrol(client, headers, "june9", "1990-06-09")
        _enrol(client, headers, "june10", "1991-06-10")

    # when the job runs at 15:59 UTC on 9 June: 23:59 on 9 June in Taipei, 11:59 in New York
    runs = _runs(engine, _utc(2026, 6, 9, 15, 59))
    # then both programs celebrate 9 June only
    assert (runs["tpe"].period, runs["tpe"].result) == ("2026-06-09", {"members": 1, "points": 100})
    assert (runs["ny"].period, runs["ny"].result) == ("2026-06-09", {"members": 1, "points": 200})
    # when it runs at 16:00 UTC: midnight in Taipei, where 10 June begins
    runs = _runs(engine, _utc(2026, 6, 9, 16))
    assert (runs["tpe"].period, runs["tpe"].result) == ("2026-06-10", {"members": 1, "points": 100})
    # and New York, still on 9 June, has had its run for that day
    assert (runs["ny"].period, runs["ny"].ran) == ("2026-06-09", False)
    # when it runs at 03:59 UTC on 10 June (23:59 on 9 June in New York): nothing new
    runs = _runs(engine, _utc(2026, 6, 10, 3, 59))
    assert not runs["tpe"].ran and not runs["ny"].ran
    # and at 04:00 UTC, midnight in New York: 10 June's birthday there
    runs = _runs(engine, _utc(2026, 6, 10, 4))
    assert runs["tpe"].ran is False
    assert (runs["ny"].period, runs["ny"].result) == ("2026-06-10", {"members": 1, "points": 200})

    clock.now = _utc(2026, 6, 11)
    assert [_available(client, tpe, c) for c in ("june9", "june10")] == [100, 100]
    assert [_available(client, ny, c) for c in ("june9", "june10")] == [200, 200]
    # each birthday is recorded once, as the local date it was celebrated on
    assert sorted(_birthday_events(engine)) == [
        ("june10:2026", "2026-06-10"),
        ("june10:2026", "2026-06-10"),
        ("june9:2026", "2026-06-09"),
        ("june9:2026", "2026-06-09"),
    ]
    assert_ledger_ok(engine)


def test_a_29_february_birthday_is_on_28_february_except_in_leap_years(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given members born on 28 February, 29 February and 1 March, in New York
    ny = _program(client, tenant, "ny", "America/New_York", birthday_points=100)
    for customer, birthday in (
        ("feb28", "1990-02-28"),
        ("feb29", "2000-02-29"),
        ("mar1", "1990-03-01"),
    ):
        _enrol(client, ny, customer, birthday)
    # midnight in New York (EST, UTC-5) on each day
    midnight = {day: _utc(*day, 5) for day in [(2027, 2, 27), (2027, 2, 28), (2027, 3, 1)]}
    midnight |= {day: _utc(*day, 5) for day in [(2028, 2, 28), (2028, 2, 29), (2028, 3, 1)]}

    # when the job runs at each of those midnights, in 2027 (not a leap year) and 2028
    celebrated = {day: _runs(engine, at)["ny"].result for day, at in midnight.items()}
    # then 29 February's member celebrates on 28 February, with 28 February's
    assert celebrated[(2027, 2, 27)] == {"members": 0, "points": 0}
    assert celebrated[(2027, 2, 28)] == {"members": 2, "points": 200}
    assert celebrated[(2027, 3, 1)] == {"members": 1, "points": 100}
    # and in 2028 (a leap year) on 29 February itself, once
    assert celebrated[(2028, 2, 28)] == {"members": 1, "points": 100}
    assert celebrated[(2028, 2, 29)] == {"members": 1, "points": 100}
    assert celebrated[(2028, 3, 1)] == {"members": 1, "points": 100}
    assert _birthday_events(engine) == [
        ("feb28:2027", "2027-02-28"),
        ("feb29:2027", "2027-02-28"),
        ("mar1:2027", "2027-03-01"),
        ("feb28:2028", "2028-02-28"),
        ("feb29:2028", "2028-02-29"),
        ("mar1:2028", "2028-03-01"),
    ]
    clock.now = _utc(2028, 3, 2)
    assert [_available(client, ny, c) for c in ("feb28", "feb29", "mar1")] == [200, 200, 200]


def test_blocked_members_and_programs_without_birthday_rules_get_nothing(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a program with a birthday rule and its members born on 10 June, one of them
    # blocked; and the tenant's default program, without one, with a member born that day
    shop = _program(client, tenant, "shop", "UTC", birthday_points=100)
    _enrol(client, shop, "active", "1990-06-10")
    _enrol(client, shop, "blocked", "1990-06-10")
    blocked = client.patch("/v1/members/blocked", json={"status": "blocked"}, headers=shop)
    assert blocked.status_code == 200, blocked.text
    _enrol(client, tenant.headers, "plain", "1990-06-10")

    # when the job runs on 10 June
    runs = run_job(engine, "birthdays", _utc(2026, 6, 10, 0, 5))
    # then only the active member of the program with a birthday rule gets anything, and
    # no event is recorded for the others
    assert {run.program: run.result for run in runs} == {
        "main": {"members": 0, "points": 0},
        "shop": {"members": 1, "points": 100},
    }
    assert _birthday_events(engine) == [("active:2026", "2026-06-10")]
    clock.now = _utc(2026, 6, 10, 1)
    assert _available(client, shop, "active") == 100
    assert _available(client, shop, "blocked") == 0
    assert _available(client, tenant.headers, "plain") == 0


def test_one_run_per_local_day_and_one_birthday_per_member_and_year(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given c1, born on 10 June, in a Taipei program
    tpe = _program(client, tenant, "tpe", "Asia/Taipei", birthday_points=100)
    _enrol(client, tpe, "c1", "1990-06-10")
    first = _runs(engine, _utc(2026, 6, 9, 16, 30))["tpe"]
    assert (first.period, first.result) == ("2026-06-10", {"members": 1, "points": 100})

    # when the job runs again that local day: skipped, nothing written
    rows = count_rows(engine)
    again = _runs(engine, _utc(2026, 6, 9, 23, 59))["tpe"]
    assert (again.period, again.ran) == ("2026-06-10", False)
    assert count_rows(engine) == rows

    # when the day's run is forced (its job_runs row deleted) and runs again
    with engine.begin() as connection:
        connection.execute(
            delete(job_runs).where(job_runs.c.job == "birthdays", job_runs.c.period == "2026-06-10")
        )
    forced = _runs(engine, _utc(2026, 6, 10, 2))["tpe"]
    # then it runs but the birthday is not recorded or awarded twice
    assert (forced.ran, forced.result) == (True, {"members": 0, "points": 0})

    # when c1's birthday is changed to 20 August and the job runs that day, same year
    clock.now = _utc(2026, 7, 1)
    changed = client.patch("/v1/members/c1", json={"birthday": "1990-08-20"}, headers=tpe)
    assert changed.status_code == 200, changed.text
    moved = _runs(engine, _utc(2026, 8, 19, 16, 30))["tpe"]
    # then nothing: one birthday a year
    assert (moved.period, moved.result) == ("2026-08-20", {"members": 0, "points": 0})
    assert _birthday_events(engine) == [("c1:2026", "2026-06-10")]
    clock.now = _utc(2026, 8, 21)
    assert _available(client, tpe, "c1") == 100

    # and the next year's birthday comes on the new date
    next_year = _runs(engine, _utc(2027, 8, 19, 16, 30))["tpe"]
    assert next_year.result == {"members": 1, "points": 100}
    assert _birthday_events(engine) == [("c1:2026", "2026-06-10"), ("c1:2027", "2027-08-20")]
    clock.now = _utc(2027, 8, 21)
    assert _available(client, tpe, "c1") == 200
    assert_ledger_ok(engine)


def test_a_customer_in_two_programs_of_a_tenant_gets_each_programs_birthday(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given c1, born on 10 June, a member of two programs of one tenant
    europe = _program(client, tenant, "europe", "UTC", birthday_points=100)
    asia = _program(client, tenant, "asia", "UTC", birthday_points=300)
    _enrol(client, europe, "c1", "1990-06-10")
    _enrol(client, asia, "c1", "1990-06-10")
    # when the job runs on 10 June
    runs = _runs(engine, _utc(2026, 6, 10, 0, 5))
    # then each program celebrates its member
    clock.now = _utc(2026, 6, 10, 1)
    assert (_available(client, europe, "c1"), _available(client, asia, "c1")) == (100, 300)
    assert runs["europe"].result == {"members": 1, "points": 100}
    assert runs["asia"].result == {"members": 1, "points": 300}


# -- chosen day --------------------------------------------------------------------------

GOLD_LADDER: dict[str, Any] = {
    "metric": "spend",
    "window": "calendar_year",
    "levels": [
        {"code": "member", "name": "Member", "threshold": 0},
        {"code": "gold", "name": "Gold", "threshold": 50_000, "perks": ["chosen_day:3"]},
    ],
}


def _pay(
    client: TestClient,
    headers: dict[str, str],
    clock: Clock,
    order_id: str,
    when: datetime,
    amount: int,
    customer: str = "c1",
) -> dict[str, Any]:
    clock.now = when
    body = order(order_id, customer, lines=[(1, amount)], occurred_at=when)
    response = client.post("/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _choose(
    client: TestClient, headers: dict[str, str], day: str | None, customer: str = "c1"
) -> Any:
    return client.patch(f"/v1/members/{customer}", json={"chosen_day": day}, headers=headers)


def test_the_chosen_day_is_the_local_date_of_each_program(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given Gold members of a Taipei and a New York program who both chose 15 July
    tpe = _program(client, tenant, "tpe", "Asia/Taipei", tiers=GOLD_LADDER)
    ny = _program(client, tenant, "ny", "America/New_York", tiers=GOLD_LADDER)
    # (order ids are the tenant's: each program's orders have their own)
    for code, headers in (("tpe", tpe), ("ny", ny)):
        _pay(client, headers, clock, f"{code}-gold", _utc(2026, 4, 1, 12), 50_000)
        assert _choose(client, headers, "2026-07-15").status_code == 200

    # when both pay $100.00 at 02:00 UTC on 15 July: 10:00 in Taipei, 22:00 on 14 July in NY
    at = _utc(2026, 7, 15, 2)
    assert _pay(client, tpe, clock, "tpe-a", at, 10_000)["points"] == 300
    assert _pay(client, ny, clock, "ny-a", at, 10_000)["points"] == 100
    # and at 03:59 UTC on 16 July: 11:59 on 16 July in Taipei, 23:59 on 15 July in New York
    at = _utc(2026, 7, 16, 3, 59)
    assert _pay(client, tpe, clock, "tpe-b", at, 10_000)["points"] == 100
    on_day = _pay(client, ny, clock, "ny-b", at, 10_000)
    assert on_day["points"] == 300
    assert on_day["explanation"]["rules"][-1] == {
        "rule": "chosen_day",
        "multiplier": "3",
        "points": 200,
    }
    # and at 04:00 UTC, 16 July in New York too
    assert _pay(client, ny, clock, "ny-c", _utc(2026, 7, 16, 4), 10_000)["points"] == 100
    assert_ledger_ok(engine)


def test_the_chosen_day_multiplies_base_tier_and_rule_points_but_not_store_credit(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given Gold earns 1.5x and doubles on its chosen day; a rule gives 10 points per order
    # and another 2% back as store credit
    ladder = {
        **GOLD_LADDER,
        "levels": [
            GOLD_LADDER["levels"][0],
            {**GOLD_LADDER["levels"][1], "multiplier": "1.5", "perks": ["chosen_day:2"]},
        ],
    }
    shop = _program(client, tenant, "shop", "Europe/Paris", tiers=ladder)
    for rule in (
        {"code": "bonus", "award": {"kind": "fixed_points", "points": 10}},
        {"code": "cashback", "award": {"kind": "percent_back", "percent": "2"}},
    ):
        body = {**rule, "name": rule["code"], "trigger": "order.paid"}
        assert client.post("/v1/rules", json=body, headers=shop).status_code == 201
    _pay(client, shop, clock, "gold", _utc(2026, 4, 1, 12), 50_000)
    assert _choose(client, shop, "2026-05-01").status_code == 200

    # when c1 pays 100.00 on its chosen day (Paris)
    paid = _pay(client, shop, clock, "o1", _utc(2026, 5, 1, 9), 10_000)
    # then base 100 + tier 50 + rule 10 = 160, doubled: 320; the 2.00 of store credit is not
    assert (paid["points"], paid["store_credit"]) == (320, 200)
    assert paid["explanation"]["rules"][-1] == {
        "rule": "chosen_day",
        "multiplier": "2",
        "points": 160,
    }


def test_a_member_without_the_perk_cannot_choose_and_the_perk_follows_the_tier(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    shop = _program(client, tenant, "shop", "Asia/Taipei", tiers=GOLD_LADDER)
    # a member with no tier yet, and a Member, are refused, writing nothing
    _enrol(client, shop, "new", "1990-01-01")
    _pay(client, shop, clock, "m1", _utc(2026, 4, 1, 12), 10_000, customer="member")
    rows = count_rows(engine)
    for customer in ("new", "member"):
        refused = _choose(client, shop, "2026-07-15", customer)
        assert (refused.status_code, refused.json()["field"]) == (422, "chosen_day")
    assert count_rows(engine) == rows

    # given c1, Gold in 2026 (so through 2027), who picks 2027's day and, in December 2027,
    # 2028's day
    _pay(client, shop, clock, "gold", _utc(2026, 4, 1, 12), 50_000)
    assert _choose(client, shop, "2027-03-01").status_code == 200
    clock.now = _utc(2027, 12, 1)
    assert _choose(client, shop, "2028-03-01").status_code == 200
    # when c1 spent nothing in 2027 and the tiers job drops it to Member at the end of 2027
    runs = _runs(engine, _utc(2027, 12, 31, 16), "tiers")
    assert runs["shop"].result == {"evaluated": 2, "kept": 1, "downgraded": 1}
    # then its order on the day it chose for 2028 earns 1x: the perk is the tier's
    assert _pay(client, shop, clock, "o1", _utc(2028, 3, 1, 4), 10_000)["points"] == 100


def test_clearing_the_chosen_day_does_not_allow_a_second_day_that_year(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given c1, Gold, who chose 15 July and had its tripled day
    shop = _program(client, tenant, "shop", "Asia/Taipei", tiers=GOLD_LADDER)
    _pay(client, shop, clock, "gold", _utc(2026, 4, 1, 12), 50_000)
    assert _choose(client, shop, "2026-07-15").status_code == 200
    assert _pay(client, shop, clock, "o1", _utc(2026, 7, 15, 4), 10_000)["points"] == 300
    # when c1 clears its day (accepted or refused) and picks 1 August
    cleared = _choose(client, shop, None)
    assert cleared.status_code in (200, 422), cleared.text
    second = _choose(client, shop, "2026-08-01")
    # then the second day of 2026 is refused, and 1 August earns 1x
    assert (second.status_code, second.json().get("field")) == (409, "chosen_day")
    assert _pay(client, shop, clock, "o2", _utc(2026, 8, 1, 4), 10_000)["points"] == 100


def test_a_day_of_next_year_in_between_does_not_allow_a_second_day_this_year(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given c1, Gold, who chose 15 July 2026 and had its tripled day
    shop = _program(client, tenant, "shop", "Asia/Taipei", tiers=GOLD_LADDER)
    _pay(client, shop, clock, "gold", _utc(2026, 4, 1, 12), 50_000)
    assert _choose(client, shop, "2026-07-15").status_code == 200
    assert _pay(client, shop, clock, "o1", _utc(2026, 7, 15, 4), 10_000)["points"] == 300
    # when c1 picks its day for 2027, then 1 August 2026
    assert _choose(client, shop, "2027-03-01").status_code == 200
    second = _choose(client, shop, "2026-08-01")
    # then the second day of 2026 is refused, and 1 August earns 1x
    assert (second.status_code, second.json().get("field")) == (409, "chosen_day")
    assert _pay(client, shop, clock, "o2", _utc(2026, 8, 1, 4), 10_000)["points"] == 100
