"""RFM scores in SQL (the daily `rfm` job) agree with the domain's `rfm_score` on both
databases, ties included: 40 members with random orders (few distinct amounts, days and
counts, so many tie), each score of each dimension previewed through the API and compared
with a hand computation; a member enrolled after the job has no score."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from patron.domain.segments import rfm_score
from tests.conftest import START, Tenant, make_tenant
from tests.helpers import order, run_one_job

MEMBERS = 40


def _history(seed: int) -> dict[str, list[tuple[int, datetime]]]:
    """Each member's orders (amount, instant): 0 to 3 orders, 3 amounts, 4 days."""
    rng = random.Random(seed)
    return {
        f"m{index:02d}": [
            (rng.choice([1_000, 2_000, 3_000]), START - timedelta(days=rng.choice([1, 2, 5, 9])))
            for _ in range(rng.randint(0, 3))
        ]
        for index in range(MEMBERS)
    }


def _scores(history: dict[str, list[tuple[int, datetime]]]) -> dict[str, tuple[int, int, int]]:
    """(r, f, m) of each member by the domain's definition."""
    keys: dict[str, tuple[Any, Any, Any]] = {
        who: (
            max(at for _, at in orders).timestamp() if orders else float("-inf"),
            len(orders),
            sum(amount for amount, _ in orders),
        )
        for who, orders in history.items()
    }
    n = len(keys)

    def score(who: str, dimension: int) -> int:
        value = keys[who][dimension]
        return rfm_score(sum(1 for other in keys.values() if other[dimension] < value), n)

    return {who: (score(who, 0), score(who, 1), score(who, 2)) for who in keys}


def test_sql_rfm_scores_equal_the_domain_definition(client: TestClient, engine: Engine) -> None:
    # given 40 members with random, often tied, order histories
    tenant: Tenant = make_tenant(engine, "rfm")
    history = _history(seed=4)
    batch = []
    for who, orders in history.items():
        if not orders:
            enrolled = client.post("/v1/members", json={"external_id": who}, headers=tenant.headers)
            assert enrolled.status_code == 201, enrolled.text
        for index, (amount, at) in enumerate(orders):
            batch.append(order(f"{who}-{index}", who, lines=[(1, amount)], occurred_at=at))
    paid = client.post("/v1/orders/batch", json={"orders": batch}, headers=tenant.headers)
    assert paid.status_code == 200, paid.text
    assert paid.json()["created"] == len(batch)
    # when the daily `rfm` job scores them (the program has a segment asking for RFM), and
    # then one more member enrols
    scored = {"code": "scored", "name": "Scored", "filter": {"rfm": {"score_min": 3}}}
    saved = client.post("/v1/segments", json=scored, headers=tenant.headers)
    assert saved.status_code == 201, saved.text
    assert run_one_job(engine, "rfm", START).result == {"scored": MEMBERS}
    late = client.post("/v1/members", json={"external_id": "late"}, headers=tenant.headers)
    assert late.status_code == 201, late.text
    expected = _scores(history)
    # then each score of each dimension holds exactly its members (the late one: none)
    for dimension, letter in enumerate("rfm"):
        for value in range(1, 6):
            spec = {"rfm": {f"{letter}_min": value, f"{letter}_max": value}}
            body = {"filter": spec, "limit": 200}
            response = client.post("/v1/segments/preview", json=body, headers=tenant.headers)
            assert response.status_code == 200, response.text
            found = sorted(row["customer_id"] for row in response.json()["data"])
            wanted = sorted(who for who, scores in expected.items() if scores[dimension] == value)
            assert (letter, value, found) == (letter, value, wanted)
    # and the data has ties and spreads over the scores (the test means something)
    for dimension in range(3):
        assert len({scores[dimension] for scores in expected.values()}) >= 3
