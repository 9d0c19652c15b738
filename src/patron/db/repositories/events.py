"""Events from a source, each recorded exactly once by (tenant, source, type, source id)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, select, update
from sqlalchemy.engine import Connection

from patron.db.insert_or_nothing import insert_or_nothing, many_params
from patron.db.tables import events

_RESULTS = select(events.c.source_id, events.c.result).where(
    events.c.tenant_id == bindparam("tenant_id"),
    events.c.brand_id == bindparam("brand_id"),
    events.c.source == bindparam("source"),
    events.c.type == bindparam("type"),
    events.c.source_id.in_(bindparam("source_ids", expanding=True)),
)
_SOURCE_KEY = ("tenant_id", "brand_id", "source", "type", "source_id")
_SET_RESULT = (
    update(events)
    .where(events.c.id == bindparam("event_id"))
    .values(member_id=bindparam("b_member_id"), result=bindparam("b_result"))
)


class EventRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def claim(self, **fields: Any) -> int | None:
        """Insert the event unless its source id is already recorded; return its new id,
        or None if it was there first.

        On PostgreSQL a concurrent claim of the same id waits here until the first
        transaction ends, so exactly one of them proceeds.
        """
        statement = insert_or_nothing(
            events,
            tuple(sorted(fields)),
            ("tenant_id", "brand_id", "source", "type", "source_id"),
            "id",
        )
        row = self._c.execute(statement, fields).first()
        return int(row.id) if row else None

    def claim_many(self, rows: list[dict[str, Any]]) -> dict[str, int]:
        """Insert many events of one brand, source and type in one statement; returns
        {source id: new event id} for those not recorded before (the others are replays,
        or were recorded by a concurrent transaction that this one waited for)."""
        if not rows:
            return {}
        statement = insert_or_nothing(
            events, tuple(sorted(rows[0])), _SOURCE_KEY, "id, source_id", rows=len(rows)
        )
        result = self._c.execute(statement, many_params(rows))
        return {row.source_id: int(row.id) for row in result}

    def results(
        self, tenant_id: int, brand_id: int, source: str, type_: str, source_ids: list[str]
    ) -> dict[str, dict[str, Any]]:
        """{source id: stored result} of the recorded events among `source_ids`."""
        params = {
            "tenant_id": tenant_id,
            "brand_id": brand_id,
            "source": source,
            "type": type_,
            "source_ids": source_ids,
        }
        return {row.source_id: row.result for row in self._c.execute(_RESULTS, params)}

    def get(
        self, tenant_id: int, brand_id: int, source: str, type_: str, source_id: str
    ) -> Row[Any] | None:
        query = select(events).where(
            events.c.tenant_id == tenant_id,
            events.c.brand_id == brand_id,
            events.c.source == source,
            events.c.type == type_,
            events.c.source_id == source_id,
        )
        return self._c.execute(query).first()

    def set_results(self, results: list[tuple[int, int | None, dict[str, Any]]]) -> None:
        """Store (event id, member id, result) of many events."""
        if results:
            params = [
                {"event_id": event_id, "b_member_id": member_id, "b_result": result}
                for event_id, member_id, result in results
            ]
            self._c.execute(_SET_RESULT, params)

    def set_result(self, event_id: int, *, member_id: int | None, result: dict[str, Any]) -> None:
        params = {"event_id": event_id, "b_member_id": member_id, "b_result": result}
        self._c.execute(_SET_RESULT, params)
