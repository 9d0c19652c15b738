"""The outbox: domain events written in the same transaction as the change they report.

Nothing here sends them; a worker delivers them after commit (a later issue).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from patron.db.tables import outbox

_INSERT = insert(outbox)


class OutboxRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Insert many outbox rows (tenant_id, program_id, type, payload, created_at)."""
        if rows:
            self._c.execute(_INSERT, rows)

    def add(
        self,
        *,
        tenant_id: int,
        program_id: int | None,
        type_: str,
        payload: dict[str, Any],
        now: datetime,
    ) -> None:
        self._c.execute(
            _INSERT,
            {
                "tenant_id": tenant_id,
                "program_id": program_id,
                "type": type_,
                "payload": payload,
                "created_at": now,
            },
        )
