"""Program templates: ready programs modelled on well-known retail programs.

A template is data — the program's settings, earning rules and rewards, in the API's own
shapes — scaled to the program's currency (amounts are written in major units: "spend
500" is 500 dollars, euros or yen). Creating from a template goes through the same
services as the API, in one transaction, so a template can never build what the API
would refuse.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.errors import NotFound
from patron.domain.money import minor_units_per_major
from patron.domain.program import Program
from patron.schemas.programs import ProgramIn, TemplateIn, TemplateView
from patron.schemas.rewards import RewardIn
from patron.schemas.rules import NewRuleIn
from patron.services import redemptions, rules
from patron.services.context import Caller
from patron.services.programs import create_program

Spec = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Template:
    name: str
    description: str
    #: Builds (program settings, rules, rewards) for a currency's major unit in minor units.
    build: Callable[[str, int], tuple[Spec, list[Spec], list[Spec]]]
    #: What a growth template adds after the rules and rewards (plans, charities, brands),
    #: through the same services as the API: (uow, caller, program, major unit, now).
    extras: Callable[[UnitOfWork, Caller, Program, int, datetime], None] | None = None


def _money(currency: str, amount: int) -> Spec:
    return {"amount": amount, "currency": currency}


def _reward(name: str, points: int, value: Spec) -> Spec:
    return {"name": name, "points_cost": points, "value": value}


def _birthday_rule(points: int) -> Spec:
    return {
        "code": "birthday",
        "name": "Birthday reward",
        "trigger": "birthday",
        "award": {"kind": "fixed_points", "points": points},
        "limits": [{"period": "year", "max_awards": 1}],
    }


def _starter(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        "earn_rate": {"points": 1, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
        "pending_days": 14,
        "expiry": {"kind": "fixed", "months": 12, "round_to": "month", "remind_days": [30]},
        "tiers": {
            "metric": "spend",
            "window": "calendar_year",
            "levels": [
                {"code": "bronze", "name": "Bronze", "threshold": 0},
                {"code": "silver", "name": "Silver", "threshold": 500 * unit, "multiplier": "1.25"},
                {"code": "gold", "name": "Gold", "threshold": 1000 * unit, "multiplier": "1.5"},
            ],
        },
    }
    rewards = [_reward("5 off", 500, _money(currency, 5 * unit))]
    return program, [], rewards


def _sporting_goods(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        "earn_rate": {"points": 1, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
        "tiers": {
            "metric": "spend",
            "window": "calendar_year",
            "levels": [
                {"code": "member", "name": "Member", "threshold": 0},
                {
                    "code": "gold",
                    "name": "Gold",
                    "threshold": 500 * unit,
                    "perks": ["chosen_day:3"],
                    "entry_reward_points": 1000,
                },
            ],
        },
    }
    rewards = [_reward("10 off", 1000, _money(currency, 10 * unit))]
    return program, [], rewards


def _pharmacy(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        "earn_rate": {"points": 0, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
        "pending_days": 30,
    }
    cashback = {
        "code": "cashback",
        "name": "2% back, issued quarterly",
        "trigger": "order.paid",
        "award": {"kind": "percent_back", "percent": "2", "issue": "quarter"},
    }
    beauty_club = {
        "code": "beauty-club",
        "name": "Beauty club gift",
        "trigger": "order.paid",
        "conditions": {
            "lines": {"categories": ["beauty"]},
            "min_subtotal": _money(currency, 30 * unit),
        },
        "award": {"kind": "fixed_points", "points": 500},
        "limits": [{"period": "month", "max_awards": 1}],
    }
    rewards = [
        _reward("3 birthday reward", 300, _money(currency, 3 * unit)),
        _reward("Beauty club gift (5 off)", 500, _money(currency, 5 * unit)),
    ]
    return program, [cashback, _birthday_rule(300), beauty_club], rewards


def _beauty(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        "earn_rate": {"points": 1, "per_amount": unit},
        "point_value": {"points": 100, "amount": 10 * unit},
    }
    rewards = [_reward("10 off", 100, _money(currency, 10 * unit))]
    return program, [_birthday_rule(100)], rewards


TEMPLATES: dict[str, Template] = {
    template.name: template
    for template in (
        Template(
            "starter",
            "1 point per 1 spent (pending 14 days); Bronze, Silver (500 a year, 1.25x) and "
            "Gold (1,000 a year, 1.5x) on calendar-year spend; 500 points = 5 off; points "
            "expire 12 months after earning, at the end of the month, reminded 30 days before.",
            _starter,
        ),
        Template(
            "sporting-goods",
            "Free card: 1 point per 1 spent. Gold at 500 spent in a calendar year: the member "
            "picks one day a year on which points are tripled, and 1,000 points (a 10 reward) "
            "each year as Gold.",
            _sporting_goods,
        ),
        Template(
            "pharmacy",
            "2% back as store credit, issued at the end of each quarter (after a 30-day "
            "return window); a 3 birthday reward (300 points, once a year); beauty club: an "
            "order with 30 or more of beauty products earns the monthly gift (500 points, "
            "once a month).",
            _pharmacy,
        ),
        Template(
            "beauty",
            "1 point per 1 spent, each point worth 0.10: rewards of 10 off per 100 points; "
            "a 10 birthday reward (100 points, once a year).",
            _beauty,
        ),
    )
}


def all_templates() -> dict[str, Template]:
    """The core templates and the growth programs' (memberships, charity, coalition)."""
    # Imported here: the growth templates' builders import this module for `Template`.
    from patron.services import growth_templates

    return {**TEMPLATES, **growth_templates.TEMPLATES}


def list_templates() -> list[TemplateView]:
    return [TemplateView(name=t.name, description=t.description) for t in all_templates().values()]


def create_from_template(
    uow: UnitOfWork, caller: Caller, spec: TemplateIn, now: datetime
) -> Program:
    """Create program `spec.code` from template `spec.template`, with its rules and rewards."""
    templates = all_templates()
    template = templates.get(spec.template)
    if template is None:
        raise NotFound(
            f"no template {spec.template!r}; templates: {', '.join(templates)}", field="template"
        )
    unit = minor_units_per_major(spec.currency)
    settings, rule_specs, reward_specs = template.build(spec.currency, unit)
    program_in = ProgramIn.model_validate(
        {
            **settings,
            "code": spec.code,
            "name": spec.name or template.name.replace("-", " ").title(),
            "currency": spec.currency,
            "time_zone": spec.time_zone,
        }
    )
    program = create_program(uow, caller.tenant_id, program_in, now)
    for rule in rule_specs:
        rules.create_rule(uow, caller, program, NewRuleIn.model_validate(rule), now)
    for reward in reward_specs:
        redemptions.create_reward(uow, program, RewardIn.model_validate(reward), now)
    if template.extras is not None:
        template.extras(uow, caller, program, unit, now)
    return program
