"""Stored responses of POSTs, by the client's Idempotency-Key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.engine import Connection

from patron.db.insert_or_nothing import insert_or_nothing
from patron.db.tables import idempotency_keys


class IdempotencyRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def claim(self, tenant_id: int, key: str, request_hash: str, now: datetime) -> bool:
        """Reserve `key` for this request inside the current transaction.

        Returns False if the key is already stored (a replay). A concurrent request with
        the same key waits on PostgreSQL until the first one commits or rolls back.
        """
        fields = {
            "tenant_id": tenant_id,
            "key": key,
            "request_hash": request_hash,
            "status_code": 0,
            "response": {},
            "created_at": now,
        }
        statement = insert_or_nothing(
            idempotency_keys, tuple(sorted(fields)), ("tenant_id", "key"), "key"
        )
        return self._c.execute(statement, fields).first() is not None

    def get(self, tenant_id: int, key: str) -> Row[Any] | None:
        query = select(idempotency_keys).where(
            idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key
        )
        return self._c.execute(query).first()

    def store(self, tenant_id: int, key: str, status_code: int, response: Any) -> None:

        self._c.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key)
            .values(status_code=status_code, response=response)
        )
