"""The three membership templates over 14 months through the HTTP API, with a controlled
clock: trials, renewals, failed payments and grace, lapses, cancellations with refunds,
monthly credits and yearly dividends, checkout benefits.

Each runs twice: with the jobs run at every step (twice each time: the second run of a
period does nothing), and with the jobs run only at the end (a worker that was down):
the store-credit balances must come out the same, to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.worker.jobs import run_job
from tests.conftest import Clock, Tenant
from tests.helpers import assert_ledger_ok, money, order, refund

JOBS = ("memberships", "membership_credits")


def _utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@dataclass
class Store:
    """The store reporting to one program, and the worker running (or not) the jobs."""

    client: TestClient
    engine: Engine
    clock: Clock
    headers: dict[str, str]
    program: str
    on_time: bool

    def at(self, when: datetime) -> None:
        """Move the clock to `when`; a worker that is up runs the jobs there (twice)."""
        self.clock.now = when
        if self.on_time:
            self.jobs(when)

    def jobs(self, when: datetime) -> dict[str, dict[str, Any]]:
        """Run the membership jobs as of `when` twice: the second run does nothing."""
        results = {}
        for name in JOBS:
            first, second = (self._run(name, when) for _ in range(2))
            assert second.ran is False
            results[name] = first.result
        assert_ledger_ok(self.engine)
        return results

    def _run(self, name: str, when: datetime) -> Any:
        runs = [run for run in run_job(self.engine, name, when) if run.program == self.program]
        assert len(runs) == 1, runs
        return runs[0]

    def post(self, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body, headers=self.headers)
        assert response.status_code == status, response.text
        return dict(response.json())

    def get(self, path: str) -> dict[str, Any]:
        response = self.client.get(path, headers=self.headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def enrol(self, customer: str, **fields: Any) -> None:
        self.post("/v1/members", {"external_id": customer, **fields}, 201)

    def subscribe(self, customer: str, plan: str, **body: Any) -> str:
        path = f"/v1/members/{customer}/subscriptions"
        return str(self.post(path, {"plan": plan, **body}, 201)["id"])

    def event(self, sub: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"/v1/subscriptions/{sub}/{kind}", body)

    def renew(self, sub: str, reference: str) -> dict[str, Any]:
        return self.event(sub, "renewals", {"payment_reference": reference})

    def pay(self, order_id: str, customer: str, amount: int) -> None:
        body = order(order_id, customer, lines=[(1, amount)], occurred_at=self.clock.now)
        self.post("/v1/orders", body, 201)

    def subscription(self, sub: str) -> dict[str, Any]:
        return self.get(f"/v1/subscriptions/{sub}")

    def credit(self, customer: str) -> dict[str, Any]:
        return dict(self.get(f"/v1/members/{customer}")["store_credit"])

    def benefits(self, customer: str, cart: dict[str, Any]) -> dict[str, Any]:
        return self.post(f"/v1/members/{customer}/benefits/validate", cart)


OWN_BRAND_CART = {
    "currency": "USD",
    "lines": [
        {"line_id": "L1", "tags": ["own-brand"], "unit_price": money(1_250)},
        {"line_id": "L2", "unit_price": money(1_000)},
    ],
}


@pytest.fixture(params=[True, False], ids=["jobs-on-time", "jobs-late"])
def on_time(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def _store(
    client: TestClient,
    engine: Engine,
    clock: Clock,
    tenant: Tenant,
    on_time: bool,
    template: str,
    time_zone: str,
) -> Store:
    body = {"template": template, "code": template, "currency": "USD", "time_zone": time_zone}
    created = client.post("/v1/programs/from-template", json=body, headers=tenant.headers)
    assert created.status_code == 201, created.text
    headers = {**tenant.headers, "Patron-Program": template}
    return Store(client, engine, clock, headers, template, on_time)


def test_pharmacy_plus_monthly_credits_over_14_months(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant, on_time: bool
) -> None:
    # given pharmacy-plus: 5 a month, 30-day trial, 10 of store credit each month, 7 days'
    # grace; c1 starts a trial on 1 March 2026 at noon UTC
    store = _store(client, engine, clock, tenant, on_time, "pharmacy-plus", "UTC")
    plan = store.get("/v1/membership-plans/plus")
    assert (plan["price"], plan["period"], plan["trial_days"]) == (money(500), "month", 30)
    assert plan["perks"]["monthly_credit"] == money(1_000)
    store.at(_utc(2026, 3, 1, 12))
    store.enrol("c1")
    first = store.subscribe("c1", "plus", trial=True)
    assert store.subscription(first)["trial_end"] == "2026-03-31T12:00:00Z"
    store.at(_utc(2026, 3, 1, 13))
    # when the first payment comes before the trial ends, and renewals every month
    paid = [("2026-03-31", "pay-1"), ("2026-04-30", "pay-2"), ("2026-05-31", "pay-3")]
    paid += [("2026-06-30", "pay-4"), ("2026-07-31", "pay-5")]
    for day, reference in paid:
        store.at(datetime.fromisoformat(f"{day}T10:00:00+00:00"))
        renewed = store.renew(first, reference)
    # then each paid period runs from the previous end (31 March + n months, clamped)
    assert (renewed["period_start"], renewed["period_end"]) == (
        "2026-07-31T12:00:00Z",
        "2026-08-31T12:00:00Z",
    )
    store.at(_utc(2026, 8, 1, 13))
    # when the August renewal fails, the member is past due for 7 days, perks kept
    store.at(_utc(2026, 8, 31, 13))
    failed = store.event(first, "payment-failures", {"reason": "declined", "reference": "fail-1"})
    assert (failed["status"], failed["grace_until"], failed["perks_apply"]) == (
        "past_due",
        "2026-09-07T13:00:00Z",
        True,
    )
    store.at(_utc(2026, 9, 1, 13))
    # and the payment that comes in the grace pays the missed period
    store.at(_utc(2026, 9, 3, 12))
    recovered = store.renew(first, "pay-6")
    assert (recovered["status"], recovered["period_start"], recovered["period_end"]) == (
        "active",
        "2026-08-31T12:00:00Z",
        "2026-09-30T12:00:00Z",
    )
    store.at(_utc(2026, 9, 30, 10))
    store.renew(first, "pay-7")
    store.at(_utc(2026, 10, 1, 13))
    # when the October renewal fails and nothing comes in the grace, it lapses
    store.at(_utc(2026, 10, 31, 13))
    store.event(first, "payment-failures", {"reason": "card declined"})
    store.at(_utc(2026, 11, 1, 13))
    store.at(_utc(2026, 11, 8))
    # and when c1 subscribes again in December, then cancels on 15 March with a refund
    store.at(_utc(2026, 12, 1, 12))
    second = store.subscribe("c1", "plus", payment_reference="pay-8")
    for month, reference in ((1, "pay-9"), (2, "pay-10"), (3, "pay-11")):
        store.at(_utc(2027, month, 1, 10))
        store.renew(second, reference)
        store.at(_utc(2027, month, 1, 13))
    # own-brand lines are 20% off while the plan is held
    during = store.benefits("c1", OWN_BRAND_CART)
    assert (during["lines"], during["discount"]) == (
        [{"line_id": "L1", "plan": "plus", "percent": "20", "amount": 250}],
        money(250),
    )
    store.at(_utc(2027, 3, 15, 12))
    body = {"at_period_end": False, "refund": money(250), "refund_reference": "rf-1"}
    cancelled = store.event(second, "cancellations", body)
    assert (cancelled["status"], cancelled["ended_at"], cancelled["refund"]) == (
        "cancelled",
        "2027-03-15T12:00:00Z",
        money(250),
    )
    # then, 14 months on, whenever the jobs ran: a credit for each paid month begun while
    # the perks applied — April to November 2026 (8; March was the trial) and December to
    # March (4)
    store.clock.now = _utc(2027, 5, 1, 12)
    store.jobs(_utc(2027, 5, 1, 12))
    lapsed = store.subscription(first)
    assert (lapsed["status"], lapsed["ended_at"]) == ("lapsed", "2026-11-07T13:00:00Z")
    assert [p["kind"] for p in lapsed["payments"]] == ["payment"] * 5 + ["failure"] + [
        "payment"
    ] * 2 + ["failure"]
    assert store.credit("c1") == {
        "currency": "USD",
        "available": 12_000,
        "pending": 0,
        "lifetime_earned": 12_000,
    }
    # and a run later still gives nothing more
    again = store.jobs(_utc(2027, 6, 1, 12))
    assert again["membership_credits"] == {"monthly": [0, 0], "dividends": [0, 0]}
    assert store.credit("c1")["available"] == 12_000
    # and own-brand lines are no longer discounted
    assert store.benefits("c1", OWN_BRAND_CART)["discount"] == money(0)
    assert_ledger_ok(engine)


def test_coop_lifetime_yearly_dividends_over_14_months(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant, on_time: bool
) -> None:
    # given coop-lifetime in Berlin: 30 once (30-day trial, 7 days' grace), 10% of each
    # calendar year's eligible spend, net of refunds, back as store credit
    store = _store(client, engine, clock, tenant, on_time, "coop-lifetime", "Europe/Berlin")
    store.at(_utc(2026, 3, 1, 12))
    store.enrol("c1")
    store.enrol("c2")
    first = store.subscribe("c1", "owner", trial=True)
    lapsing = store.subscribe("c2", "owner", trial=True)
    # the trial ends 30 local days on, at the same local time (after the DST change)
    assert store.subscription(first)["trial_end"] == "2026-03-31T11:00:00Z"
    store.at(_utc(2026, 3, 5, 12))
    store.pay("c2-o1", "c2", 8_000)
    store.at(_utc(2026, 3, 10, 12))
    store.pay("o1", "c1", 10_000)
    # when both trials end with a failed payment: 7 days' grace from then
    store.at(_utc(2026, 3, 31, 12))
    failed = store.event(first, "payment-failures", {"reason": "declined", "reference": "f-1"})
    assert failed["grace_until"] == "2026-04-07T12:00:00Z"
    store.event(lapsing, "payment-failures", {"reason": "declined", "reference": "f-2"})
    # and c1 pays in the grace (for life) while c2 never does
    store.at(_utc(2026, 4, 3, 12))
    paid = store.renew(first, "pay-1")
    assert (paid["status"], paid["period_end"], paid["perks_apply"]) == ("active", None, True)
    store.at(_utc(2026, 4, 8))
    store.at(_utc(2026, 5, 1, 12))
    store.pay("c2-o2", "c2", 4_000)  # after c2's lapse: not eligible
    store.at(_utc(2026, 6, 15, 12))
    store.pay("o3", "c1", 30_000)
    store.at(_utc(2026, 7, 1, 12))
    store.post("/v1/refunds", refund("r1", "o3", amount=10_000, occurred_at=store.clock.now), 201)
    # an order at 00:30 on 1 January in Berlin belongs to 2027
    store.at(_utc(2026, 12, 31, 23, 30))
    store.pay("o4", "c1", 5_000)
    # then after the year ends: c1 gets 10% of its paid time's 300 - 100 (o1 was in the
    # trial), c2 nothing (its trial lapsed unpaid)
    store.at(_utc(2027, 1, 1, 6))
    store.at(_utc(2027, 2, 10, 12))
    store.pay("o5", "c1", 10_000)
    # when c1 cancels on 15 April 2027 with half the price refunded
    store.at(_utc(2027, 4, 15, 12))
    body = {"at_period_end": False, "refund": money(1_500), "refund_reference": "rf-1"}
    assert store.event(first, "cancellations", body)["status"] == "cancelled"
    store.clock.now = _utc(2027, 5, 1, 12)
    results = store.jobs(_utc(2027, 5, 1, 12))
    if not on_time:
        assert results["membership_credits"]["dividends"] == [1, 2_000]
        assert results["memberships"] == {"lapsed": 1, "expired": 0}
    assert store.credit("c1")["available"] == 2_000
    assert store.credit("c2")["available"] == 0
    assert store.subscription(lapsing)["status"] == "lapsed"
    # and the 2027 dividend, for the orders before the cancellation, comes after 2027
    late = store.jobs(_utc(2028, 1, 1, 6))
    assert late["membership_credits"]["dividends"] == [1, 1_500]
    assert store.credit("c1") == {
        "currency": "USD",
        "available": 3_500,
        "pending": 0,
        "lifetime_earned": 3_500,
    }
    assert_ledger_ok(engine)


def test_bookstore_membership_benefits_over_14_months(
    client: TestClient, engine: Engine, clock: Clock, tenant: Tenant, on_time: bool
) -> None:
    # given bookstore-membership in New York: 25 a year (14-day trial, 14 days' grace),
    # 10% off and free shipping at checkout, a birthday offer
    store = _store(
        client, engine, clock, tenant, on_time, "bookstore-membership", "America/New_York"
    )
    cart = {
        "currency": "USD",
        "lines": [
            {"line_id": "L1", "sku": "BOOK-1", "unit_price": money(3_000)},
            {"line_id": "L2", "sku": "BOOK-2", "quantity": 2, "unit_price": money(1_000)},
        ],
        "shipping": money(499),
    }
    store.at(_utc(2026, 3, 1, 12))
    for customer in ("c1", "c2", "c3"):
        store.enrol(customer, birthday="1990-06-10")
    first = store.subscribe("c1", "members", trial=True)
    lapsing = store.subscribe("c2", "members", trial=True)
    # the trial ends at the same local time 14 days on, across the DST change
    assert store.subscription(first)["trial_end"] == "2026-03-15T11:00:00Z"
    store.at(_utc(2026, 3, 5, 12))
    during = store.benefits("c1", cart)
    assert (during["lines"], during["discount"], during["shipping_discount"]) == (
        [
            {"line_id": "L1", "plan": "members", "percent": "10", "amount": 300},
            {"line_id": "L2", "plan": "members", "percent": "10", "amount": 200},
        ],
        money(500),
        money(499),
    )
    # when c1 pays before its trial ends, and c2's first payment fails
    store.at(_utc(2026, 3, 15, 10))
    paid = store.renew(first, "pay-1")
    assert (paid["period_start"], paid["period_end"]) == (
        "2026-03-15T11:00:00Z",
        "2027-03-15T11:00:00Z",
    )
    store.at(_utc(2026, 3, 15, 12))
    store.event(lapsing, "payment-failures", {"reason": "expired card"})
    store.at(_utc(2026, 3, 30))
    # c3 pays for a year on 1 May and cancels at the period end in September
    store.at(_utc(2026, 5, 1, 12))
    third = store.subscribe("c3", "members", payment_reference="pay-3")
    store.at(_utc(2026, 9, 1, 12))
    assert store.event(third, "cancellations", {"at_period_end": True})["cancel_at_period_end"]
    # then the birthday offer comes on the birthday
    birthday = _utc(2026, 6, 10, 16)
    store.clock.now = birthday
    runs = [run for run in run_job(engine, "birthdays", birthday) if run.program == store.program]
    assert runs[0].result == {"members": 3, "points": 1_500}
    # when c1's second-year payment fails, perks hold in the grace, and it pays late
    store.at(_utc(2027, 3, 15, 12))
    failed = store.event(first, "payment-failures", {"reason": "declined", "reference": "fail-1"})
    assert failed["grace_until"] == "2027-03-29T12:00:00Z"
    store.at(_utc(2027, 3, 20, 12))
    assert store.benefits("c1", cart)["discount"] == money(500)
    store.at(_utc(2027, 3, 22, 12))
    renewed = store.renew(first, "pay-2")
    assert (renewed["status"], renewed["period_end"]) == ("active", "2028-03-15T11:00:00Z")
    # and cancels on 1 April with 20 of the 25 refunded: no benefit after
    store.at(_utc(2027, 4, 1, 12))
    body = {"at_period_end": False, "refund": money(2_000), "refund_reference": "rf-1"}
    assert store.event(first, "cancellations", body)["status"] == "cancelled"
    after = store.benefits("c1", cart)
    assert (after["plans"], after["discount"], after["free_shipping"]) == ([], money(0), False)
    store.at(_utc(2027, 4, 15, 12))
    assert store.benefits("c3", cart)["free_shipping"] is True
    store.clock.now = _utc(2027, 5, 1, 13)
    store.jobs(_utc(2027, 5, 1, 13))
    statuses = [store.subscription(sub) for sub in (first, lapsing, third)]
    assert [(sub["status"], sub["ended_at"]) for sub in statuses] == [
        ("cancelled", "2027-04-01T12:00:00Z"),
        ("lapsed", "2026-03-29T12:00:00Z"),
        ("expired", "2027-05-01T12:00:00Z"),
    ]
    assert store.benefits("c3", cart)["free_shipping"] is False
    assert store.credit("c1")["lifetime_earned"] == 0
    assert_ledger_ok(engine)
