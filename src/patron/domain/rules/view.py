"""The per-event working state of one `evaluate` call (internal).

Values several rules may need (the local time, the CEL context) are computed at most once
per event, and only if a rule gets far enough to need them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from patron.domain.rules.facts import EventFacts, MemberFacts, OrderFacts

if TYPE_CHECKING:
    import cel

    from patron.domain.rules.expression import CelNeeds


class EventView:
    """One event, its member and time zone, plus lazily computed derived values."""

    __slots__ = (
        "_local",
        "cel_context",
        "cel_error",
        "cel_needs",
        "event",
        "member",
        "order",
        "tz",
    )

    def __init__(
        self,
        event: EventFacts,
        member: MemberFacts,
        tz: ZoneInfo,
        cel_needs: CelNeeds | None = None,
    ) -> None:
        self.event = event
        self.member = member
        self.order: OrderFacts | None = event.order
        self.tz = tz
        #: What the expressions of the event's rules read: the CEL context is built once,
        #: for all of them, when the first one runs.
        self.cel_needs = cel_needs
        self.cel_context: cel.Context | None = None
        #: Why the context could not be built (then every expression fails with it).
        self.cel_error: str | None = None
        self._local: datetime | None = None

    @property
    def local(self) -> datetime:
        """The event's instant in the program's time zone."""
        if self._local is None:
            self._local = self.event.occurred_at.astimezone(self.tz)
        return self._local
