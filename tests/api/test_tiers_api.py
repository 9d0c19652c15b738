"""Tiers through the API: upgrade at the threshold, multiplier, entry reward, progress,
retention and downgrade at calendar-year end (the `tiers` job), manual assignment."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from patron.db.tables import outbox
from patron.services.verify import verify
from patron.worker.jobs import run_job
from tests.conftest import Clock, Tenant, count_rows, make_tenant
from tests.helpers import order

LADDER: dict[str, Any] = {
    "metric": "spend",
    "window": "calendar_year",
    "levels": [
        {"code": "bronze", "name": "Bronze", "threshold": 0},
        {
            "code": "silver",
            "name": "Silver",
            "threshold": 50_000,
            "retain_threshold": 40_000,
            "multiplier": "1.5",
            "perks": ["free_shipping"],
        },
        {
            "code": "gold",
            "name": "Gold",
            "threshold": 100_000,
            "multiplier": "2",
            "entry_reward_points": 250,
        },
    ],
}


def _tiered(engine: Engine, client: TestClient, **ladder: Any) -> Tenant:
    tenant = make_tenant(engine, "tiered", time_zone="America/New_York")
    response = client.patch("/v1/program", json={"tiers": LADDER | ladder}, headers=tenant.headers)
    assert response.status_code == 200, response.text
    return tenant


def _member(client: TestClient, tenant: Tenant, customer: str = "c1") -> dict[str, Any]:
    response = client.get(f"/v1/members/{customer}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    return response.json()


def _pay(client: TestClient, tenant: Tenant, order_id: str, amount: int, when: datetime) -> Any:
    body = order(order_id, lines=[(1, amount)], occurred_at=when)
    response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert response.status_code == 201, response.text
    return response.json()


def _tier_events(engine: Engine) -> list[dict[str, Any]]:
    query = select(outbox.c.payload).where(outbox.c.type == "tier.changed").order_by(outbox.c.id)
    with engine.connect() as connection:
        return [row.payload for row in connection.execute(query)]


def test_upgrade_multiplier_entry_reward_and_progress(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a Bronze/Silver/Gold ladder on yearly spend
    tenant = _tiered(engine, client)
    now = clock.now
    # when c1 spends $400, then $200
    assert _pay(client, tenant, "o1", 40_000, now)["points"] == 400
    tier = _member(client, tenant)["tier"]
    # then c1 is Bronze and is told what Silver needs
    assert (tier["current"], tier["next"], tier["missing_for_next"]) == ("bronze", "silver", 10_000)
    second = _pay(client, tenant, "o2", 20_000, now)
    # the order that crosses the threshold earns at the old level; the upgrade follows it
    assert second["points"] == 200
    tier = _member(client, tenant)["tier"]
    assert (tier["current"], tier["metric_value"], tier["missing_for_next"]) == (
        "silver",
        60_000,
        40_000,
    )
    assert tier["perks"] == ["free_shipping"]
    # the status holds through the end of next year (2027 in New York)
    assert tier["ends_at"] == "2028-01-01T05:00:00Z"
    # and Silver earns 1.5x
    third = _pay(client, tenant, "o3", 10_000, now)
    assert third["points"] == 150
    assert [rule["rule"] for rule in third["explanation"]["rules"]] == ["base", "tier"]
    # when c1 reaches Gold, the entry reward comes once
    _pay(client, tenant, "o4", 30_000, now)
    member = _member(client, tenant)
    assert member["tier"]["current"] == "gold"
    assert member["tier"]["next"] is None and member["tier"]["missing_for_next"] is None
    # 400 + 200 + 150 + 450 (30,000 at 1.5x) + 250 entry reward
    assert member["balance"]["available"] == 1_450
    assert [(e["from"], e["to"], e["cause"]) for e in _tier_events(engine)] == [
        (None, "bronze", "upgrade"),
        ("bronze", "silver", "upgrade"),
        ("silver", "gold", "upgrade"),
    ]
    with engine.connect() as connection:
        assert verify(connection).ok


def test_year_end_retains_or_downgrades_one_step(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given c1 reached Gold in 2026 and c2 Silver in 2026
    tenant = _tiered(engine, client)
    _pay(client, tenant, "o1", 100_000, clock.now)
    body = order("o2", "c2", lines=[(1, 50_000)], occurred_at=clock.now)
    assert client.post("/v1/orders", json=body, headers=tenant.headers).status_code == 201
    # and in 2027 c2 spends $400 (Silver's retain threshold), c1 nothing
    in_2027 = datetime(2027, 6, 1, 12, tzinfo=UTC)
    clock.now = in_2027
    body = order("o3", "c2", lines=[(1, 40_000)], occurred_at=in_2027)
    assert client.post("/v1/orders", json=body, headers=tenant.headers).status_code == 201
    # when the tiers job runs before the end of 2027 (New York), nothing is due
    before = run_job(engine, "tiers", datetime(2028, 1, 1, 4, 59, tzinfo=UTC))
    assert before[0].result == {"evaluated": 0, "kept": 0, "downgraded": 0}
    # and at the end of 2027
    runs = run_job(engine, "tiers", datetime(2028, 1, 1, 5, 0, tzinfo=UTC))
    # then c2 keeps Silver through 2028 and c1 drops one step to Silver
    assert runs[0].result == {"evaluated": 2, "kept": 1, "downgraded": 1}
    clock.now = datetime(2028, 1, 2, tzinfo=UTC)
    assert _member(client, tenant, "c1")["tier"]["current"] == "silver"
    c2 = _member(client, tenant, "c2")["tier"]
    assert (c2["current"], c2["ends_at"]) == ("silver", "2029-01-01T05:00:00Z")
    # and running the job again the same day does nothing
    rows = count_rows(engine)
    again = run_job(engine, "tiers", datetime(2028, 1, 1, 6, 0, tzinfo=UTC))
    assert again[0].ran is False
    assert count_rows(engine) == rows


def test_grace_period_delays_the_downgrade(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given a ladder with 30 days of grace and c1 Silver since 2026
    tenant = _tiered(engine, client, grace_days=30)
    _pay(client, tenant, "o1", 50_000, clock.now)
    # when the job runs at the end of 2027 and again 30 days later
    early = run_job(engine, "tiers", datetime(2028, 1, 1, 5, tzinfo=UTC))
    late = run_job(engine, "tiers", datetime(2028, 1, 31, 5, tzinfo=UTC))
    # then nothing happens until the grace has passed
    assert early[0].result["evaluated"] == 0
    assert late[0].result == {"evaluated": 1, "kept": 0, "downgraded": 1}


def test_manual_assignment_holds_until_its_end(
    client: TestClient, engine: Engine, clock: Clock
) -> None:
    # given c1, a Bronze member
    tenant = _tiered(engine, client)
    _pay(client, tenant, "o1", 1_000, clock.now)
    # when an admin makes c1 Gold until mid-2026
    body = {"tier": "gold", "reason": "VIP apology", "until": "2026-07-01T00:00:00Z"}
    response = client.post("/v1/members/c1/tier", json=body, headers=tenant.headers)
    # then c1 is Gold and earns 2x
    assert response.status_code == 200, response.text
    assert response.json()["tier"]["current"] == "gold"
    assert response.json()["tier"]["manual_until"] == "2026-07-01T00:00:00Z"
    assert _pay(client, tenant, "o2", 10_000, clock.now)["points"] == 200
    # and when it ends, the job recalculates from the metric (one step down: Silver)
    runs = run_job(engine, "tiers", datetime(2026, 7, 1, tzinfo=UTC))
    assert runs[0].result["downgraded"] == 1


def test_bad_tier_input_is_refused_and_writes_nothing(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    rows = count_rows(engine)
    overlapping = {
        **LADDER,
        "levels": [
            {"code": "a", "name": "A", "threshold": 0},
            {"code": "b", "name": "B", "threshold": 0},
        ],
    }
    cases = [
        ({"tiers": overlapping}, "tiers.levels.1.threshold"),
        ({"tiers": {**LADDER, "metric": "karma"}}, "tiers.metric"),
        ({"expiry": {"kind": "fixed", "months": 0}}, "expiry.months"),
        ({"expiry": {"kind": "never", "round_to": "month"}}, "expiry.round_to"),
    ]
    for body, field in cases:
        response = client.patch("/v1/program", json=body, headers=tenant.headers)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["field"] == field, response.json()
    # a manual tier on a program without tiers, and an unknown tier
    body = {"tier": "gold", "reason": "x", "until": "2027-01-01T00:00:00Z"}
    client.post("/v1/members", json={"external_id": "c1"}, headers=tenant.headers)
    rows = count_rows(engine)
    response = client.post("/v1/members/c1/tier", json=body, headers=tenant.headers)
    assert (response.status_code, response.json()["field"]) == (422, "tier")
    assert count_rows(engine) == rows
