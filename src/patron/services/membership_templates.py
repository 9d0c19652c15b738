"""Templates of paid-membership programs: the program, its rules and rewards, and (through
`Template.extras`) its plans, created by the same service as `POST /v1/membership-plans`.

Amounts are written in major units and scaled by the currency's minor unit (`unit`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.memberships import PlanIn
from patron.services import memberships
from patron.services.context import Caller
from patron.services.templates import Spec, Template

Build = tuple[Spec, list[Spec], list[Spec]]


def _program(unit: int) -> Spec:
    return {
        "earn_rate": {"points": 1, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
    }


def _money(currency: str, amount: int) -> Spec:
    return {"amount": amount, "currency": currency}


def _plans(*specs: dict[str, Any]) -> Any:
    """`Template.extras` creating the plans `specs` (amounts in major units)."""

    def extras(uow: UnitOfWork, caller: Caller, program: Program, unit: int, now: datetime) -> None:
        for spec in specs:
            body = _scaled(spec, program.currency, unit)
            memberships.create_plan(uow, program, PlanIn.model_validate(body), now)

    return extras


def _scaled(value: Any, currency: str, unit: int) -> Any:
    """`{"major": n}` becomes `{"amount": n x unit, "currency": ...}`, recursively."""
    if isinstance(value, dict):
        if set(value) == {"major"}:
            return _money(currency, value["major"] * unit)
        return {key: _scaled(item, currency, unit) for key, item in value.items()}
    return value


def _bookstore(currency: str, unit: int) -> Build:
    birthday = {
        "code": "birthday",
        "name": "Birthday offer",
        "trigger": "birthday",
        "award": {"kind": "fixed_points", "points": 500},
        "limits": [{"period": "year", "max_awards": 1}],
    }
    rewards = [{"name": "5 off", "points_cost": 500, "value": _money(currency, 5 * unit)}]
    return _program(unit), [birthday], rewards


def _pharmacy_plus(currency: str, unit: int) -> Build:
    return _program(unit), [], []


def _coop(currency: str, unit: int) -> Build:
    rewards = [{"name": "5 off", "points_cost": 500, "value": _money(currency, 5 * unit)}]
    return _program(unit), [], rewards


BOOKSTORE = Template(
    "bookstore-membership",
    "Bookstore membership, 25 a year (14-day trial): 10% off every order and free "
    "shipping, validated at checkout; a birthday offer (500 points = 5 off, once a year); "
    "1 point per 1 spent.",
    _bookstore,
    _plans(
        {
            "code": "members",
            "name": "Bookstore membership",
            "price": {"major": 25},
            "period": "year",
            "trial_days": 14,
            "grace_days": 14,
            "perks": {"percent_off": {"percent": "10"}, "free_shipping": True},
        }
    ),
)

PHARMACY_PLUS = Template(
    "pharmacy-plus",
    "Pharmacy Plus, 5 a month (30-day trial): a 10 store credit each month and 20% off "
    "own-brand products (lines tagged own-brand), validated at checkout; 1 point per 1 spent.",
    _pharmacy_plus,
    _plans(
        {
            "code": "plus",
            "name": "Pharmacy Plus",
            "price": {"major": 5},
            "period": "month",
            "trial_days": 30,
            "grace_days": 7,
            "perks": {
                "monthly_credit": {"major": 10},
                "percent_off": {"percent": "20", "tags": ["own-brand"]},
            },
        }
    ),
)

COOP_LIFETIME = Template(
    "coop-lifetime",
    "Co-op lifetime membership, 30 once (30-day trial): 10% of each calendar year's eligible "
    "spend, net of refunds, back as store credit after the year ends; 1 point per 1 spent.",
    _coop,
    _plans(
        {
            "code": "owner",
            "name": "Co-op owner",
            "price": {"major": 30},
            "period": "lifetime",
            "trial_days": 30,
            "grace_days": 7,
            "perks": {"yearly_dividend_percent": "10"},
        }
    ),
)

TEMPLATES = (BOOKSTORE, PHARMACY_PLUS, COOP_LIFETIME)
