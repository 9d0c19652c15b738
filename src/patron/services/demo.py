"""The demo: a tenant, a program, a reward, one of each growth program (segment, referral
policy, paid membership, charity, birthday campaign), 50 members with a welcome bonus, and a few
hundred orders (some refunded).

Idempotent: it finds the demo tenant if it exists and only tops up what is missing, so
`patron demo` (and `make run`) can run again and again.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from patron.db.uow import UnitOfWork
from patron.domain.program import Program
from patron.schemas.campaigns import NewCampaignIn
from patron.schemas.charities import CharityIn
from patron.schemas.common import Money
from patron.schemas.ledger import AdjustmentIn
from patron.schemas.members import MemberProfile
from patron.schemas.memberships import PlanIn
from patron.schemas.orders import (
    CustomerIn,
    OrderLineIn,
    OrderPaidIn,
    OrderRefundedIn,
    RefundLineIn,
)
from patron.schemas.programs import ProgramIn
from patron.schemas.referrals import ReferralPolicyIn
from patron.schemas.rewards import RewardIn
from patron.schemas.segments import NewSegmentIn
from patron.services import campaigns, charities, memberships, redemptions, referrals, segments
from patron.services.adjustments import adjust
from patron.services.context import Caller, Scope
from patron.services.members import enroll
from patron.services.orders import Replayed, record_order_paid, record_order_refunded
from patron.services.programs import create_program
from patron.services.tenants import create_key, create_tenant

DEMO_TENANT = "demo"
MEMBERS = 50
WELCOME_BONUS = 500
ORDERS = 300
CATEGORIES = {
    "coffee": (1299, 2499),
    "tea": (899, 1899),
    "mugs": (1499, 3499),
    "gifts": (2999, 8999),
}
FIRST_NAMES = ["Ada", "Grace", "Linus", "Mei", "Wei", "Yuki", "Omar", "Sofia", "Ivan", "Lena"]
LAST_NAMES = ["Lovelace", "Hopper", "Chen", "Lin", "Tanaka", "Haddad", "Rossi", "Petrov"]


DEMO_SEGMENT = {
    "code": "big-spenders",
    "name": "Spent $100 or more",
    "filter": {"spend": {"min": 10_000}},
}
DEMO_REFERRALS = {
    "base_url": "https://coffee.example/refer",
    "friend_reward": {"points": 200},
    "advocate_reward": {"points": 500},
    "min_order": {"amount": 2_000, "currency": "USD"},
}
DEMO_PLAN = {
    "code": "coffee-club",
    "name": "Coffee Club",
    "price": {"amount": 500, "currency": "USD"},
    "period": "month",
    "trial_days": 14,
    "perks": {"points_multiplier": "2", "free_shipping": True},
}
DEMO_CHARITY = {
    "code": "clean-water",
    "name": "Clean Water Fund",
    "points_step": 100,
    "min_points": 100,
    "matching_percent": 50,
}
DEMO_BIRTHDAY = {
    "code": "birthday",
    "name": "Birthday treat",
    "kind": "birthday",
    "timing": "day",
    "offer": {"reward": "five-off"},
}


@dataclass(frozen=True, slots=True)
class DemoInfo:
    api_key: str | None
    tenant_id: int
    created: bool


def run_demo(engine: Engine, now: datetime | None = None) -> DemoInfo:
    """Create (or find) the demo tenant and fill it; returns a new admin key when it
    created the tenant (keys are shown once; on later runs, make one with `patron keys`)."""
    now = now or datetime.now(UTC)
    with UnitOfWork(engine) as uow:
        existing = uow.tenants.get_by_name(DEMO_TENANT)
        if existing is not None:
            return DemoInfo(None, existing.id, created=False)
        tenant_id = create_tenant(uow, DEMO_TENANT, now)
        program = create_program(
            uow,
            tenant_id,
            ProgramIn(
                code="rewards",
                name="Demo Coffee Rewards",
                points_name="beans",
                currency="USD",
                time_zone="America/New_York",
                pending_days=14,
            ),
            now,
        )
        redemptions.create_reward(
            uow,
            program,
            RewardIn(
                name="$5 off",
                code="five-off",
                points_cost=500,
                value=Money(amount=500, currency="USD"),
                code_prefix="DEMO-",
            ),
            now,
        )
        key = create_key(uow, tenant_id, scopes=frozenset(Scope), name="demo admin", now=now)
        _growth(uow, Caller(tenant_id, None, frozenset(Scope)), program, now)
        uow.commit()
    _fill(engine, tenant_id, now)
    return DemoInfo(key.token, tenant_id, created=True)


def _growth(uow: UnitOfWork, caller: Caller, program: Program, now: datetime) -> None:
    """The growth programs, one of each, through the same services as the API: a segment,
    a referral policy, a paid membership, a charity and a birthday campaign."""
    segments.create(uow, program, NewSegmentIn.model_validate(DEMO_SEGMENT), now)
    referrals.set_policy(uow, program, ReferralPolicyIn.model_validate(DEMO_REFERRALS), now)
    memberships.create_plan(uow, program, PlanIn.model_validate(DEMO_PLAN), now)
    charities.create_charity(uow, program, CharityIn.model_validate(DEMO_CHARITY), now)
    campaigns.create_campaign(
        uow, caller, program, NewCampaignIn.model_validate(DEMO_BIRTHDAY), now
    )


def _fill(engine: Engine, tenant_id: int, now: datetime) -> None:
    """Orders spread over the last 120 days, and a few refunds, from a fixed seed."""
    rng = random.Random(42)
    caller = Caller(tenant_id=tenant_id, api_key_id=None, scopes=frozenset(Scope))
    with UnitOfWork(engine) as uow:
        program = uow.programs.get_default(tenant_id)
        assert program is not None
        for member in range(1, MEMBERS + 1):
            external_id = f"customer-{member}"
            enroll(uow, program, _profile(member), external_id, now)
            bonus = AdjustmentIn(points=WELCOME_BONUS, reason="demo welcome bonus")
            adjust(uow, caller, program, external_id, bonus, now)
        for number in range(1, ORDERS + 1):
            order = _order(rng, number, now)
            try:
                record_order_paid(uow, caller, program, order, now)
            except Replayed:
                continue
            if number % 25 == 0:
                refund = OrderRefundedIn(
                    refund_id=f"demo-refund-{number}",
                    order_id=order.order_id,
                    currency="USD",
                    lines=[RefundLineIn(line_id=order.lines[0].line_id, quantity=1)],
                    occurred_at=order.occurred_at + timedelta(days=3),
                )
                record_order_refunded(uow, caller, program, refund, now)
        uow.commit()


def _order(rng: random.Random, number: int, now: datetime) -> OrderPaidIn:
    member = rng.randrange(1, MEMBERS + 1)
    lines = []
    for line_no in range(rng.randint(1, 3)):
        category = rng.choice(list(CATEGORIES))
        low, high = CATEGORIES[category]
        lines.append(
            OrderLineIn(
                line_id=f"{number}-{line_no}",
                sku=f"{category}-{rng.randint(1, 9)}",
                category=category,
                quantity=rng.randint(1, 3),
                unit_price=Money(amount=rng.randint(low, high), currency="USD"),
            )
        )
    subtotal = sum(line.quantity * line.unit_price.amount for line in lines)
    return OrderPaidIn(
        order_id=f"demo-{number}",
        customer_id=f"customer-{member}",
        currency="USD",
        lines=lines,
        customer=CustomerIn(
            email=f"customer{member}@example.com",
            first_name=FIRST_NAMES[member % len(FIRST_NAMES)],
            last_name=LAST_NAMES[member % len(LAST_NAMES)],
        ),
        shipping=Money(amount=599, currency="USD"),
        total=Money(amount=subtotal + 599, currency="USD"),
        occurred_at=now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440)),
    )


def _profile(member: int) -> MemberProfile:
    return MemberProfile(
        email=f"customer{member}@example.com",
        first_name=FIRST_NAMES[member % len(FIRST_NAMES)],
        last_name=LAST_NAMES[member % len(LAST_NAMES)],
    )
