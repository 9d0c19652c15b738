"""The one path every write takes: open a unit of work, honour the Idempotency-Key, run
the step, store its response with the key, commit.

A step runs inside the transaction and returns the HTTP status and JSON body it produced;
storing that body under the key in the same transaction is what makes a retried POST
return the first response and write nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict

#: Unique-key races (two first orders of one new customer, say) and deadlocks are retried
#: this often.
MAX_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The outcome of a write: status code and JSON-ready body; `replayed` if stored."""

    status: int
    body: Any
    replayed: bool = False


class IdempotencyKeyReused(Conflict):
    code = "idempotency-key-reused"


def is_unique_violation(error: IntegrityError) -> bool:
    """Whether the database refused a duplicate key (PostgreSQL 23505, SQLite UNIQUE)."""
    if getattr(error.orig, "sqlstate", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(error.orig)


#: PostgreSQL's deadlock_detected and serialization_failure: the transaction was chosen
#: to give way and rolled back whole, so running it again is safe.
RETRYABLE_STATES = frozenset({"40P01", "40001"})


def is_retryable(error: DBAPIError) -> bool:
    """Whether a failed transaction may simply be run again: a unique-key race, or a
    deadlock / serialization failure that PostgreSQL resolved by rolling it back."""
    if isinstance(error, IntegrityError):
        return is_unique_violation(error)
    return getattr(error.orig, "sqlstate", None) in RETRYABLE_STATES


def request_fingerprint(method: str, path: str, body: Any) -> str:
    """A hash of what the request asks for, to tell a retry from a different request."""
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def run_write(
    engine: Engine,
    step: Callable[[UnitOfWork], WriteResult],
    *,
    tenant_id: int,
    now: datetime,
    idempotency_key: str | None = None,
    fingerprint: str = "",
) -> WriteResult:
    """Run `step` once, in one transaction, exactly once per idempotency key."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return _attempt(engine, step, tenant_id, now, idempotency_key, fingerprint)
        except DBAPIError as error:
            # A concurrent transaction inserted the same unique row first (the next attempt
            # sees its committed row and takes the replay or conflict path), or two writes
            # locked rows in opposite orders and PostgreSQL rolled this one back. Any other
            # database error is a bug: retrying would not help.
            if attempt == MAX_ATTEMPTS or not is_retryable(error):
                raise
    raise AssertionError("unreachable")


def _attempt(
    engine: Engine,
    step: Callable[[UnitOfWork], WriteResult],
    tenant_id: int,
    now: datetime,
    key: str | None,
    fingerprint: str,
) -> WriteResult:
    with UnitOfWork(engine) as uow:
        if key is not None and not uow.idempotency.claim(tenant_id, key, fingerprint, now):
            return _stored(uow, tenant_id, key, fingerprint)
        result = step(uow)
        if key is not None:
            uow.idempotency.store(tenant_id, key, result.status, result.body)
        uow.commit()
        return result


def _stored(uow: UnitOfWork, tenant_id: int, key: str, fingerprint: str) -> WriteResult:
    row = uow.idempotency.get(tenant_id, key)
    if row is None:  # pragma: no cover - claim said it exists; it cannot vanish
        raise IdempotencyKeyReused("idempotency key state changed; retry")
    if row.request_hash != fingerprint:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was used for a different request", field="Idempotency-Key"
        )
    return WriteResult(row.status_code, row.response, replayed=True)
