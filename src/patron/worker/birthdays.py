"""The `birthdays` job: on a member's birthday (in the program's time zone) Patron records
a `birthday` event for it and awards the program's birthday rules.

The event's source id is `<program>:<customer id>:<year>`, so a birthday is recorded once
a year and program however often the job runs. Members born on 29 February celebrate on
28 February in other years. Programs without a birthday rule are skipped.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from patron.db.tables import members
from patron.db.uow import UnitOfWork
from patron.domain.calendar import local_date
from patron.domain.campaigns import month_days
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.domain.rules import Trigger
from patron.services.awarding import award_own_event
from patron.services.campaign_audience import month_day
from patron.services.earning import Earning


def award_birthdays(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Record and award today's birthdays; returns {members, points}."""
    earning = Earning(uow, program)
    if not any(rule.spec.trigger is Trigger.BIRTHDAY for rule in earning.rules_at(at)):
        return {"members": 0, "points": 0}
    today = local_date(at, program.zone)
    query = (
        select(members)
        .where(
            members.c.program_id == program.id,
            members.c.status == MemberStatus.ACTIVE.value,
            members.c.birthday.is_not(None),
            month_day(uow, members.c.birthday).in_(month_days([today])),
        )
        .order_by(members.c.id)
    )
    count, points = 0, 0
    for member in list(uow.connection.execute(query)):
        awarded = award_own_event(
            uow,
            program,
            member,
            Trigger.BIRTHDAY,
            source_id=f"{program.code}:{member.external_id}:{today.year}",
            payload={"birthday": today.isoformat()},
            at=at,
        )
        if awarded is not None:  # None: recorded by an earlier run this year
            count, points = count + 1, points + awarded
    return {"members": count, "points": points}
