"""The unit of work: one database transaction, the only place that commits.

Services open a unit of work, use its repositories, and call `commit()`. Leaving the
`with` block without committing rolls everything back, so an exception anywhere in a use
case writes nothing.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.engine import Connection

from patron.db.engine import WRITE_OPTION
from patron.db.repositories.events import EventRepository
from patron.db.repositories.idempotency import IdempotencyRepository
from patron.db.repositories.keys import KeyRepository
from patron.db.repositories.ledger import LedgerRepository
from patron.db.repositories.members import MemberRepository
from patron.db.repositories.orders import OrderRepository
from patron.db.repositories.outbox import OutboxRepository
from patron.db.repositories.programs import ProgramRepository
from patron.db.repositories.rewards import RewardRepository
from patron.db.repositories.rules import RuleRepository
from patron.db.repositories.store_credit import StoreCreditRepository
from patron.db.repositories.tenants import TenantRepository
from patron.db.repositories.tiers import TierRepository


class UnitOfWork:
    """A transaction and the repositories that work inside it."""

    def __init__(self, engine: Engine, *, write: bool = True) -> None:
        self._engine = engine
        self._write = write
        self._connection: Connection | None = None
        self._committed = False

    def __enter__(self) -> Self:
        connection = self._engine.connect()
        if self._write:
            connection = connection.execution_options(**{WRITE_OPTION: True})
        connection.begin()
        self._connection = connection
        self.tenants = TenantRepository(connection)
        self.keys = KeyRepository(connection)
        self.programs = ProgramRepository(connection)
        self.members = MemberRepository(connection)
        self.ledger = LedgerRepository(connection)
        self.events = EventRepository(connection)
        self.orders = OrderRepository(connection)
        self.rewards = RewardRepository(connection)
        self.rules = RuleRepository(connection)
        self.tiers = TierRepository(connection)
        self.store_credit = StoreCreditRepository(connection)
        self.idempotency = IdempotencyRepository(connection)
        self.outbox = OutboxRepository(connection)
        return self

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("unit of work is not open")
        return self._connection

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        return self.connection.dialect.name

    def commit(self) -> None:
        self.connection.commit()
        self._committed = True

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        connection = self.connection
        try:
            if not self._committed:
                connection.rollback()
        finally:
            connection.close()
            self._connection = None
