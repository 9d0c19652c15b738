"""When a rule is active: an instant range in UTC, weekdays and hours in local time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from patron.domain.errors import InvalidInput
from patron.domain.rules.model import Schedule
from patron.domain.rules.view import EventView

# Fixed English names: calendar.day_name follows the process locale.
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class CompiledSchedule:
    """A checked schedule; `days` empty means every day, `hours` None all day."""

    active_from: datetime | None
    active_to: datetime | None
    days: frozenset[int]
    hours: tuple[int, int] | None
    #: Whether the days or hours are read (they need the local time).
    local: bool
    #: The reasons of the instant range, formatted once.
    before_reason: str
    after_reason: str


def compile_schedule(schedule: Schedule) -> CompiledSchedule | None:
    """Check `schedule` (InvalidInput naming the `schedule.*` field at fault); None when the
    schedule is "always", so that evaluation skips it entirely."""
    for name in ("active_from", "active_to"):
        instant = getattr(schedule, name)
        if instant is not None and (
            not isinstance(instant, datetime) or instant.utcoffset() is None
        ):
            raise InvalidInput("must be a date-time with a time zone", field=f"schedule.{name}")
    start, end = schedule.active_from, schedule.active_to
    if start is not None and end is not None and start >= end:
        raise InvalidInput("must be after active_from", field="schedule.active_to")
    days = _days(schedule.days_of_week)
    hours = _hours(schedule.hours)
    if start is None and end is None and not days and hours is None:
        return None
    return CompiledSchedule(
        start,
        end,
        days,
        hours,
        local=bool(days) or hours is not None,
        before_reason=f"schedule: not active before {start.isoformat()}" if start else "",
        after_reason=f"schedule: ended at {end.isoformat()}" if end else "",
    )


def _days(days_of_week: tuple[int, ...]) -> frozenset[int]:
    for day in days_of_week:
        if not _is_int(day) or not 0 <= day <= 6:
            raise InvalidInput(
                f"{day!r} is not a day of the week (0 = Monday .. 6 = Sunday)",
                field="schedule.days_of_week",
            )
    if len(set(days_of_week)) != len(days_of_week):
        raise InvalidInput("a day appears twice", field="schedule.days_of_week")
    # All seven days is the same as none: every day.
    return frozenset(days_of_week) if len(days_of_week) < 7 else frozenset()


def _hours(hours: tuple[int, int] | None) -> tuple[int, int] | None:
    if hours is None:
        return None
    if (
        len(hours) != 2
        or not all(_is_int(hour) for hour in hours)
        or not 0 <= hours[0] < hours[1] <= 24
    ):
        raise InvalidInput(
            f"{hours!r} is not [start, end) with 0 <= start < end <= 24", field="schedule.hours"
        )
    # 0-24 is all day.
    return None if hours == (0, 24) else (hours[0], hours[1])


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_schedule(schedule: CompiledSchedule, view: EventView) -> str | None:
    """None if the rule is active when the event occurred, else why not."""
    occurred_at = view.event.occurred_at
    if schedule.active_from is not None and occurred_at < schedule.active_from:
        return schedule.before_reason
    if schedule.active_to is not None and occurred_at >= schedule.active_to:
        return schedule.after_reason
    if not schedule.local:
        return None
    local = view.local
    if schedule.days and local.weekday() not in schedule.days:
        when = f"{local.date().isoformat()} {local.hour:02d}:{local.minute:02d}"
        return f"schedule: not active on {_DAY_NAMES[local.weekday()]} (local {when})"
    hours = schedule.hours
    if hours is not None and not hours[0] <= local.hour < hours[1]:
        when = f"{local.hour:02d}:{local.minute:02d}"
        return f"schedule: outside active hours {hours[0]}-{hours[1]} (local {when})"
    return None
