"""Program templates through the API: each of the four run over about a year of events,
with the clock moved forward and the jobs run at the instants they fall due; listing and
creating programs from templates (API and CLI), and what a failed creation writes (nothing).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from patron.db.tables import outbox
from patron.worker.jobs import JobRun, run_job
from tests.conftest import Clock, Tenant, count_rows
from tests.helpers import assert_ledger_ok, money, order, refund

#: A generated coupon code: Crockford base32 symbols (no I, L, O, U) after the prefix.
CODE_SYMBOLS = "[0-9A-HJKMNP-TV-Z]"


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def _from_template(
    client: TestClient,
    tenant: Tenant,
    template: str,
    code: str,
    currency: str,
    time_zone: str,
) -> dict[str, str]:
    """Create program `code` from `template`; the headers that address it."""
    body = {"template": template, "code": code, "currency": currency, "time_zone": time_zone}
    response = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return {**tenant.headers, "Patron-Program": code}


def _pay(
    client: TestClient,
    headers: dict[str, str],
    clock: Clock,
    order_id: str,
    when: datetime,
    amount: int = 0,
    *,
    customer: str = "c1",
    currency: str = "USD",
    lines: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Pay an order at `when` (the clock moves there first): one line of `amount`, or
    `lines` as (category, quantity, unit price) dicts."""
    clock.now = when
    body = order(order_id, customer, lines=[(1, amount)], occurred_at=when, currency=currency)
    if lines is not None:
        body["lines"] = [
            {
                "line_id": f"L{index}",
                "sku": f"SKU{index}",
                "category": line["category"],
                "quantity": line["quantity"],
                "unit_price": money(line["unit_price"], currency),
            }
            for index, line in enumerate(lines)
        ]
        body["total"] = money(sum(x["quantity"] * x["unit_price"] for x in lines), currency)
    response = client.post("/v1/orders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _member(client: TestClient, headers: dict[str, str], customer: str = "c1") -> dict[str, Any]:
    response = client.get(f"/v1/members/{customer}", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def _points(client: TestClient, headers: dict[str, str], customer: str = "c1") -> tuple[int, int]:
    """(available, pending) points."""
    balance = _member(client, headers, customer)["balance"]
    return balance["available"], balance["pending"]


def _run(engine: Engine, job: str, at: datetime, program: str) -> JobRun:
    """Run `job` as of `at` for every program; the run of program `program`."""
    runs = [run for run in run_job(engine, job, at) if run.program == program]
    assert len(runs) == 1, runs
    return runs[0]


def _reward(client: TestClient, headers: dict[str, str], name: str) -> dict[str, Any]:
    rewards = client.get("/v1/rewards", headers=headers).json()
    found = [reward for reward in rewards if reward["name"] == name]
    assert len(found) == 1, rewards
    return found[0]


def _redeem(
    client: TestClient, headers: dict[str, str], reward: dict[str, Any], customer: str = "c1"
) -> dict[str, Any]:
    """Redeem `reward`; check the code's shape and that checkout accepts it."""
    response = client.post(
        f"/v1/members/{customer}/redemptions", json={"reward_id": reward["id"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    redemption = response.json()
    pattern = re.escape(reward["code_prefix"]) + CODE_SYMBOLS + f"{{{reward['code_length']}}}"
    assert re.fullmatch(pattern, redemption["code"]), redemption["code"]
    assert (redemption["points"], redemption["value"]) == (reward["points_cost"], reward["value"])
    check = client.post("/v1/coupons/validate", json={"code": redemption["code"]}, headers=headers)
    assert check.status_code == 200, check.text
    assert (check.json()["valid"], check.json()["reason"]) == (True, None)
    assert check.json()["value"] == reward["value"]
    return redemption


def _outbox(engine: Engine, type_: str) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).where(outbox.c.type == type_).order_by(outbox.c.id)
    with engine.connect() as connection:
        return [row.payload for row in connection.execute(query)]


# -- starter ---------------------------------------------------------------------------


def test_starter_year_pending_tiers_redemption_expiry_and_year_end(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a starter program in New York (EDT, UTC-4, from 8 March 2026)
    ny = _from_template(client, tenant, "starter", "starter", "USD", "America/New_York")
    five_off = _reward(client, ny, "5 off")
    assert (five_off["points_cost"], five_off["value"]) == (500, money(500))

    # when c1 pays $300.00 on 10 March: 300 points, pending for 14 days
    paid = _pay(client, ny, clock, "o1", _utc(2026, 3, 10, 16), 30_000)
    assert (paid["points"], paid["points_status"]) == (300, "pending")
    assert paid["pending_until"] == "2026-03-24T16:00:00+00:00"
    assert _points(client, ny) == (0, 300)
    tier = _member(client, ny)["tier"]
    assert (tier["current"], tier["metric_value"], tier["next"], tier["missing_for_next"]) == (
        "bronze",
        30_000,
        "silver",
        20_000,
    )
    # then the release job frees them when the 14 days are over, not a minute before
    assert _run(engine, "release", _utc(2026, 3, 24, 15, 59), "starter").result["points"] == 0
    released = _run(engine, "release", _utc(2026, 3, 24, 16), "starter")
    assert released.result == {"members": 1, "lots": 1, "points": 300}
    clock.now = _utc(2026, 3, 24, 16)
    assert _points(client, ny) == (300, 0)

    # when c1 pays $250.00 on 15 April, crossing Silver's $500: the order earns at Bronze
    assert _pay(client, ny, clock, "o2", _utc(2026, 4, 15, 16), 25_000)["points"] == 250
    tier = _member(client, ny)["tier"]
    assert (tier["current"], tier["ends_at"]) == ("silver", "2028-01-01T05:00:00Z")
    assert _run(engine, "release", _utc(2026, 4, 29, 16), "starter").result["points"] == 250

    # when c1 redeems 500 of its 550 points for $5 off
    clock.now = _utc(2026, 5, 5, 16)
    redemption = _redeem(client, ny, five_off)
    assert redemption["value"] == money(500)
    assert _points(client, ny) == (50, 0)

    # when c1 pays $200.00 as Silver: 1.25x
    silver = _pay(client, ny, clock, "o3", _utc(2026, 5, 20, 16), 20_000)
    assert silver["points"] == 250
    assert [(r["rule"], r["points"]) for r in silver["explanation"]["rules"]] == [
        ("base", 200),
        ("tier", 50),
    ]
    assert _run(engine, "release", _utc(2026, 6, 3, 16), "starter").result["points"] == 250
    # and $300.00 on 10 June, reaching Gold's $1,000: that order still earns at Silver
    assert _pay(client, ny, clock, "o4", _utc(2026, 6, 10, 16), 30_000)["points"] == 375
    assert _member(client, ny)["tier"]["current"] == "gold"
    # and $100.00 as Gold: 1.5x
    gold = _pay(client, ny, clock, "o5", _utc(2026, 7, 1, 16), 10_000)
    assert gold["points"] == 150
    assert gold["explanation"]["rules"][1] == {
        "rule": "tier",
        "tier": "gold",
        "multiplier": "1.5",
        "points": 50,
    }
    # (o4's window ended on 24 June: c1's next write released its lot on the way)
    assert _points(client, ny) == (50 + 250 + 375, 150)
    released = _run(engine, "release", _utc(2026, 7, 15, 16), "starter")
    assert released.result == {"members": 1, "lots": 1, "points": 150}

    # given c2, Silver with exactly $500.00 in 2026
    assert _pay(client, ny, clock, "p1", _utc(2026, 8, 1, 16), 50_000, customer="c2")["points"] == (
        500
    )
    assert _member(client, ny, "c2")["tier"]["current"] == "silver"
    assert _run(engine, "release", _utc(2026, 8, 15, 16), "starter").result["points"] == 500

    # when the tiers job runs at the end of 2026, nothing is due: 2026's levels hold in 2027
    year_end = _run(engine, "tiers", _utc(2027, 1, 1, 5), "starter")
    assert year_end.result == {"evaluated": 0, "kept": 0, "downgraded": 0}
    clock.now = _utc(2027, 1, 1, 5)
    member = _member(client, ny)
    assert member["balance"]["available"] == 825
    assert member["balance"]["lifetime_earned"] == 1_325
    assert member["tier"]["current"] == "gold"

    # when c1, still Gold, pays $600.00 in February 2027 (EST, UTC-5): 900 points
    assert _pay(client, ny, clock, "o6", _utc(2027, 2, 10, 17), 60_000)["points"] == 900
    assert _points(client, ny) == (825, 900)
    assert _run(engine, "release", _utc(2027, 2, 24, 17), "starter").result["points"] == 900

    # then the points of 10 March 2026 were all redeemed: nothing to remind of or expire on
    # 1 April 2027; the 50 left of 15 April's lot expire at the end of April 2027, reminded
    # 30 days before (at midnight, EDT)
    assert _run(engine, "remind", _utc(2027, 3, 31, 4), "starter").result == {
        "members": 0,
        "lots": 0,
    }
    reminded = _run(engine, "remind", _utc(2027, 4, 1, 4), "starter")
    assert reminded.result == {"members": 1, "lots": 1}
    assert _outbox(engine, "points.expiring") == [
        {
            "customer_id": "c1",
            "points": 50,
            "expires_at": "2027-05-01T04:00:00Z",
            "days_before": 30,
        }
    ]
    assert _run(engine, "expire", _utc(2027, 4, 1, 4), "starter").result["points"] == 0
    assert _run(engine, "expire", _utc(2027, 5, 1, 3, 59), "starter").result["points"] == 0
    expired = _run(engine, "expire", _utc(2027, 5, 1, 4), "starter")
    assert expired.result == {"members": 1, "lots": 1, "points": 50}
    clock.now = _utc(2027, 5, 1, 4)
    assert _points(client, ny) == (825 + 900 - 50, 0)
    # and a run on 1 August expires the lots of May, June and July 2026 (250 + 375 + 150)
    expired = _run(engine, "expire", _utc(2027, 8, 1, 4), "starter")
    assert expired.result == {"members": 1, "lots": 3, "points": 775}
    clock.now = _utc(2027, 8, 1, 4)
    assert _points(client, ny) == (900, 0)

    # given c2 spends $500.00 again in 2027 (as Silver: 625 points)
    assert _pay(client, ny, clock, "p2", _utc(2027, 9, 1, 16), 50_000, customer="c2")["points"] == (
        625
    )
    # when the tiers job runs at the end of 2027 (midnight in New York, not before)
    before = _run(engine, "tiers", _utc(2028, 1, 1, 4, 59), "starter")
    assert before.result == {"evaluated": 0, "kept": 0, "downgraded": 0}
    decided = _run(engine, "tiers", _utc(2028, 1, 1, 5), "starter")
    # then c1 ($600 in 2027) drops one step to Silver and c2 keeps Silver, through 2028
    assert decided.result == {"evaluated": 2, "kept": 1, "downgraded": 1}
    clock.now = _utc(2028, 1, 2)
    for customer in ("c1", "c2"):
        tier = _member(client, ny, customer)["tier"]
        assert (tier["current"], tier["ends_at"]) == ("silver", "2029-01-01T05:00:00Z")
    assert [
        (e["customer_id"], e["from"], e["to"], e["cause"]) for e in _outbox(engine, "tier.changed")
    ] == [
        ("c1", None, "bronze", "upgrade"),
        ("c1", "bronze", "silver", "upgrade"),
        ("c1", "silver", "gold", "upgrade"),
        ("c2", None, "silver", "upgrade"),
        ("c1", "gold", "silver", "downgrade"),
    ]
    assert_ledger_ok(engine)


# -- sporting goods ----------------------------------------------------------------------


def _choose(
    client: TestClient, headers: dict[str, str], day: str | None, customer: str = "c1"
) -> Any:
    return client.patch(f"/v1/members/{customer}", json={"chosen_day": day}, headers=headers)


def _entry_rewards(client: TestClient, headers: dict[str, str], customer: str = "c1") -> list[Any]:
    """(points, tier) of the member's tier entry rewards, oldest first."""
    ledger = client.get(f"/v1/members/{customer}/ledger?limit=200", headers=headers).json()
    return [
        (tx["points"], tx["details"]["tier"])
        for tx in reversed(ledger["data"])
        if (tx["reason"] or "").startswith("entry reward")
    ]


def test_sporting_goods_gold_reward_chosen_day_and_gold_kept_next_year(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a sporting-goods program in Taipei (UTC+8), in New Taiwan dollars
    tpe = _from_template(client, tenant, "sporting-goods", "sport", "TWD", "Asia/Taipei")
    ten_off = _reward(client, tpe, "10 off")
    assert (ten_off["points_cost"], ten_off["value"]) == (1_000, money(1_000, "TWD"))
    pay = {"currency": "TWD"}

    # when c1 pays NT$300.00: 300 points at once, and c1 is a Member
    assert _pay(client, tpe, clock, "o1", _utc(2026, 3, 5, 4), 30_000, **pay)["points"] == 300
    assert _member(client, tpe)["tier"]["current"] == "member"
    # then as a Member c1 cannot pick a day, and the refusal writes nothing
    rows = count_rows(engine)
    refused = _choose(client, tpe, "2026-07-15")
    assert (refused.status_code, refused.json()["field"]) == (422, "chosen_day"), refused.text
    assert count_rows(engine) == rows

    # when c1 reaches NT$500.00 in 2026 (the order earns 1x, then Gold: 1,000 points, once)
    crossing = _pay(client, tpe, clock, "o2", _utc(2026, 4, 10, 15, 30), 25_000, **pay)
    assert crossing["points"] == 250
    member = _member(client, tpe)
    assert (member["tier"]["current"], member["tier"]["perks"]) == ("gold", ["chosen_day:3"])
    assert member["tier"]["ends_at"] == "2027-12-31T16:00:00Z"
    assert _points(client, tpe) == (300 + 250 + 1_000, 0)
    assert _entry_rewards(client, tpe) == [(1_000, "gold")]
    assert _pay(client, tpe, clock, "o3", _utc(2026, 4, 10, 15, 45), 10_000, **pay)["points"] == (
        100
    )
    assert _entry_rewards(client, tpe) == [(1_000, "gold")]
    # and c1 redeems 1,000 points for NT$10 off
    _redeem(client, tpe, ten_off)
    assert _points(client, tpe) == (650, 0)

    # when c1, now Gold, picks a day just after local midnight (11 April 00:00 in Taipei):
    clock.now = _utc(2026, 4, 10, 16)
    # yesterday (local) is refused as past; 15 July is taken
    rows = count_rows(engine)
    past = _choose(client, tpe, "2026-04-10")
    assert (past.status_code, past.json()["field"]) == (422, "chosen_day"), past.text
    assert count_rows(engine) == rows
    chosen = _choose(client, tpe, "2026-07-15")
    assert chosen.status_code == 200, chosen.text
    assert chosen.json()["chosen_day"] == "2026-07-15"
    # and choosing the same day again is fine, another day of 2026 is a conflict
    assert _choose(client, tpe, "2026-07-15").status_code == 200
    rows = count_rows(engine)
    second = _choose(client, tpe, "2026-08-01")
    assert (second.status_code, second.json()["field"]) == (409, "chosen_day"), second.text
    assert count_rows(engine) == rows
    assert _member(client, tpe)["chosen_day"] == "2026-07-15"

    # then an order in the last minute of 14 July (local) earns 1x
    before = _pay(client, tpe, clock, "d0", _utc(2026, 7, 14, 15, 59), 10_000, **pay)
    assert before["points"] == 100
    assert "chosen_day" not in [r["rule"] for r in before["explanation"]["rules"]]
    # an order from local midnight on 15 July earns 3x, and says why
    on_day = _pay(client, tpe, clock, "d1", _utc(2026, 7, 14, 16), 10_000, **pay)
    assert on_day["points"] == 300
    assert on_day["explanation"]["rules"] == [
        {
            "rule": "base",
            "rate": {"points": 1, "per_amount": 100},
            "rounding": "floor",
            "includes": {"shipping": False, "tax": False},
            "points": 100,
        },
        {"rule": "chosen_day", "multiplier": "3", "points": 200},
    ]
    last_minute = _pay(client, tpe, clock, "d2", _utc(2026, 7, 15, 15, 59), 5_000, **pay)
    assert last_minute["points"] == 150
    # and an order on 16 July (local) earns 1x again
    after = _pay(client, tpe, clock, "d3", _utc(2026, 7, 15, 16), 10_000, **pay)
    assert after["points"] == 100
    assert _points(client, tpe) == (650 + 100 + 300 + 150 + 100, 0)

    # given c2, Gold in 2026 too
    assert (
        _pay(client, tpe, clock, "p1", _utc(2026, 9, 1, 4), 60_000, customer="c2", **pay)["points"]
        == 600
    )
    assert _points(client, tpe, "c2") == (1_600, 0)

    # when the tiers job runs at the end of 2026 in Taipei, nothing is due: Gold holds in 2027
    first_end = _run(engine, "tiers", _utc(2026, 12, 31, 16), "sport")
    assert first_end.result == {"evaluated": 0, "kept": 0, "downgraded": 0}

    # when in 2027 c1 spends NT$500.00 again, at 1x: its first activity of 2027 as Gold
    # brings the 1,000 points of 2027
    assert _pay(client, tpe, clock, "o7", _utc(2027, 3, 1, 4), 50_000, **pay)["points"] == 500
    assert _entry_rewards(client, tpe) == [(1_000, "gold"), (1_000, "gold")]
    # and picks its day for 2027 (a new year: allowed)
    assert _choose(client, tpe, "2027-06-01").status_code == 200
    # and c2 spends only NT$100.00
    assert (
        _pay(client, tpe, clock, "p2", _utc(2027, 3, 1, 5), 10_000, customer="c2", **pay)["points"]
        == 100
    )
    balance_c1 = _points(client, tpe)[0]
    assert balance_c1 == 1_300 + 500 + 1_000

    # when the tiers job runs at the end of 2027 (midnight in Taipei, not a minute before)
    early = _run(engine, "tiers", _utc(2027, 12, 31, 15, 59), "sport")
    assert early.result == {"evaluated": 0, "kept": 0, "downgraded": 0}
    decided = _run(engine, "tiers", _utc(2027, 12, 31, 16), "sport")
    # then c1 keeps Gold for 2028 and gets its 1,000 points again; c2 is a Member again
    assert decided.result == {"evaluated": 2, "kept": 1, "downgraded": 1}
    clock.now = _utc(2028, 1, 2)
    assert _points(client, tpe) == (balance_c1 + 1_000, 0)
    assert _entry_rewards(client, tpe) == [(1_000, "gold")] * 3
    member = _member(client, tpe)
    assert (member["tier"]["current"], member["tier"]["ends_at"]) == (
        "gold",
        "2028-12-31T16:00:00Z",
    )
    assert _member(client, tpe, "c2")["tier"]["current"] == "member"
    # (c2: 600 + 1,000 on reaching Gold in 2026, 100 + 1,000 as Gold in 2027)
    assert _points(client, tpe, "c2") == (2_700, 0)
    # and only once: the job again that day is skipped, the next days find nothing due
    assert _run(engine, "tiers", _utc(2028, 1, 1, 3), "sport").ran is False
    later = _run(engine, "tiers", _utc(2028, 1, 2, 16), "sport")
    assert later.result == {"evaluated": 0, "kept": 0, "downgraded": 0}
    assert _points(client, tpe) == (balance_c1 + 1_000, 0)
    # and c2, no longer Gold, cannot pick a day in 2028
    refused = _choose(client, tpe, "2028-06-01", "c2")
    assert (refused.status_code, refused.json()["field"]) == (422, "chosen_day")
    assert_ledger_ok(engine)


def test_sporting_goods_gold_gets_its_1000_points_in_each_year_it_is_gold(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given c1 reached Gold in 2026 (and got its 1,000 points): Gold through 2027
    tpe = _from_template(client, tenant, "sporting-goods", "sport", "TWD", "Asia/Taipei")
    _pay(client, tpe, clock, "o1", _utc(2026, 4, 1, 4), 50_000, currency="TWD")
    assert _entry_rewards(client, tpe) == [(1_000, "gold")]
    # when the tiers job runs at local midnight on the first days of 2027, and c1 shops as
    # Gold in 2027
    for day in range(3):
        run_job(engine, "tiers", _utc(2026, 12, 31, 16) + timedelta(days=day))
    _pay(client, tpe, clock, "o2", _utc(2027, 3, 1, 4), 50_000, currency="TWD")
    clock.now = _utc(2027, 12, 30)
    assert _member(client, tpe)["tier"]["current"] == "gold"
    # then c1 has had its 1,000 points for 2027 as well, before 2027's year-end decision
    assert _entry_rewards(client, tpe) == [(1_000, "gold"), (1_000, "gold")]


def test_an_entry_reward_names_its_local_year(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    tpe = _from_template(client, tenant, "sporting-goods", "sport", "TWD", "Asia/Taipei")
    _pay(client, tpe, clock, "o1", _utc(2026, 4, 1, 4), 50_000, currency="TWD")
    ledger = client.get("/v1/members/c1/ledger", headers=tpe).json()["data"]
    reward = next(tx for tx in ledger if tx["reason"] == "entry reward: Gold")
    assert reward["details"] == {"tier": "gold", "period": "2026-01-01"}


def test_the_member_tier_shows_the_multiplier_as_the_program_does(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    ny = _from_template(client, tenant, "starter", "starter", "USD", "America/New_York")
    levels = client.get("/v1/program", headers=ny).json()["tiers"]["levels"]
    assert [level["multiplier"] for level in levels] == ["1", "1.25", "1.5"]
    _pay(client, ny, clock, "o1", _utc(2026, 4, 1, 16), 50_000)
    assert _member(client, ny)["tier"]["multiplier"] == "1.25"


# -- pharmacy ----------------------------------------------------------------------------


def _wallet(client: TestClient, headers: dict[str, str], customer: str = "c1") -> tuple[int, int]:
    """(available, pending) store credit."""
    credit = _member(client, headers, customer)["store_credit"]
    return credit["available"], credit["pending"]


def _beauty(*amounts: int, other: int = 0) -> list[dict[str, Any]]:
    lines = [{"category": "beauty", "quantity": 1, "unit_price": a} for a in amounts]
    if other:
        lines.append({"category": "household", "quantity": 1, "unit_price": other})
    return lines


def _club(result: dict[str, Any]) -> dict[str, Any]:
    """The beauty club rule's explanation entry."""
    return next(r for r in result["explanation"]["rules"] if r["rule"] == "beauty-club")


def test_pharmacy_quarterly_cashback_refund_spend_birthday_and_beauty_club(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a pharmacy program in Paris (CET, UTC+1; CEST, UTC+2 from 29 March), in euros
    paris = _from_template(client, tenant, "pharmacy", "pharmacy", "EUR", "Europe/Paris")
    rules = client.get("/v1/rules", headers=paris).json()
    assert sorted(rule["code"] for rule in rules) == ["beauty-club", "birthday", "cashback"]
    eur = {"currency": "EUR"}

    # when c1 pays 100.00 on 1 March: no points for spend, 2.00 of store credit accumulating
    first = _pay(client, paris, clock, "o1", _utc(2026, 3, 1, 12, 30), 10_000, **eur)
    assert (first["points"], first["store_credit"]) == (0, 200)
    assert _points(client, paris) == (0, 0)
    assert _wallet(client, paris) == (0, 200)
    # and 50.00 on 25 March, a week before the quarter ends (its return window ends later)
    late = _pay(client, paris, clock, "o2", _utc(2026, 3, 25, 10), 5_000, **eur)
    assert late["store_credit"] == 100
    # and returns half of it three days later: half its credit goes back
    clock.now = _utc(2026, 3, 28, 10)
    body = refund("r1", "o2", amount=2_500, occurred_at=clock.now, currency="EUR")
    returned = client.post("/v1/refunds", json=body, headers=paris)
    assert returned.status_code == 201, returned.text
    assert returned.json()["store_credit_reversed"] == 50
    assert _wallet(client, paris) == (0, 250)

    # then the credit job issues the 2.00 of 1 March (whose return window ended on 31 March
    # at 14:30) when the quarter ends in Paris, not before
    assert _run(engine, "credit", _utc(2026, 3, 31, 21, 59), "pharmacy").result["points"] == 0
    q1 = _run(engine, "credit", _utc(2026, 3, 31, 22), "pharmacy")
    assert q1.result == {"members": 1, "lots": 1, "points": 200}
    clock.now = _utc(2026, 4, 1, 8)
    assert _wallet(client, paris) == (200, 50)
    # and the 0.50 left of 25 March's order once its 30-day return window is over
    assert _run(engine, "credit", _utc(2026, 4, 24, 9, 59), "pharmacy").result["points"] == 0
    window = _run(engine, "credit", _utc(2026, 4, 24, 10), "pharmacy")
    assert window.result == {"members": 1, "lots": 1, "points": 50}

    # when the store takes 1.50 of store credit at checkout
    clock.now = _utc(2026, 4, 25, 10)
    spend = client.post(
        "/v1/members/c1/store-credit/spends",
        json={"amount": money(150, "EUR"), "order_id": "o-till-1"},
        headers=paris,
    )
    assert spend.status_code == 201, spend.text
    assert (spend.json()["amount"], spend.json()["balance"]["available"]) == (150, 100)
    # then it cannot take more than the 1.00 left, and a refused spend writes nothing
    rows = count_rows(engine)
    over = client.post(
        "/v1/members/c1/store-credit/spends", json={"amount": money(101, "EUR")}, headers=paris
    )
    assert (over.status_code, over.json()["code"]) == (422, "insufficient-store-credit")
    assert count_rows(engine) == rows

    # when c1 buys 30.00 of beauty products in May: the monthly gift, 500 points (pending)
    gift = _pay(
        client, paris, clock, "b1", _utc(2026, 5, 5, 10), lines=_beauty(1_500, 1_500), **eur
    )
    assert (gift["points"], gift["points_status"], gift["store_credit"]) == (500, "pending", 60)
    assert _club(gift)["applied"] is True
    # and 40.00 more in May: no second gift that month
    again = _pay(client, paris, clock, "b2", _utc(2026, 5, 20, 10), lines=_beauty(4_000), **eur)
    assert (again["points"], again["store_credit"]) == (0, 80)
    assert (_club(again)["matched"], _club(again)["applied"]) == (True, False)
    # and in June 29.50 of beauty, then 20.00 of beauty with 20.00 of other things: too little
    short = _pay(client, paris, clock, "b3", _utc(2026, 6, 2, 10), lines=_beauty(2_950), **eur)
    assert (short["points"], short["store_credit"]) == (0, 59)
    assert _club(short)["matched"] is False
    assert _run(engine, "release", _utc(2026, 6, 4, 10), "pharmacy").result["points"] == 500
    mixed = _pay(
        client, paris, clock, "b4", _utc(2026, 6, 10, 10), lines=_beauty(2_000, other=2_000), **eur
    )
    assert (mixed["points"], mixed["store_credit"]) == (0, 80)
    assert _club(mixed)["matched"] is False
    # and 35.00 of beauty on 15 June: June's gift
    june = _pay(client, paris, clock, "b5", _utc(2026, 6, 15, 10), lines=_beauty(3_500), **eur)
    assert (june["points"], june["store_credit"]) == (500, 70)

    # then at the end of June the credit job issues May's credit (windows over by then);
    # June's orders wait for their own windows
    assert _wallet(client, paris) == (100, 60 + 80 + 59 + 80 + 70)
    q2 = _run(engine, "credit", _utc(2026, 6, 30, 22), "pharmacy")
    assert q2.result == {"members": 1, "lots": 2, "points": 140}
    assert _run(engine, "credit", _utc(2026, 7, 2, 10), "pharmacy").result["points"] == 59
    july = _run(engine, "credit", _utc(2026, 7, 15, 10), "pharmacy")
    assert july.result == {"members": 1, "lots": 2, "points": 150}
    assert _run(engine, "release", _utc(2026, 7, 15, 10), "pharmacy").result["points"] == 500
    clock.now = _utc(2026, 7, 15, 10)
    assert _wallet(client, paris) == (100 + 140 + 59 + 150, 0)
    assert _points(client, paris) == (1_000, 0)

    # given c1's birthday is 20 August
    updated = client.patch("/v1/members/c1", json={"birthday": "1990-08-20"}, headers=paris)
    assert updated.status_code == 200, updated.text
    # when the birthdays job runs in the last minute of 19 August in Paris: nothing
    eve = _run(engine, "birthdays", _utc(2026, 8, 19, 21, 59), "pharmacy")
    assert eve.result == {"members": 0, "points": 0}
    # then at local midnight: 300 points, at once
    day = _run(engine, "birthdays", _utc(2026, 8, 19, 22), "pharmacy")
    assert day.result == {"members": 1, "points": 300}
    clock.now = _utc(2026, 8, 20, 9)
    assert _points(client, paris) == (1_300, 0)
    # and a second run that day is skipped, a run the next day finds no birthday
    assert _run(engine, "birthdays", _utc(2026, 8, 20, 12), "pharmacy").ran is False
    next_day = _run(engine, "birthdays", _utc(2026, 8, 21, 12), "pharmacy")
    assert next_day.result == {"members": 0, "points": 0}
    assert _points(client, paris) == (1_300, 0)
    # and the birthday reward (300 points) and the beauty gift (500) are redeemed for codes
    birthday_reward = _reward(client, paris, "3 birthday reward")
    assert (birthday_reward["points_cost"], birthday_reward["value"]) == (300, money(300, "EUR"))
    _redeem(client, paris, birthday_reward)
    _redeem(client, paris, _reward(client, paris, "Beauty club gift (5 off)"))
    assert _points(client, paris) == (500, 0)

    # when c1 pays 100.00 on 30 December, two days before the quarter ends
    assert (
        _pay(client, paris, clock, "o9", _utc(2026, 12, 30, 10), 10_000, **eur)["store_credit"]
        == 200
    )
    # then the end of the quarter does not issue it: its return window is still open
    q4 = _run(engine, "credit", _utc(2026, 12, 31, 23), "pharmacy")
    assert q4.result == {"members": 0, "lots": 0, "points": 0}
    # and a return of 30.00 on 10 January takes back 0.60 of it
    clock.now = _utc(2027, 1, 10, 10)
    body = refund("r2", "o9", amount=3_000, occurred_at=clock.now, currency="EUR")
    assert (
        client.post("/v1/refunds", json=body, headers=paris).json()["store_credit_reversed"] == 60
    )
    # and the rest is issued when the window ends, 30 days after the order
    assert _run(engine, "credit", _utc(2027, 1, 29, 9, 59), "pharmacy").result["points"] == 0
    issued = _run(engine, "credit", _utc(2027, 1, 29, 10), "pharmacy")
    assert issued.result == {"members": 1, "lots": 1, "points": 140}
    clock.now = _utc(2027, 1, 29, 10)
    assert _wallet(client, paris) == (100 + 140 + 59 + 150 + 140, 0)
    # and in all that time store credit and points never mixed
    assert _points(client, paris) == (500, 0)
    assert_ledger_ok(engine)


# -- beauty ------------------------------------------------------------------------------


def test_beauty_points_birthday_and_ten_off_per_hundred_points(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant
) -> None:
    # given a beauty program in Sydney (AEDT, UTC+11, until 5 April 2026), in AUD
    syd = _from_template(client, tenant, "beauty", "beauty", "AUD", "Australia/Sydney")
    program = client.get("/v1/program", headers=syd).json()
    assert (program["earn_rate"], program["point_value"]) == (
        {"points": 1, "per_amount": 100},
        {"points": 100, "amount": 1_000},
    )
    ten_off = _reward(client, syd, "10 off")
    assert (ten_off["points_cost"], ten_off["value"]) == (100, money(1_000, "AUD"))
    aud = {"currency": "AUD"}
    # and c1, born on 15 March
    enrolled = client.post(
        "/v1/members", json={"external_id": "c1", "birthday": "1985-03-15"}, headers=syd
    )
    assert enrolled.status_code == 201, enrolled.text

    # when c1 pays A$45.50: 45 points (1 per dollar, rounded down), at once
    assert _pay(client, syd, clock, "o1", _utc(2026, 3, 5, 1), 4_550, **aud)["points"] == 45
    assert _points(client, syd) == (45, 0)
    # and the birthdays job runs in the last minute of 14 March in Sydney, then at midnight
    eve = _run(engine, "birthdays", _utc(2026, 3, 14, 12, 59), "beauty")
    assert eve.result == {"members": 0, "points": 0}
    day = _run(engine, "birthdays", _utc(2026, 3, 14, 13), "beauty")
    # then c1 gets its 100 birthday points at midnight, once
    assert day.result == {"members": 1, "points": 100}
    clock.now = _utc(2026, 3, 15, 1)
    assert _points(client, syd) == (145, 0)
    assert _run(engine, "birthdays", _utc(2026, 3, 15, 1), "beauty").ran is False

    # when c1 redeems 100 points for A$10 off and uses the code on its next order
    redemption = _redeem(client, syd, ten_off)
    used = client.post(
        f"/v1/coupons/{redemption['code']}/consume", json={"order_id": "o2"}, headers=syd
    )
    assert used.status_code == 200, used.text
    assert (used.json()["status"], used.json()["consumed_order_id"]) == ("consumed", "o2")
    assert _pay(client, syd, clock, "o2", _utc(2026, 6, 20, 2), 6_000, **aud)["points"] == 60
    # then the code is used up, and c1 has 45 + 100 - 100 + 60 points
    check = client.post("/v1/coupons/validate", json={"code": redemption["code"]}, headers=syd)
    assert (check.json()["valid"], check.json()["reason"]) == (False, "already_used")
    assert _points(client, syd) == (105, 0)

    # when c1 pays A$120.00 in November and takes two more A$10 codes
    assert _pay(client, syd, clock, "o3", _utc(2026, 11, 10, 2), 12_000, **aud)["points"] == 120
    first, second = _redeem(client, syd, ten_off), _redeem(client, syd, ten_off)
    assert first["code"] != second["code"]
    # then 25 points are left, too few for a third
    assert _points(client, syd) == (25, 0)
    rows = count_rows(engine)
    refused = client.post(
        "/v1/members/c1/redemptions", json={"reward_id": ten_off["id"]}, headers=syd
    )
    assert refused.status_code == 422, refused.text
    assert count_rows(engine) == rows

    # when the birthdays job runs on c1's birthday in 2027 (midnight in Sydney)
    assert _run(engine, "birthdays", _utc(2027, 3, 14, 12, 59), "beauty").result["points"] == 0
    next_year = _run(engine, "birthdays", _utc(2027, 3, 14, 13), "beauty")
    # then the birthday points come again: once a year
    assert next_year.result == {"members": 1, "points": 100}
    clock.now = _utc(2027, 3, 15)
    assert _points(client, syd) == (125, 0)
    assert _member(client, syd)["balance"]["lifetime_earned"] == 45 + 100 + 60 + 120 + 100
    assert_ledger_ok(engine)


# -- listing and creating ----------------------------------------------------------------

TEMPLATE_NAMES = [
    "starter",
    "sporting-goods",
    "pharmacy",
    "beauty",
    "beauty-charity",
    "bookstore-membership",
    "pharmacy-plus",
    "coop-lifetime",
    "home-coalition",
]


def test_templates_are_listed_with_how_each_works(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/program-templates", headers=tenant.headers)
    assert response.status_code == 200, response.text
    listed = response.json()
    assert [template["name"] for template in listed] == TEMPLATE_NAMES
    assert all(set(t) == {"name", "description"} and t["description"] for t in listed)
    described = {template["name"]: template["description"] for template in listed}
    assert "500 points = 5 off" in described["starter"]
    assert "tripled" in described["sporting-goods"]
    assert "2% back as store credit" in described["pharmacy"]
    assert "birthday" in described["beauty"]


def test_a_read_key_lists_templates_but_only_admin_creates_from_one(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    response = client.post(
        "/v1/keys", json={"name": "shop", "scopes": ["read", "write"]}, headers=tenant.headers
    )
    assert response.status_code == 201, response.text
    shop = {"Authorization": f"Bearer {response.json()['secret']}"}
    assert client.get("/v1/program-templates", headers=shop).status_code == 200
    rows = count_rows(engine)
    body = {"template": "starter", "code": "shop", "currency": "USD"}
    refused = client.post("/v1/programs/from-template", json=body, headers=shop)
    assert refused.status_code == 403, refused.text
    assert count_rows(engine) == rows


def test_each_template_builds_its_program_scaled_to_the_currency(
    client: TestClient, tenant: Tenant
) -> None:
    # a program in yen: amounts are in major units, so "500" is 500 yen, not 5
    body = {"template": "sporting-goods", "code": "yen", "currency": "JPY"}
    created = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    program = created.json()
    assert (program["code"], program["name"], program["time_zone"]) == (
        "yen",
        "Sporting Goods",
        "UTC",
    )
    assert program["earn_rate"] == {"points": 1, "per_amount": 1}
    assert [(level["code"], level["threshold"]) for level in program["tiers"]["levels"]] == [
        ("member", 0),
        ("gold", 500),
    ]
    yen = {**tenant.headers, "Patron-Program": "yen"}
    rewards = client.get("/v1/rewards", headers=yen).json()
    assert [(r["name"], r["points_cost"], r["value"]) for r in rewards] == [
        ("10 off", 1_000, money(10, "JPY"))
    ]
    # the pharmacy's beauty club threshold is 30 of the currency's major unit
    body = {"template": "pharmacy", "code": "kwd", "currency": "KWD", "name": "Pharmacy KW"}
    created = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    assert (created.json()["name"], created.json()["pending_days"]) == ("Pharmacy KW", 30)
    kwd = {**tenant.headers, "Patron-Program": "kwd"}
    club = client.get("/v1/rules/beauty-club", headers=kwd).json()["current"]["spec"]
    assert club["conditions"]["min_subtotal"] == money(30_000, "KWD")
    # every program is listed with the tenant's programs
    listed = client.get("/v1/programs", headers=tenant.headers).json()
    assert [p["code"] for p in listed] == ["main", "yen", "kwd"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"template": "loyalty-deluxe"}, 404, "template"),
        ({"currency": "ZZZ"}, 422, "currency"),
        ({"currency": "usd"}, 422, "currency"),
        ({"time_zone": "Mars/Olympus_Mons"}, 422, "time_zone"),
        ({"code": "Main Shop"}, 422, "code"),
        ({"code": "main"}, 409, "code"),
    ],
    ids=[
        "unknown-template",
        "unknown-currency",
        "lowercase-currency",
        "bad-zone",
        "bad-code",
        "dup",
    ],
)
def test_a_refused_creation_names_the_field_and_writes_nothing(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    spec = {"template": "pharmacy", "code": "shop", "currency": "EUR", "time_zone": "Europe/Paris"}
    rows = count_rows(engine)
    response = client.post("/v1/programs/from-template", json=spec | body, headers=tenant.headers)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field, response.json()
    assert count_rows(engine) == rows
    codes = [p["code"] for p in client.get("/v1/programs", headers=tenant.headers).json()]
    assert codes == ["main"]


def test_a_code_taken_by_another_tenant_is_free_and_a_second_creation_is_409(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    from tests.conftest import make_tenant

    other = make_tenant(engine, "globex")
    spec = {"template": "beauty", "code": "beauty", "currency": "USD"}
    for who in (tenant, other):
        created = client.post("/v1/programs/from-template", json=spec, headers=who.headers)
        assert created.status_code == 201, created.text
    rows = count_rows(engine)
    again = client.post(
        "/v1/programs/from-template", json=spec | {"template": "starter"}, headers=tenant.headers
    )
    assert (again.status_code, again.json()["field"]) == (409, "code")
    assert count_rows(engine) == rows
    # and the first program is as the beauty template made it
    beauty = {**tenant.headers, "Patron-Program": "beauty"}
    assert [r["name"] for r in client.get("/v1/rewards", headers=beauty).json()] == ["10 off"]
    assert client.get("/v1/program", headers=beauty).json()["tiers"] is None


# -- the CLI -----------------------------------------------------------------------------


def _cli(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    url = engine.url.render_as_string(hide_password=False)
    env = {**os.environ, "PATRON_DATABASE_URL": url, "COLUMNS": "300"}
    return subprocess.run(
        [sys.executable, "-m", "patron.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_lists_the_templates(engine: Engine) -> None:
    listed = _cli(engine, "programs", "templates")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert [line.split(":", 1)[0] for line in lines] == TEMPLATE_NAMES
    assert "500 points = 5 off" in lines[0]


def test_cli_creates_a_program_from_a_template_that_the_api_then_serves(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    created = _cli(
        engine,
        "programs",
        "create",
        "--tenant",
        "acme",
        "--template",
        "pharmacy",
        "--code",
        "pharmacy",
        "--currency",
        "EUR",
        "--time-zone",
        "Europe/Paris",
    )
    assert created.returncode == 0, created.stdout + created.stderr
    assert "created program 'pharmacy' from template 'pharmacy'" in created.stdout
    programs = client.get("/v1/programs", headers=tenant.headers).json()
    assert [(p["code"], p["name"], p["time_zone"]) for p in programs] == [
        ("main", "acme rewards", "UTC"),
        ("pharmacy", "Pharmacy", "Europe/Paris"),
    ]
    pharmacy = {**tenant.headers, "Patron-Program": "pharmacy"}
    rules = client.get("/v1/rules", headers=pharmacy).json()
    assert sorted(rule["code"] for rule in rules) == ["beauty-club", "birthday", "cashback"]
    rewards = client.get("/v1/rewards", headers=pharmacy).json()
    assert [(r["name"], r["points_cost"]) for r in rewards] == [
        ("3 birthday reward", 300),
        ("Beauty club gift (5 off)", 500),
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--tenant", "nobody", "--template", "starter", "--code", "x"), "no tenant 'nobody'"),
        (("--tenant", "acme", "--template", "deluxe", "--code", "x"), "no template 'deluxe'"),
        (("--tenant", "acme", "--template", "starter", "--code", "main"), "exists"),
        (
            ("--tenant", "acme", "--template", "starter", "--code", "x", "--time-zone", "Mars/X"),
            "unknown time zone",
        ),
    ],
    ids=["unknown-tenant", "unknown-template", "duplicate-code", "bad-zone"],
)
def test_cli_refuses_a_bad_creation_and_writes_nothing(
    engine: Engine, tenant: Tenant, args: tuple[str, ...], message: str
) -> None:
    rows = count_rows(engine)
    refused = _cli(engine, "programs", "create", "--currency", "USD", *args)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert message in refused.stdout
    assert count_rows(engine) == rows
