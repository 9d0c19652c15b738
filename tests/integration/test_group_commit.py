"""Group commit: concurrent single orders share a transaction, yet each request gets its
own outcome, and a failure answers every waiter."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import Engine

from patron.api.group_commit import OrderGroupCommit
from patron.db.uow import UnitOfWork
from patron.schemas.members import MemberProfile
from patron.schemas.orders import OrderPaidIn
from patron.services import ingest
from patron.services.ingest import Outcome
from patron.services.members import enroll
from patron.services.tenants import authenticate
from patron.services.verify import verify
from tests.conftest import Clock, make_tenant
from tests.helpers import order


def _caller(engine: Engine, key: str):  # type: ignore[no-untyped-def]
    with UnitOfWork(engine, write=False) as uow:
        return authenticate(uow, key)


def test_each_request_of_a_shared_transaction_gets_its_own_outcome(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a program that does not enrol unknown customers, and one known member
    tenant = make_tenant(engine, "shop", auto_enroll=False)
    caller = _caller(engine, tenant.key)
    with UnitOfWork(engine) as uow:
        program = uow.programs.get_default(tenant.id)
        assert program is not None
        enroll(uow, program, MemberProfile(), "known", clock.now)
        uow.commit()
    group_commit = OrderGroupCommit(engine, clock)
    first = group_commit.record(caller, None, OrderPaidIn.model_validate(order("o0", "known")))
    assert first.status == "created"
    # and a gate that holds the collector until all 6 requests have queued
    gate = threading.Event()
    real = ingest.record_orders_paid
    sizes: list[int] = []

    def gated(*args, **kwargs):  # type: ignore[no-untyped-def]
        gate.wait(10)
        sizes.append(len(args[3]))
        return real(*args, **kwargs)

    monkeypatch.setattr("patron.api.group_commit.record_orders_paid", gated)
    bodies = [
        order("o1", "known"),
        order("o2", "stranger"),  # rejected: unknown member
        order("o0", "known"),  # replay of the first order
        order("o3", "known", lines=[(1, 2_500)]),
        order("o1", "known"),  # repeat within the batch
        order("o4", "known", currency="EUR"),  # rejected: currency
    ]
    # when they arrive at once
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [
            pool.submit(group_commit.record, caller, None, OrderPaidIn.model_validate(body))
            for body in bodies
        ]
        while group_commit._queue.qsize() < len(bodies) - 1:  # the first is being held
            threading.Event().wait(0.01)
        gate.set()
        outcomes: list[Outcome] = [future.result(timeout=30) for future in futures]
    # then they were recorded in at most two transactions, each with its own outcome
    assert sum(sizes) == 6 and len(sizes) <= 2
    assert [o.status for o in outcomes] == [
        "created",
        "rejected",
        "replayed",
        "created",
        "replayed",
        "rejected",
    ]
    assert outcomes[1].error is not None and outcomes[1].error.code == "not-found"
    assert outcomes[5].error is not None and outcomes[5].error.code == "currency-mismatch"
    assert outcomes[3].result is not None and outcomes[3].result.points == 25
    with engine.connect() as connection:
        assert verify(connection).ok


def test_a_failed_group_answers_every_waiter(engine: Engine, clock: Clock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    tenant = make_tenant(engine, "shop")
    caller = _caller(engine, tenant.key)
    group_commit = OrderGroupCommit(engine, clock)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database went away")

    monkeypatch.setattr("patron.api.group_commit.record_orders_paid", broken)
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [
            pool.submit(
                group_commit.record, caller, None, OrderPaidIn.model_validate(order(f"o{i}"))
            )
            for i in range(4)
        ]
        for future in futures:
            with pytest.raises(RuntimeError, match="database went away"):
                future.result(timeout=30)
