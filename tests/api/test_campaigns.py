"""Campaigns through the API with a controlled clock: birthdays across time zones and leap
days, anniversaries, welcome offers, weekend bonuses, win-back once per lapse,
appreciation capacity, the report, and bad input that writes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.worker.jobs import run_job
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import assert_ledger_ok, money, order, refund, run_one_job, utc


def _campaign(client: TestClient, tenant: Tenant, code: str, **spec: Any) -> dict[str, Any]:
    body = {"code": code, "name": code.title(), **spec}
    created = client.post("/v1/campaigns", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    return dict(created.json())


def _enrol(
    client: TestClient, tenant: Tenant, customer: str, birthday: str | None = None, **extra: Any
) -> None:
    body = {"external_id": customer, "birthday": birthday, **extra}
    enrolled = client.post("/v1/members", json=body, headers=tenant.headers)
    assert enrolled.status_code == 201, enrolled.text


def _points(client: TestClient, tenant: Tenant, customer: str) -> int:
    member = client.get(f"/v1/members/{customer}", headers=tenant.headers).json()
    return int(member["balance"]["available"])


def _coupons(client: TestClient, tenant: Tenant, customer: str) -> list[dict[str, Any]]:
    found = client.get(f"/v1/members/{customer}/redemptions", headers=tenant.headers)
    assert found.status_code == 200, found.text
    return list(found.json())


def _reward(client: TestClient, tenant: Tenant, code: str = "gift5", **extra: Any) -> None:
    body = {"name": "$5 off", "code": code, "points_cost": 500, "value": money(500)}
    created = client.post("/v1/rewards", json=body | extra, headers=tenant.headers)
    assert created.status_code == 201, created.text


def _segment(client: TestClient, tenant: Tenant, code: str, tag: str) -> None:
    body = {"code": code, "name": code, "filter": {"tags": {"any": [tag]}}}
    created = client.post("/v1/segments", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text


def _job(engine: Engine, at: datetime) -> dict[str, Any]:
    """Run the campaigns job for the one program; what each campaign granted."""
    run = run_one_job(engine, "campaigns", at)
    assert run.ran, run
    return dict(run.result["campaigns"])


def _report(client: TestClient, tenant: Tenant, code: str, days: int = 30) -> dict[str, Any]:
    found = client.get(f"/v1/campaigns/{code}/report?days={days}", headers=tenant.headers)
    assert found.status_code == 200, found.text
    return dict(found.json())


# --- birthdays ----------------------------------------------------------------------------


def test_birthday_on_the_day_at_local_midnight_in_taipei_and_new_york(
    client: TestClient, engine: Engine
) -> None:
    # given two programs, in Taipei (UTC+8) and New York (UTC-4 in March), each with a
    # birthday campaign of 100 points on the day, and a member born on 15 March
    taipei = make_tenant(engine, "taipei", time_zone="Asia/Taipei")
    new_york = make_tenant(engine, "new-york", time_zone="America/New_York")
    for tenant in (taipei, new_york):
        _campaign(client, tenant, "bday", kind="birthday", timing="day", offer={"points": 100})
        _enrol(client, tenant, "c1", "1990-03-15")

    def granted(at: datetime) -> list[int]:
        runs = run_job(engine, "campaigns", at)
        assert_ledger_ok(engine)
        return [run.result["campaigns"]["bday"]["members"] if run.ran else -1 for run in runs]

    # when the job runs a minute before Taipei's midnight (15:59 UTC on 14 March): nothing
    assert granted(utc(2026, 3, 14, 15, 59)) == [0, 0]
    # at Taipei's midnight (16:00 UTC): the Taipei member only
    assert granted(utc(2026, 3, 14, 16, 0)) == [1, -1]  # New York's 14 March already ran
    # a minute before New York's midnight (03:59 UTC on the 15th): still New York's 14th
    assert granted(utc(2026, 3, 15, 3, 59)) == [-1, -1]
    # at New York's midnight (04:00 UTC): the New York member
    assert granted(utc(2026, 3, 15, 4, 0)) == [-1, 1]
    # then each has 100 points, once, however often the job runs in the next days
    for day in (16, 17, 20):
        assert granted(utc(2026, 3, day, 12, 0)) == [0, 0]
    assert [_points(client, tenant, "c1") for tenant in (taipei, new_york)] == [100, 100]
    assert _report(client, taipei, "bday")["rewards_issued"] == 1


def test_a_feb_29_birthday_is_celebrated_on_feb_28_in_2027(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a Taipei program with a birthday coupon on the day and one in the month
    tenant = make_tenant(engine, "leap", time_zone="Asia/Taipei")
    _reward(client, tenant)
    _campaign(client, tenant, "day", kind="birthday", timing="day", offer={"reward": "gift5"})
    _campaign(client, tenant, "month", kind="birthday", timing="month", offer={"points": 29})
    _enrol(client, tenant, "leapling", "2000-02-29")
    # when the job runs through February 2027 (not a leap year)
    assert _job(engine, utc(2027, 1, 31, 15, 59)) == {
        "day": {"members": 0, "points": 0, "coupons": 0, "stopped": None},
        "month": {"members": 0, "points": 0, "coupons": 0, "stopped": None},
    }
    # then the month's points come on 1 February (local), the coupon on 28 February
    first = _job(engine, utc(2027, 1, 31, 16, 0))  # 1 Feb 00:00 in Taipei
    assert (first["day"]["members"], first["month"]["members"]) == (0, 1)
    assert _job(engine, utc(2027, 2, 27, 15, 59))["day"]["members"] == 0  # 27 Feb 23:59
    assert _job(engine, utc(2027, 2, 27, 16, 0))["day"] == {
        "members": 1,
        "points": 0,
        "coupons": 1,
        "stopped": None,
    }
    # and nothing more on 1 March (the catch-up window still covers 28 February)
    later = _job(engine, utc(2027, 2, 28, 16, 0))
    assert (later["day"]["members"], later["month"]["members"]) == (0, 0)
    assert _points(client, tenant, "leapling") == 29
    assert len(_coupons(client, tenant, "leapling")) == 1


def test_a_birthday_set_too_recently_is_not_rewarded_that_year(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a New York program: 50 points in the birthday month, if the birthday was set
    # at least 30 days before the month began
    tenant = make_tenant(engine, "guard", time_zone="America/New_York")
    _campaign(
        client,
        tenant,
        "bday",
        kind="birthday",
        timing="month",
        min_days_set=30,
        offer={"points": 50},
    )
    # c1 sets an April birthday on 1 March 12:00 UTC (30 days and 16 hours before 1 April
    # 00:00 in New York); c2 enrols then but sets it on 2 March 12:00 UTC (29 days and 16
    # hours before)
    _enrol(client, tenant, "c1", "1985-04-10")
    _enrol(client, tenant, "c2")
    clock.advance(days=1)
    patched = client.patch(
        "/v1/members/c2", json={"birthday": "1985-04-20"}, headers=tenant.headers
    )
    assert patched.status_code == 200, patched.text
    # when the job runs in April 2026: c1 only
    assert _job(engine, utc(2026, 4, 1, 4, 0))["bday"]["members"] == 1
    assert _job(engine, utc(2026, 4, 20, 4, 0))["bday"]["members"] == 0
    assert (_points(client, tenant, "c1"), _points(client, tenant, "c2")) == (50, 0)
    # and in April 2027 both (c2's birthday has been set long enough by then)
    assert _job(engine, utc(2027, 4, 1, 4, 0))["bday"]["members"] == 2
    assert (_points(client, tenant, "c1"), _points(client, tenant, "c2")) == (100, 50)


# --- anniversary, welcome -----------------------------------------------------------------


def test_anniversary_on_the_local_enrolment_date_once_a_year(
    client: TestClient, engine: Engine
) -> None:
    # given a Taipei program; c1 enrols on 1 March 2026 at 12:00 UTC (20:00 local)
    tenant = make_tenant(engine, "anniv", time_zone="Asia/Taipei")
    _campaign(client, tenant, "anniv", kind="anniversary", offer={"points": 365})
    _enrol(client, tenant, "c1")
    # when the job runs on the day of enrolment: no anniversary yet
    assert _job(engine, utc(2026, 3, 1, 13, 0))["anniv"]["members"] == 0
    # on 28 February 2027 at 23:59 local: not yet; at local midnight of 1 March: granted
    assert _job(engine, utc(2027, 2, 28, 15, 59))["anniv"]["members"] == 0
    assert _job(engine, utc(2027, 2, 28, 16, 0))["anniv"]["members"] == 1
    # and the next days give nothing more; the next year gives it again
    assert _job(engine, utc(2027, 3, 2, 16, 0))["anniv"]["members"] == 0
    assert _job(engine, utc(2028, 3, 1, 1, 0))["anniv"]["members"] == 1
    assert _points(client, tenant, "c1") == 730


def test_a_late_job_catches_up_within_its_window(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given an anniversary campaign looking back 3 days, and two members enrolled a year
    # before 10 and 12 March 2027
    tenant = make_tenant(engine, "late")
    _campaign(client, tenant, "anniv", kind="anniversary", catch_up_days=3, offer={"points": 1})
    clock.now = utc(2026, 3, 10, 9, 0)
    _enrol(client, tenant, "c1")
    clock.now = utc(2026, 3, 12, 9, 0)
    _enrol(client, tenant, "c2")
    # when the job was down from 9 to 13 March 2027 and runs on the 14th
    # then c2 (2 days ago) is caught up; c1 (4 days ago) is outside the window
    assert _job(engine, utc(2027, 3, 14, 9, 0))["anniv"]["members"] == 1
    assert (_points(client, tenant, "c1"), _points(client, tenant, "c2")) == (0, 1)


def test_welcome_offer_once_on_every_enrolment_path(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given a welcome coupon
    _reward(client, tenant, code="welcome")
    _campaign(client, tenant, "hello", kind="welcome", offer={"reward": "welcome"})
    # when c1 enrols through the API and c2 by its first order (auto-enrolment)
    _enrol(client, tenant, "c1")
    paid = client.post("/v1/orders", json=order("o1", "c2"), headers=tenant.headers)
    assert paid.status_code == 201, paid.text
    # then each has one coupon; enrolling c1 again is refused and gives nothing
    again = client.post("/v1/members", json={"external_id": "c1"}, headers=tenant.headers)
    assert again.status_code == 409
    assert [len(_coupons(client, tenant, c)) for c in ("c1", "c2")] == [1, 1]
    assert _coupons(client, tenant, "c1")[0]["points"] == 0
    report = _report(client, tenant, "hello")
    assert (report["targeted"], report["rewards_issued"], report["coupons_issued"]) == (2, 2, 2)
    assert _points(client, tenant, "c1") == 0
    assert_ledger_ok(engine)


def test_welcome_points_for_members_enrolled_by_a_batch_of_orders(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given 25 welcome points for the "vip" segment only
    _segment(client, tenant, "vip", "vip")
    _campaign(client, tenant, "hi", kind="welcome", segment="vip", offer={"points": 25})
    # when a batch of orders enrols a vip and another customer
    vip = {"tags": ["vip"]}
    batch = {
        "orders": [
            order("o1", "v1", lines=[(1, 1_000)], customer=vip),
            order("o2", "c2", lines=[(1, 1_000)]),
            order("o3", "v1", lines=[(1, 1_000)]),
        ]
    }
    sent = client.post("/v1/orders/batch", json=batch, headers=tenant.headers)
    assert sent.status_code == 200, sent.text
    # then the vip has its 2 x 10 points and the welcome once; the other only its 10
    assert (_points(client, tenant, "v1"), _points(client, tenant, "c2")) == (45, 10)
    assert_ledger_ok(engine)


# --- bonus --------------------------------------------------------------------------------


def test_weekend_double_points_only_for_the_segment_in_the_window(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    # given a "vip" segment and double points for it from Saturday 7 to Monday 9 March
    _segment(client, tenant, "vip", "vip")
    _enrol(client, tenant, "vip1", tags=["vip"])
    _enrol(client, tenant, "c2")
    created = _campaign(
        client,
        tenant,
        "weekend",
        kind="bonus",
        segment="vip",
        multiplier="2",
        starts_at="2026-03-07T00:00:00Z",
        ends_at="2026-03-09T00:00:00Z",
    )
    assert created["rule"] == "campaign-weekend"

    def pay(order_id: str, customer: str, at: datetime) -> dict[str, Any]:
        body = order(order_id, customer, lines=[(1, 5_000)], occurred_at=at)
        paid = client.post("/v1/orders", json=body, headers=tenant.headers)
        assert paid.status_code == 201, paid.text
        return dict(paid.json())

    # when vip1 and c2 pay $50 on Saturday, and vip1 again on Monday
    vip_saturday = pay("o1", "vip1", utc(2026, 3, 7, 10, 0))
    other_saturday = pay("o2", "c2", utc(2026, 3, 7, 10, 0))
    vip_monday = pay("o3", "vip1", utc(2026, 3, 9, 0, 0))
    # then only vip1's Saturday order is doubled, and the explanation says by which rule
    assert (vip_saturday["points"], other_saturday["points"], vip_monday["points"]) == (
        100,
        50,
        50,
    )
    applied = [entry for entry in vip_saturday["explanation"]["rules"] if entry["rule"] != "base"]
    assert [(entry["rule"], entry["applied"], entry["points"]) for entry in applied] == [
        ("campaign-weekend", True, 50)
    ]
    # and the report counts the one multiplied order and what vip1 paid in the 30 days
    report = _report(client, tenant, "weekend")
    assert (report["targeted"], report["rewards_issued"], report["points_issued"]) == (1, 1, 50)
    assert report["revenue"] == money(10_000)
    # when the campaign is switched off, the rule is too (a new version)
    body = {k: v for k, v in created["spec"].items()} | {"active": False}
    off = client.put("/v1/campaigns/weekend", json=body, headers=tenant.headers)
    assert off.status_code == 200, off.text
    assert pay("o4", "vip1", utc(2026, 3, 8, 10, 0))["points"] == 50
    # and the managed rule cannot be changed, nor a rule taken, under the reserved prefix
    before = count_rows(engine)
    rule = {
        "name": "x",
        "trigger": "order.paid",
        "award": {"kind": "multiplier", "multiplier": "5"},
    }
    revised = client.put("/v1/rules/campaign-weekend", json=rule, headers=tenant.headers)
    taken = client.post(
        "/v1/rules", json={"code": "campaign-other", **rule}, headers=tenant.headers
    )
    assert [(r.status_code, r.json()["field"]) for r in (revised, taken)] == [
        (422, "code"),
        (422, "code"),
    ]
    assert count_rows(engine) == before
    assert_ledger_ok(engine)


# --- win-back -----------------------------------------------------------------------------


def test_win_back_once_per_lapse(client: TestClient, engine: Engine, tenant: Tenant) -> None:
    # given 200 points to members without an order for 30 days
    _campaign(client, tenant, "miss-you", kind="win_back", lapse_days=30, offer={"points": 200})
    client.post("/v1/orders", json=order("o1", "c1", lines=[(1, 1_000)]), headers=tenant.headers)
    # when the job runs 29 days after c1's order: nothing; 30 days after: the offer
    assert _job(engine, utc(2026, 3, 30, 12, 0))["miss-you"]["members"] == 0
    assert _job(engine, utc(2026, 3, 31, 12, 0))["miss-you"] == {
        "members": 1,
        "points": 200,
        "coupons": 0,
        "stopped": None,
    }
    # and the same lapse gives nothing again, however often the job runs
    assert _job(engine, utc(2026, 4, 1, 12, 0))["miss-you"]["members"] == 0
    assert _job(engine, utc(2026, 4, 4, 12, 0))["miss-you"]["members"] == 0
    # when c1 orders again on 5 April and lapses again 30 days later: a second offer
    later = order("o2", "c1", lines=[(1, 1_000)], occurred_at=utc(2026, 4, 5, 12, 0))
    assert client.post("/v1/orders", json=later, headers=tenant.headers).status_code == 201
    assert _job(engine, utc(2026, 5, 4, 12, 0))["miss-you"]["members"] == 0
    assert _job(engine, utc(2026, 5, 5, 12, 0))["miss-you"]["members"] == 1
    assert _job(engine, utc(2026, 5, 6, 12, 0))["miss-you"]["members"] == 0
    # then c1 has 10 + 10 points of its orders and 2 x 200 of the campaign
    assert _points(client, tenant, "c1") == 420
    ledger = client.get("/v1/members/c1/ledger", headers=tenant.headers).json()["data"]
    assert [tx["kind"] for tx in ledger] == ["campaign", "earn", "campaign", "earn"]


# --- appreciation -------------------------------------------------------------------------


def test_appreciation_invites_the_segment_up_to_capacity(
    client: TestClient, engine: Engine, tenant: Tenant, clock: Clock
) -> None:
    # given event access for the first 2 members of the "vip" segment (3 vips, 1 other)
    _reward(client, tenant, code="gala", stock=10)
    _segment(client, tenant, "vip", "vip")
    for customer, tags in (("v1", ["vip"]), ("c2", []), ("v3", ["vip"]), ("v4", ["vip"])):
        _enrol(client, tenant, customer, tags=tags)
        clock.advance(minutes=1)
    _campaign(
        client,
        tenant,
        "gala",
        kind="appreciation",
        segment="vip",
        capacity=2,
        offer={"reward": "gala"},
    )
    # when the merchant runs it: the first two vips by enrolment are invited
    ran = client.post("/v1/campaigns/gala/run", headers=tenant.headers)
    assert ran.status_code == 200, ran.text
    assert ran.json() == {
        "campaign": "gala",
        "members": 2,
        "points": 0,
        "coupons": 2,
        "stopped": "capacity",
    }
    # then running it again, or the job, invites nobody more
    again = client.post("/v1/campaigns/gala/run", headers=tenant.headers).json()
    assert (again["members"], again["stopped"]) == (0, "capacity")
    assert _job(engine, clock.now)["gala"]["members"] == 0
    assert [len(_coupons(client, tenant, c)) for c in ("v1", "c2", "v3", "v4")] == [1, 0, 1, 0]
    report = _report(client, tenant, "gala")
    assert (report["targeted"], report["rewards_issued"], report["coupons_issued"]) == (3, 2, 2)


# --- report -------------------------------------------------------------------------------


def test_report_counts_redeemed_coupons_and_net_revenue_after_each_grant(
    client: TestClient, engine: Engine, tenant: Tenant, clock: Clock
) -> None:
    # given a welcome coupon given to c1 and c2 on 1 March
    _reward(client, tenant, code="welcome")
    _campaign(client, tenant, "hello", kind="welcome", offer={"reward": "welcome"})
    _enrol(client, tenant, "c1")
    _enrol(client, tenant, "c2")
    _enrol(client, tenant, "c3")  # no orders
    # c1 pays $100 on 4 March with its coupon, then $20.00 of it is refunded
    code = _coupons(client, tenant, "c1")[0]["code"]
    paid = order("o1", "c1", lines=[(1, 10_000)], occurred_at=utc(2026, 3, 4, 12, 0))
    assert client.post("/v1/orders", json=paid, headers=tenant.headers).status_code == 201
    consumed = client.post(
        f"/v1/coupons/{code}/consume", json={"order_id": "o1"}, headers=tenant.headers
    )
    assert consumed.status_code == 200, consumed.text
    back = refund("r1", "o1", amount=2_000, occurred_at=utc(2026, 3, 5, 12, 0))
    assert client.post("/v1/refunds", json=back, headers=tenant.headers).status_code == 201
    # c2 pays $50 on 10 April (40 days later); c1 paid $7 on 28 February (before its grant)
    late = order("o2", "c2", lines=[(1, 5_000)], occurred_at=utc(2026, 4, 10, 12, 0))
    assert client.post("/v1/orders", json=late, headers=tenant.headers).status_code == 201
    early = order("o3", "c1", lines=[(1, 700)], occurred_at=utc(2026, 2, 28, 12, 0))
    assert client.post("/v1/orders", json=early, headers=tenant.headers).status_code == 201
    # then over 30 days: 3 members, 3 coupons, 1 redeemed, $80.00 net
    assert _report(client, tenant, "hello") == {
        "campaign": "hello",
        "days": 30,
        "targeted": 3,
        "rewards_issued": 3,
        "points_issued": 0,
        "coupons_issued": 3,
        "redeemed": 1,
        "revenue": money(8_000),
    }
    # and over 60 days c2's $50 counts too
    assert _report(client, tenant, "hello", days=60)["revenue"] == money(13_000)
    assert_ledger_ok(engine)


# --- bad input ----------------------------------------------------------------------------


def test_bad_campaigns_are_refused_and_write_nothing(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    _reward(client, tenant)
    before = count_rows(engine)
    cases: list[tuple[dict[str, Any], str | None]] = [
        ({"kind": "lottery", "offer": {"points": 1}}, None),
        (
            {"kind": "appreciation", "segment": "nobody", "capacity": 5, "offer": {"points": 1}},
            "segment",
        ),
        (
            {
                "kind": "bonus",
                "multiplier": "2",
                "starts_at": "2026-03-09T00:00:00Z",
                "ends_at": "2026-03-09T00:00:00Z",
            },
            "ends_at",
        ),
        ({"kind": "birthday", "offer": {"reward": "no-such-reward"}}, "offer.reward"),
        ({"kind": "win_back", "offer": {"points": 1}}, "lapse_days"),
        ({"kind": "welcome", "offer": {"points": 1, "reward": "gift5"}}, "offer"),
        ({"kind": "bonus", "multiplier": "2"}, "starts_at"),
    ]
    for spec, field in cases:
        response = client.post(
            "/v1/campaigns", json={"code": "bad", "name": "Bad", **spec}, headers=tenant.headers
        )
        assert response.status_code == 422, (spec, response.text)
        if field is not None:
            assert response.json()["field"] == field, response.text
    assert count_rows(engine) == before
    missing = client.get("/v1/campaigns/bad", headers=tenant.headers)
    assert (missing.status_code, missing.json()["field"]) == (404, "campaign_code")


def test_campaigns_are_listed_read_and_changed(client: TestClient, tenant: Tenant) -> None:
    _campaign(client, tenant, "a", kind="welcome", offer={"points": 10})
    _campaign(client, tenant, "b", kind="anniversary", offer={"points": 20})
    first = client.get("/v1/campaigns?limit=1", headers=tenant.headers).json()
    assert [view["code"] for view in first["data"]] == ["a"]
    cursor = first["next_cursor"]
    second = client.get(f"/v1/campaigns?limit=1&cursor={cursor}", headers=tenant.headers).json()
    assert ([view["code"] for view in second["data"]], second["next_cursor"]) == (["b"], None)
    body = {"name": "Hello", "kind": "welcome", "offer": {"points": 15}}
    changed = client.put("/v1/campaigns/a", json=body, headers=tenant.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["spec"]["offer"] == {"points": 15, "reward": None}
    kind = client.put(
        "/v1/campaigns/a", json=body | {"kind": "anniversary"}, headers=tenant.headers
    )
    assert (kind.status_code, kind.json()["field"]) == (422, "kind")
    dup = client.post("/v1/campaigns", json=body | {"code": "a"}, headers=tenant.headers)
    assert dup.status_code == 409
    welcome = client.post("/v1/campaigns/a/run", headers=tenant.headers)
    assert (welcome.status_code, welcome.json()["field"]) == (422, "campaign_code")
