"""`verify` finds each kind of ledger corruption and names the offending ids."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from patron.services.verify import verify
from tests.conftest import Tenant
from tests.helpers import order


@pytest.fixture
def ledger(client: TestClient, tenant: Tenant, engine: Engine) -> Engine:
    """Two members with points, a healthy ledger."""
    client.post("/v1/orders", json=order("o1", "a", lines=[(1, 10_000)]), headers=tenant.headers)
    client.post("/v1/orders", json=order("o2", "b", lines=[(1, 5_000)]), headers=tenant.headers)
    with engine.connect() as connection:
        assert verify(connection).ok
    return engine


def _problems(engine: Engine, tamper: str) -> dict[str, list[int]]:
    with engine.begin() as connection:
        # Tampering needs the CHECK constraints out of the way on neither backend:
        # each statement below keeps them satisfied, like a buggy release would.
        connection.execute(text(tamper))
    with engine.connect() as connection:
        return {problem.check: problem.ids for problem in verify(connection).problems}


def test_an_unbalanced_transaction_is_named(ledger: Engine) -> None:
    problems = _problems(ledger, "UPDATE ledger_entries SET amount = amount + 1 WHERE id = 2")
    assert problems["transaction does not sum to zero"] == [1]


def test_a_balance_that_drifted_from_its_lots_is_named(ledger: Engine) -> None:
    problems = _problems(
        ledger, "UPDATE member_balances SET available = available + 5 WHERE member_id = 2"
    )
    assert problems["balance differs from its lots"] == [2]
    assert problems["balance differs from its entries"] == [2]


def test_a_lot_that_drifted_from_its_entries_is_named(ledger: Engine) -> None:
    problems = _problems(ledger, "UPDATE lots SET remaining = remaining - 1 WHERE id = 1")
    assert problems["lot remaining differs from its entries"] == [1]
    assert problems["balance differs from its lots"] == [1]


def test_lifetime_earned_drift_is_named(ledger: Engine) -> None:
    problems = _problems(
        ledger, "UPDATE member_balances SET lifetime_earned = 1 WHERE member_id = 1"
    )
    assert problems == {"lifetime earned differs from earn transactions": [1]}


def test_the_database_refuses_a_negative_balance(ledger: Engine) -> None:
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError), ledger.begin() as connection:
        connection.execute(text("UPDATE member_balances SET available = -1 WHERE member_id = 1"))
