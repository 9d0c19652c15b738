"""The `home-coalition` template: seven home stores share one points currency; members
are Silver from the start (2% back in points) and Gold from 1,000 spent in a calendar
year (5% back)."""

from __future__ import annotations

from datetime import datetime

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.brands import BrandIn
from patron.services.brands import create_brand
from patron.services.context import Caller
from patron.services.templates import Spec, Template

#: (code, name) of the coalition's brands.
BRANDS = (
    ("furniture", "Furniture House"),
    ("kitchen", "Kitchen Corner"),
    ("garden", "Garden Centre"),
    ("lighting", "Bright Lighting"),
    ("textiles", "Home Textiles"),
    ("diy", "DIY Depot"),
    ("decor", "Decor Studio"),
)
#: Percent back in points (each worth 1/100 of a unit): every member gets Silver's 2%
#: (a new member has no tier until their first order is counted), Gold stacks 3% more.
BACK = (
    ("silver-back", "Silver: 2% back in points", (), 2),
    ("gold-back", "Gold: 5% back in points", ("gold",), 3),
)


def build(currency: str, unit: int) -> tuple[Spec, list[Spec], list[Spec]]:
    program = {
        # no base earning: the tier rules below give every member their percent back
        "earn_rate": {"points": 0, "per_amount": unit},
        "point_value": {"points": 100, "amount": unit},
        "tiers": {
            "metric": "spend",
            "window": "calendar_year",
            "levels": [
                {"code": "silver", "name": "Silver", "threshold": 0},
                {"code": "gold", "name": "Gold", "threshold": 1000 * unit},
            ],
        },
    }
    rules = [
        {
            "code": code,
            "name": name,
            "trigger": "order.paid",
            "conditions": {"tiers": list(tiers)},
            # `points` points (1/100 of a unit each) per unit spent = that percent back
            "award": {
                "kind": "points_per_amount",
                "points": points,
                "per_amount": {"amount": unit, "currency": currency},
            },
        }
        for code, name, tiers, points in BACK
    ]
    rewards = [
        {"name": "5 off", "points_cost": 500, "value": {"amount": 5 * unit, "currency": currency}}
    ]
    return program, rules, rewards


def add_brands(uow: UnitOfWork, caller: Caller, program: Program, unit: int, now: datetime) -> None:
    """The seven brands (brands are the tenant's: ones that exist already are kept)."""
    for code, name in BRANDS:
        if uow.tenants.get_brand(caller.tenant_id, code) is None:
            create_brand(uow, caller, BrandIn(code=code, name=name), now)


HOME_COALITION = Template(
    "home-coalition",
    "Seven home stores (furniture, kitchen, garden, lighting, textiles, DIY, decor) share "
    "one points currency: earn at one, redeem at any (100 points = 1). Silver from the "
    "first order: 2% back in points; Gold from 1,000 spent in a calendar year: 5% back; "
    "500 points = 5 off.",
    build,
    extras=add_brands,
)
