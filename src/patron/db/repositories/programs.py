"""Programs: loaded as domain `Program` values."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import programs
from patron.domain.expiry import ExpiryPolicy
from patron.domain.program import Program, RefundPolicy
from patron.domain.rounding import Rounding
from patron.domain.tiers import RewardPrices, TierLadder, TierLevel


def _to_program(row: Row[Any]) -> Program:
    return Program(
        id=row.id,
        tenant_id=row.tenant_id,
        code=row.code,
        name=row.name,
        points_name=row.points_name,
        currency=row.currency,
        time_zone=row.time_zone,
        point_value_points=row.point_value_points,
        point_value_amount=row.point_value_amount,
        earn_points=row.earn_points,
        earn_per_amount=row.earn_per_amount,
        rounding=Rounding(row.rounding),
        include_shipping=row.include_shipping,
        include_tax=row.include_tax,
        pending_days=row.pending_days,
        refund_policy=RefundPolicy(row.refund_policy),
        auto_enroll=row.auto_enroll,
        expiry=expiry_policy(row.expiry),
        tiers=tier_ladder(row.tiers),
    )


def expiry_policy(stored: dict[str, Any] | None) -> ExpiryPolicy:
    """The domain policy of a stored (API-shaped) expiry configuration."""
    if not stored:
        return ExpiryPolicy()
    return ExpiryPolicy(
        kind=stored["kind"],
        months=stored["months"],
        round_to=stored.get("round_to"),
        remind_days=tuple(stored.get("remind_days", ())),
    )


def tier_ladder(stored: dict[str, Any] | None) -> TierLadder | None:
    """The domain ladder of a stored (API-shaped) tier configuration."""
    if not stored:
        return None
    return TierLadder(
        levels=tuple(
            TierLevel(
                code=level["code"],
                name=level["name"],
                threshold=level["threshold"],
                retain_threshold=level.get("retain_threshold"),
                multiplier=Fraction(str(level.get("multiplier", "1"))),
                perks=tuple(level.get("perks", ())),
                entry_reward_points=level.get("entry_reward_points", 0),
                reward_prices=RewardPrices(level.get("reward_prices", {})),
            )
            for level in stored["levels"]
        ),
        metric=stored["metric"],
        window=stored["window"],
        window_months=stored.get("window_months", 12),
        grace_days=stored.get("grace_days", 0),
        downgrade=stored.get("downgrade", "one_step"),
    )


class ProgramRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def create(self, *, tenant_id: int, now: datetime, **fields: Any) -> int:
        result = self._c.execute(
            insert(programs).values(tenant_id=tenant_id, created_at=now, **fields)
        )
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def get_by_code(self, tenant_id: int, code: str) -> Program | None:
        query = select(programs).where(programs.c.tenant_id == tenant_id, programs.c.code == code)
        row = self._c.execute(query).first()
        return _to_program(row) if row else None

    def get_default(self, tenant_id: int) -> Program | None:
        """The tenant's default program (the first one created is the default)."""
        query = (
            select(programs)
            .where(programs.c.tenant_id == tenant_id)
            .order_by(programs.c.is_default.desc(), programs.c.id)
            .limit(1)
        )
        row = self._c.execute(query).first()
        return _to_program(row) if row else None

    def update(self, program_id: int, **fields: Any) -> None:
        self._c.execute(update(programs).where(programs.c.id == program_id).values(**fields))

    def get(self, program_id: int) -> Program | None:
        row = self._c.execute(select(programs).where(programs.c.id == program_id)).first()
        return _to_program(row) if row else None

    def of_tenant(self, tenant_id: int) -> list[Program]:
        query = select(programs).where(programs.c.tenant_id == tenant_id).order_by(programs.c.id)
        return [_to_program(row) for row in self._c.execute(query)]
