"""The `beauty-charity` template: points can be spent on a reward or donated to one of
three charities, whose donations the brand matches by half."""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.charities import CharityIn
from patron.services.charities import create_charity
from patron.services.context import Caller
from patron.services.templates import Spec, Template

#: (code, name, description) of the charities the template creates.
CHARITIES = (
    ("clean-water", "Clean Water Fund", "Wells and water filters for villages."),
    ("reforest", "Reforest Now", "Native trees planted where forests burned."),
    ("safe-shelter", "Safe Shelter", "Emergency housing for women and children."),
)
#: Donations in steps of 100 points (1.00 of value), matched 50% by the brand.
STEP = 100
MATCHING_PERCENT = 50


def build(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        "earn_rate": {"points": 1, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
    }
    rewards = [
        {"name": "5 off", "points_cost": 500, "value": {"amount": 5 * unit, "currency": currency}}
    ]
    return program, [], rewards


def add_charities(
    uow: UnitOfWork, caller: Caller, program: Program, unit: int, now: datetime
) -> None:
    for code, name, description in CHARITIES:
        spec = CharityIn(
            code=code,
            name=name,
            description=description,
            points_step=STEP,
            min_points=STEP,
            matching_percent=MATCHING_PERCENT,
        )
        create_charity(uow, program, spec, now)


BEAUTY_CHARITY = Template(
    "beauty-charity",
    "1 point per 1 spent, 100 points worth 1: spend 500 points on a 5 reward, or donate "
    "them in steps of 100 to Clean Water Fund, Reforest Now or Safe Shelter; the brand "
    "adds 50% of each donation's value.",
    build,
    extras=add_charities,
)
