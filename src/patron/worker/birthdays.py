"""The `birthdays` job: on a member's birthday (in the program's time zone) Patron records
a `birthday` event for it and awards the program's birthday rules.

The event's source id is `<program>:<customer id>:<year>`, so a birthday is recorded once
a year and program however often the job runs. Members born on 29 February celebrate on
28 February in other years. Programs without a birthday rule are skipped.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import Any

from sqlalchemy import text

from patron.db.uow import UnitOfWork
from patron.domain.calendar import local_date
from patron.domain.program import Program
from patron.domain.rules import Trigger
from patron.services.awarding import award_own_event
from patron.services.earning import Earning


def _month_days(today: date) -> list[str]:
    days = [f"{today.month:02d}-{today.day:02d}"]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        days.append("02-29")
    return days


def award_birthdays(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Record and award today's birthdays; returns {members, points}."""
    earning = Earning(uow, program)
    if not any(rule.spec.trigger is Trigger.BIRTHDAY for rule in earning.rules_at(at)):
        return {"members": 0, "points": 0}
    today = local_date(at, program.zone)
    month_day = (
        "to_char(birthday, 'MM-DD')"
        if uow.dialect == "postgresql"
        else "strftime('%m-%d', birthday)"
    )
    rows = _birthday_members(uow, program, month_day, _month_days(today))
    members, points = 0, 0
    for member_id in rows:
        member = uow.members.get_by_id(member_id)
        assert member is not None
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
            members, points = members + 1, points + awarded
    return {"members": members, "points": points}


def _birthday_members(
    uow: UnitOfWork, program: Program, month_day: str, days: list[str]
) -> list[int]:
    placeholders = ", ".join(f":day{index}" for index in range(len(days)))
    statement = text(
        "SELECT id FROM members WHERE program_id = :program_id AND status = 'active' "
        f"AND birthday IS NOT NULL AND {month_day} IN ({placeholders}) ORDER BY id"
    )
    params: dict[str, object] = {"program_id": program.id}
    params |= {f"day{index}": day for index, day in enumerate(days)}
    return [int(row[0]) for row in uow.connection.execute(statement, params)]
