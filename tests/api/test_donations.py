"""Charity donations through the API: points donated in steps to a charity, their money
value and the brand's matching fixed when donated, receipts, yearly summaries, the payout
report (JSON and CSV) over periods of the program's time zone, bad inputs that write
nothing, and a donation racing redemptions for the same points (PostgreSQL)."""

from __future__ import annotations

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from patron.db.tables import donations, ledger_entries, outbox
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, utc
from tests.integration.conftest import live_server  # noqa: F401  (fixture)

NEW_YORK = "America/New_York"


@pytest.fixture
def acme(engine: Engine) -> Tenant:
    """A program in New York where 3 points are worth 2 cents (1 point per 1.00 spent)."""
    return make_tenant(engine, "acme", time_zone=NEW_YORK, point_value={"points": 3, "amount": 2})


def _charity(client: TestClient, tenant: Tenant, code: str, **terms: Any) -> dict[str, Any]:
    body = {"code": code, "name": code.title(), **terms}
    response = client.post("/v1/charities", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _earn(client: TestClient, tenant: Tenant, customer: str, points: int) -> None:
    """`points` available points for `customer` (an order of `points` dollars)."""
    body = order(f"o-{customer}-{points}", customer, lines=[(1, points * 100)])
    response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    assert response.json()["points"] == points


def _donate(
    client: TestClient, tenant: Tenant, customer: str, charity: dict[str, Any], points: int
) -> httpx.Response:
    body = {"charity_id": charity["id"], "points": points}
    response: httpx.Response = client.post(
        f"/v1/members/{customer}/donations", json=body, headers=tenant.headers
    )
    return response


def _donated(
    client: TestClient, tenant: Tenant, customer: str, charity: dict[str, Any], points: int
) -> dict[str, Any]:
    response = _donate(client, tenant, customer, charity, points)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _available(client: TestClient, tenant: Tenant, customer: str) -> int:
    member = client.get(f"/v1/members/{customer}", headers=tenant.headers).json()
    return int(member["balance"]["available"])


@pytest.fixture
def november(client: TestClient, engine: Engine, clock: Clock, acme: Tenant) -> dict[str, Any]:
    """Three charities and five donations in November 2026 (New York), one in December.

    value = floor(points * 2 / 3); matching = floor(value * percent / 100):

    | donor | charity (match)  | points | value | matching | local time          |
    | alice | water (50%)      | 150    | 100   | 50       | Nov 2 09:00         |
    | alice | trees (0%)       | 100    | 66    | 0        | Nov 2 09:00         |
    | bob   | water            | 70     | 46    | 23       | Nov 15 12:00        |
    | bob   | shelter (25%)    | 35     | 23    | 5        | Nov 15 12:00        |
    | carol | water            | 200    | 133   | 66       | Nov 30 23:30 (Dec 1 04:30 UTC) |
    | carol | trees            | 50     | 33    | 0        | Dec 1 00:30         |
    """
    water = _charity(client, acme, "water", points_step=10, min_points=50, matching_percent=50)
    trees = _charity(client, acme, "trees")
    shelter = _charity(client, acme, "shelter", points_step=5, matching_percent=25)
    clock.now = utc(2026, 11, 2, 14)  # 09:00 in New York
    for customer, points in (("alice", 300), ("bob", 200), ("carol", 250)):
        _earn(client, acme, customer, points)
    _donated(client, acme, "alice", water, 150)
    _donated(client, acme, "alice", trees, 100)
    clock.now = utc(2026, 11, 15, 17)
    _donated(client, acme, "bob", water, 70)
    _donated(client, acme, "bob", shelter, 35)
    clock.now = utc(2026, 12, 1, 4, 30)  # 23:30 on Nov 30 in New York
    last = _donated(client, acme, "carol", water, 200)
    clock.now = utc(2026, 12, 1, 5, 30)  # 00:30 on Dec 1 in New York
    _donated(client, acme, "carol", trees, 50)
    assert_ledger_ok(engine)
    return {"water": water, "trees": trees, "shelter": shelter, "last_of_november": last}


def test_donation_moves_points_and_fixes_value_and_matching(
    client: TestClient, engine: Engine, clock: Clock, acme: Tenant
) -> None:
    # given alice with 300 points and a charity matched at 50%, in steps of 10 from 50
    water = _charity(client, acme, "water", points_step=10, min_points=50, matching_percent=50)
    _earn(client, acme, "alice", 300)
    # when she donates 160 points
    receipt = _donated(client, acme, "alice", water, 160)
    # then 160 points worth floor(160 * 2 / 3) = 106 cents are donated, matched by 53
    assert receipt["customer_id"] == "alice"
    assert receipt["charity"] == {"id": water["id"], "code": "water", "name": "Water"}
    assert receipt["points"] == 160
    assert (receipt["value"], receipt["matching"], receipt["total"]) == (
        money(106),
        money(53),
        money(159),
    )
    assert receipt["donated_at"] == "2026-03-01T12:00:00Z"
    assert receipt["local_date"] == "2026-03-01"
    assert _available(client, acme, "alice") == 140
    # and the ledger moved the points to the program's donated account
    with engine.connect() as connection:
        entries = connection.execute(
            select(ledger_entries.c.account, ledger_entries.c.amount)
            .where(ledger_entries.c.transaction_id == receipt["transaction_id"])
            .order_by(ledger_entries.c.amount)
        ).all()
        announced = connection.execute(
            select(outbox.c.payload).where(outbox.c.type == "points.donated")
        ).scalar_one()
    assert [tuple(entry) for entry in entries] == [
        ("member:1:available", -160),
        ("program:1:donated", 160),
    ]
    assert announced == {
        "customer_id": "alice",
        "donation_id": receipt["id"],
        "charity_id": water["id"],
        "points": 160,
        "value": 106,
        "matching": 53,
        "currency": "USD",
    }
    ledger = client.get("/v1/members/alice/ledger", headers=acme.headers).json()["data"]
    assert ledger[0]["kind"] == "donate"
    # and the receipt reads back as it was, even after the charity's matching changes
    update = {"name": "Water", "matching_percent": 100, "points_step": 10, "min_points": 50}
    assert client.put(f"/v1/charities/{water['id']}", json=update, headers=acme.headers).is_success
    seen = client.get(f"/v1/donations/{receipt['id']}", headers=acme.headers).json()
    assert seen == receipt
    assert_ledger_ok(engine)


def test_donation_spends_the_lots_expiring_first(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given points that expire 12 months after the month they were earned in
    expiry = {"kind": "fixed", "months": 12, "round_to": "month"}
    tenant = make_tenant(engine, "lots", expiry=expiry)
    trees = _charity(client, tenant, "trees")
    _earn(client, tenant, "c1", 100)  # March 2026: expires 2027-04-01
    clock.now = utc(2026, 6, 1, 12)
    _earn(client, tenant, "c1", 50)  # June 2026: expires 2027-07-01
    # when 120 points are donated
    receipt = _donated(client, tenant, "c1", trees, 120)
    # then the 100 March points go first, then 20 of June's
    with engine.connect() as connection:
        taken = connection.execute(
            select(ledger_entries.c.lot_id, ledger_entries.c.amount)
            .where(
                ledger_entries.c.transaction_id == receipt["transaction_id"],
                ledger_entries.c.lot_id.is_not(None),
            )
            .order_by(ledger_entries.c.lot_id)
        ).all()
    assert [tuple(row) for row in taken] == [(1, -100), (2, -20)]
    assert _available(client, tenant, "c1") == 30
    assert_ledger_ok(engine)


def test_payout_report_for_a_month_in_the_programs_time_zone(
    client: TestClient, acme: Tenant, november: dict[str, Any]
) -> None:
    # when the November payouts are asked for
    response = client.get("/v1/charities/payouts?period=2026-11", headers=acme.headers)
    # then carol's donation at 23:30 on Nov 30 (New York) counts, her Dec 1 one does not
    assert response.status_code == 200, response.text
    report = response.json()
    assert {k: report[k] for k in ("period", "time_zone", "from", "to", "currency")} == {
        "period": "2026-11",
        "time_zone": NEW_YORK,
        "from": "2026-11-01",
        "to": "2026-11-30",
        "currency": "USD",
    }
    assert (report["starts_at"], report["ends_at"]) == (
        "2026-11-01T04:00:00Z",
        "2026-12-01T05:00:00Z",
    )
    lines = [
        (
            line["charity"]["code"],
            line["donations"],
            line["donors"],
            line["points"],
            line["value"]["amount"],
            line["matching"]["amount"],
            line["total"]["amount"],
        )
        for line in report["charities"]
    ]
    assert lines == [
        ("shelter", 1, 1, 35, 23, 5, 28),
        ("trees", 1, 1, 100, 66, 0, 66),
        ("water", 3, 3, 420, 279, 139, 418),
    ]
    assert report["totals"] == {
        "donations": 5,
        "donors": 3,
        "points": 555,
        "value": money(368),
        "matching": money(144),
        "total": money(512),
    }
    # and December has only carol's 50 points to trees
    december = client.get("/v1/charities/payouts?period=2026-12", headers=acme.headers).json()
    assert [(x["charity"]["code"], x["points"]) for x in december["charities"]] == [("trees", 50)]
    assert december["totals"]["value"] == money(33)


def test_payout_report_by_quarter_year_and_dates(
    client: TestClient, acme: Tenant, november: dict[str, Any]
) -> None:
    def totals(query: str) -> tuple[int, int, int]:
        response = client.get(f"/v1/charities/payouts?{query}", headers=acme.headers)
        assert response.status_code == 200, response.text
        found = response.json()["totals"]
        return found["donations"], found["donors"], found["points"]

    assert totals("period=2026-Q4") == (6, 3, 605)
    assert totals("period=2026") == (6, 3, 605)
    assert totals("period=2026-Q3") == (0, 0, 0)
    # from/to are local days, both included: Nov 30 takes carol's 23:30 donation
    assert totals("from=2026-11-30&to=2026-11-30") == (1, 1, 200)
    assert totals("from=2026-11-02&to=2026-11-14") == (2, 1, 250)
    assert totals("from=2026-12-01&to=2026-12-31") == (1, 1, 50)
    # and with nothing given, the current local month (now Dec 1, 00:30 in New York)
    assert totals("") == (1, 1, 50)


def test_payout_report_as_csv(client: TestClient, acme: Tenant, november: dict[str, Any]) -> None:
    # when the November payouts are asked for as CSV (by Accept, or by ?format=csv)
    headers = {**acme.headers, "Accept": "text/csv"}
    response = client.get("/v1/charities/payouts?period=2026-11", headers=headers)
    by_format = client.get("/v1/charities/payouts?period=2026-11&format=csv", headers=acme.headers)
    # then it is a CSV with a header, every field quoted, amounts in minor units
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == (
        'attachment; filename="charity-payouts-main-2026-11.csv"'
    )
    assert by_format.text == response.text
    ids = {code: november[code]["id"] for code in ("water", "trees", "shelter")}
    assert response.text.splitlines()[0] == (
        '"period","charity_id","charity_code","charity_name","donations","donors","points",'
        '"value_amount","matching_amount","total_amount","currency"'
    )
    assert response.text.splitlines()[1] == (
        f'"2026-11","{ids["shelter"]}","shelter","Shelter","1","1","35","23","5","28","USD"'
    )
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [
        (r["charity_code"], r["points"], r["value_amount"], r["total_amount"]) for r in rows
    ] == [
        ("shelter", "35", "23", "28"),
        ("trees", "100", "66", "66"),
        ("water", "420", "279", "418"),
    ]


def test_csv_quotes_names_with_commas_and_quotes(
    client: TestClient, clock: Clock, acme: Tenant
) -> None:
    # given a charity whose name has a comma and quotes
    body = {"code": "kids", "name": 'Kids, "First"'}
    kids = client.post("/v1/charities", json=body, headers=acme.headers).json()
    _earn(client, acme, "alice", 30)
    _donated(client, acme, "alice", kids, 30)
    # then the CSV keeps the name as one field
    text = client.get("/v1/charities/payouts?period=2026-03&format=csv", headers=acme.headers).text
    (row,) = list(csv.DictReader(io.StringIO(text)))
    assert (row["charity_name"], row["value_amount"]) == ('Kids, "First"', "20")
    assert '"Kids, ""First"""' in text


def test_member_receipts_and_yearly_summary(
    client: TestClient, acme: Tenant, november: dict[str, Any]
) -> None:
    # when carol lists her donations, one per page
    first = client.get("/v1/members/carol/donations?limit=1", headers=acme.headers).json()
    second = client.get(
        f"/v1/members/carol/donations?limit=1&cursor={first['next_cursor']}", headers=acme.headers
    ).json()
    # then the newest comes first, and her Nov 30 donation is dated Nov 30 locally
    assert [d["charity"]["code"] for d in first["data"] + second["data"]] == ["trees", "water"]
    assert second["next_cursor"] is None
    last = second["data"][0]
    assert last == november["last_of_november"]
    assert (last["donated_at"], last["local_date"]) == ("2026-12-01T04:30:00Z", "2026-11-30")
    # and her 2026 summary sums per charity
    summary = client.get("/v1/members/carol/donations/summary?year=2026", headers=acme.headers)
    assert summary.status_code == 200, summary.text
    assert summary.json() == {
        "customer_id": "carol",
        "year": 2026,
        "charities": [
            {
                "charity": {"id": november["trees"]["id"], "code": "trees", "name": "Trees"},
                "donations": 1,
                "points": 50,
                "value": money(33),
                "matching": money(0),
                "total": money(33),
            },
            {
                "charity": {"id": november["water"]["id"], "code": "water", "name": "Water"},
                "donations": 1,
                "points": 200,
                "value": money(133),
                "matching": money(66),
                "total": money(199),
            },
        ],
        "totals": {
            "donations": 2,
            "points": 250,
            "value": money(166),
            "matching": money(66),
            "total": money(232),
        },
    }
    empty = client.get("/v1/members/carol/donations/summary?year=2025", headers=acme.headers)
    assert empty.json()["totals"]["donations"] == 0
    this_year = client.get("/v1/members/carol/donations/summary", headers=acme.headers)
    assert this_year.json() == summary.json()


def test_bad_donations_are_refused_and_write_nothing(
    client: TestClient, engine: Engine, acme: Tenant
) -> None:
    # given alice with 100 points, bob blocked, a charity in steps of 10 from 50, one inactive
    water = _charity(client, acme, "water", points_step=10, min_points=50)
    closed = _charity(client, acme, "closed", active=False)
    _earn(client, acme, "alice", 100)
    _earn(client, acme, "bob", 100)
    client.patch("/v1/members/bob", json={"status": "blocked"}, headers=acme.headers)
    unknown = {"id": "chr_0000000000000000"}
    cases = [
        ("alice", water, 110, 422, "insufficient-points", "points"),
        ("alice", water, 55, 422, "invalid-input", "points"),
        ("alice", water, 40, 422, "invalid-input", "points"),
        ("alice", water, 0, 422, "validation-failed", "points"),
        ("alice", closed, 10, 422, "charity-inactive", "charity_id"),
        ("alice", unknown, 10, 404, "not-found", "charity_id"),
        ("nobody", water, 50, 404, "not-found", "customer_id"),
        ("bob", water, 50, 422, "member-blocked", "customer_id"),
    ]
    rows = count_rows(engine)
    for customer, charity, points, status, code, field in cases:
        # when each bad donation is attempted
        response = _donate(client, acme, customer, charity, points)
        # then it is a problem naming the field, and nothing is written
        assert response.status_code == status, (customer, points, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert (response.json()["code"], response.json()["field"]) == (code, field)
        assert count_rows(engine) == rows
    assert _available(client, acme, "alice") == 100
    # and exactly the whole balance can be donated
    assert _donated(client, acme, "alice", water, 100)["value"] == money(66)
    assert _available(client, acme, "alice") == 0
    assert_ledger_ok(engine)


def test_donation_is_idempotent(client: TestClient, engine: Engine, acme: Tenant) -> None:
    trees = _charity(client, acme, "trees")
    _earn(client, acme, "alice", 100)
    headers = {**acme.headers, "Idempotency-Key": "donate-1"}
    body = {"charity_id": trees["id"], "points": 30}
    # when the same donation is sent twice with one key
    first = client.post("/v1/members/alice/donations", json=body, headers=headers)
    again = client.post("/v1/members/alice/donations", json=body, headers=headers)
    # then it is made once, and the retry replays the first receipt
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert count_rows(engine)["donations"] == 1
    assert _available(client, acme, "alice") == 70
    # and the same key with another body is a conflict
    other = client.post("/v1/members/alice/donations", json={**body, "points": 40}, headers=headers)
    assert (other.status_code, other.json()["code"]) == (409, "idempotency-key-reused")
    assert_ledger_ok(engine)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2026-13", "period"),
        ("period=November", "period"),
        ("period=2026-Q5", "period"),
        ("to=2026-11-01", "from"),
        ("from=2026-11-01", "to"),
        ("period=2026-11&from=2026-11-01&to=2026-11-02", "period"),
        ("from=2026-11-02&to=2026-11-01", "to"),
        ("from=2026-01-01&to=2027-01-02", "to"),
        ("from=2026-11-31&to=2026-12-01", "from"),
    ],
)
def test_bad_payout_periods_are_422(
    client: TestClient, acme: Tenant, query: str, field: str
) -> None:
    response = client.get(f"/v1/charities/payouts?{query}", headers=acme.headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


@pytest.mark.postgres_only
def test_donations_racing_redemptions_for_the_same_points(
    live_server: str,  # noqa: F811
    pg: Engine,
    acme: Tenant,
) -> None:
    # given a member whose 1,000 points pay for 10 rewards or donations of 100 points
    headers = acme.headers
    reward = httpx.post(
        f"{live_server}/v1/rewards",
        headers=headers,
        json={"name": "$1 off", "points_cost": 100, "value": money(100)},
    ).json()
    trees = httpx.post(
        f"{live_server}/v1/charities", headers=headers, json={"code": "trees", "name": "Trees"}
    ).json()
    earned = httpx.post(
        f"{live_server}/v1/orders", headers=headers, json=order("o1", "racer", lines=[(1, 100_000)])
    ).json()
    assert earned["points"] == 1000
    # when 10 redemptions and 10 donations of 100 points arrive at once
    requests = [("redemptions", {"reward_id": reward["id"]})] * 10
    requests += [("donations", {"charity_id": trees["id"], "points": 100})] * 10
    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        futures = [
            pool.submit(
                httpx.post,
                f"{live_server}/v1/members/racer/{kind}",
                json=body,
                headers=headers,
                timeout=60,
            )
            for kind, body in requests
        ]
        responses = [future.result() for future in futures]
    # then exactly 10 win, the others get 422 insufficient-points, and nothing is overspent
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] * 10 + [422] * 10
    assert {r.json()["code"] for r in responses if r.status_code == 422} == {"insufficient-points"}
    won_donations = sum(
        1
        for (kind, _), r in zip(requests, responses, strict=True)
        if kind == "donations" and r.status_code == 201
    )
    with pg.connect() as connection:
        rows = connection.execute(select(donations.c.points)).scalars().all()
    assert len(rows) == won_donations and sum(rows) == 100 * won_donations
    member = httpx.get(f"{live_server}/v1/members/racer", headers=headers).json()
    assert member["balance"]["available"] == 0
    assert_ledger_ok(pg)
