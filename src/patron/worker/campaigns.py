"""The `campaigns` job: once a day per program, every open birthday, anniversary, win-back
and appreciation campaign grants what is due (see `services.campaigns.run_due`).

Running it twice or late grants nothing twice (each grant is keyed in `campaign_grants`)
and misses nothing within the look-back: birthdays in the month over the whole birthday
month, birthdays on the day and anniversaries over the campaign's `catch_up_days`, a
win-back offer as long as the lapse lasts, invitations until the capacity is reached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.services.campaigns import run_due


def grant_due(uow: UnitOfWork, program: Program, at: datetime, run: str) -> dict[str, Any]:
    """Job step: grant every scheduled campaign's due offers as of `at`."""
    return run_due(uow, program, at)
