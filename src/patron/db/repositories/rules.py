"""Earning rules, their versions, what they awarded, and custom event types."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import (
    earning_rule_versions,
    earning_rules,
    event_types,
    programs,
    rule_awards,
)

_REVISION = select(programs.c.rules_revision).where(programs.c.id == bindparam("program_id"))
_USAGE = select(func.count(), func.coalesce(func.sum(rule_awards.c.points), 0)).where(
    rule_awards.c.rule_id == bindparam("rule_id"),
    rule_awards.c.member_id == bindparam("member_id"),
    rule_awards.c.scope == bindparam("scope"),
    rule_awards.c.occurred_at >= bindparam("start"),
    rule_awards.c.occurred_at < bindparam("end"),
)


class RuleRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def revision(self, program_id: int) -> int:
        """The program's rules revision: it changes whenever a rule does."""
        return int(self._c.execute(_REVISION, {"program_id": program_id}).scalar_one())

    def bump_revision(self, program_id: int) -> None:
        """Give the program a new, random rules revision (random, so that caches never
        confuse it with a revision of an earlier program that had the same id)."""
        revision = secrets.randbelow(2**31 - 1) + 1
        self._c.execute(
            update(programs).where(programs.c.id == program_id).values(rules_revision=revision)
        )

    def get(self, program_id: int, code: str) -> Row[Any] | None:
        query = select(earning_rules).where(
            earning_rules.c.program_id == program_id, earning_rules.c.code == code
        )
        return self._c.execute(query).first()

    def lock(self, program_id: int, code: str) -> Row[Any] | None:
        """The rule, locked: versions of one rule are numbered one at a time."""
        query = select(earning_rules).where(
            earning_rules.c.program_id == program_id, earning_rules.c.code == code
        )
        if self._c.dialect.name == "postgresql":
            query = query.with_for_update()
        return self._c.execute(query).first()

    def create(self, *, tenant_id: int, program_id: int, code: str, now: datetime) -> int:
        result = self._c.execute(
            insert(earning_rules).values(
                tenant_id=tenant_id, program_id=program_id, code=code, created_at=now
            )
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def add_version(
        self,
        *,
        tenant_id: int,
        rule_id: int,
        version: int,
        effective_from: datetime,
        spec: dict[str, Any],
        now: datetime,
    ) -> None:
        self._c.execute(
            insert(earning_rule_versions).values(
                tenant_id=tenant_id,
                rule_id=rule_id,
                version=version,
                effective_from=effective_from,
                spec=spec,
                created_at=now,
            )
        )

    def last_version(self, rule_id: int) -> int:
        query = select(func.coalesce(func.max(earning_rule_versions.c.version), 0)).where(
            earning_rule_versions.c.rule_id == rule_id
        )
        return int(self._c.execute(query).scalar_one())

    def versions_of_program(self, program_id: int) -> list[Row[Any]]:
        """Every version of every rule of the program, by rule code then version."""
        query = (
            select(
                earning_rules.c.id.label("rule_id"),
                earning_rules.c.code,
                earning_rule_versions.c.version,
                earning_rule_versions.c.effective_from,
                earning_rule_versions.c.spec,
                earning_rule_versions.c.created_at,
            )
            .join(earning_rule_versions, earning_rule_versions.c.rule_id == earning_rules.c.id)
            .where(earning_rules.c.program_id == program_id)
            .order_by(earning_rules.c.code, earning_rule_versions.c.version)
        )
        return list(self._c.execute(query))

    def usage(
        self, rule_id: int, member_id: int, scope: str, start: datetime, end: datetime
    ) -> tuple[int, int]:
        """(awards, points) the rule gave the member in [start, end) within `scope`."""
        params = {
            "rule_id": rule_id,
            "member_id": member_id,
            "scope": scope,
            "start": start,
            "end": end,
        }
        count, points = self._c.execute(_USAGE, params).one()
        return int(count), int(points)

    def lock_budgets(self, rule_ids: Sequence[int]) -> dict[int, int]:
        """Points each rule gave so far, all members; the rules are locked (in id order)
        so that two transactions cannot both spend the last of a budget."""
        ids = sorted(rule_ids)
        lock = select(earning_rules.c.id).where(earning_rules.c.id.in_(ids)).order_by("id")
        if self._c.dialect.name == "postgresql":
            self._c.execute(lock.with_for_update())
        query = (
            select(rule_awards.c.rule_id, func.sum(rule_awards.c.points))
            .where(rule_awards.c.rule_id.in_(ids))
            .group_by(rule_awards.c.rule_id)
        )
        used = {int(rule_id): int(points) for rule_id, points in self._c.execute(query)}
        return {rule_id: used.get(rule_id, 0) for rule_id in ids}

    def record_awards(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._c.execute(insert(rule_awards), rows)

    def event_type(self, program_id: int, name: str) -> Row[Any] | None:
        query = select(event_types).where(
            event_types.c.program_id == program_id, event_types.c.name == name
        )
        return self._c.execute(query).first()

    def event_types(self, program_id: int) -> list[Row[Any]]:
        query = (
            select(event_types)
            .where(event_types.c.program_id == program_id)
            .order_by(event_types.c.name)
        )
        return list(self._c.execute(query))

    def add_event_type(self, **fields: Any) -> None:
        self._c.execute(insert(event_types).values(**fields))
