"""A campaign's report: members targeted, rewards issued and redeemed, and the revenue
of those members in the days after each grant (see `CampaignReport`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from patron.db.tables import campaign_grants, orders, redemptions, rule_awards
from patron.db.uow import UnitOfWork
from patron.domain import campaigns as domain
from patron.domain.campaigns import CampaignKind
from patron.domain.program import Program
from patron.schemas.campaigns import CampaignReport
from patron.schemas.common import Money
from patron.services import campaign_audience as who
from patron.services.campaign_audience import Campaign
from patron.services.campaigns import require_campaign


def report(
    uow: UnitOfWork, program: Program, code: str, days: int, now: datetime
) -> CampaignReport:
    """What the campaign gave and brought: see `CampaignReport`. A bonus campaign's grants
    are its rule's awards (each order it multiplied)."""
    campaign = Campaign.of(require_campaign(uow, program, code))
    if campaign.spec.kind is CampaignKind.BONUS:
        given = _bonus_awards(uow, program, campaign)
    else:
        given = _grants(uow, campaign)
    if campaign.spec.kind is CampaignKind.APPRECIATION:
        targeted = _audience_size(uow, program, campaign, now)
    else:
        targeted = len({member_id for member_id, _, _, _ in given})
    coupons = [redemption for _, _, _, redemption in given if redemption is not None]
    return CampaignReport(
        campaign=code,
        days=days,
        targeted=targeted,
        rewards_issued=len(given),
        points_issued=sum(points for _, _, points, _ in given),
        coupons_issued=len(coupons),
        redeemed=_consumed(uow, coupons),
        revenue=Money(
            amount=_revenue(uow, program, [(m, at) for m, at, _, _ in given], days),
            currency=program.currency,
        ),
    )


Given = tuple[int, datetime, int, int | None]


def _grants(uow: UnitOfWork, campaign: Campaign) -> list[Given]:
    query = select(
        campaign_grants.c.member_id,
        campaign_grants.c.granted_at,
        campaign_grants.c.points,
        campaign_grants.c.redemption_id,
    ).where(campaign_grants.c.campaign_id == campaign.id)
    return [(int(m), at, int(p), r) for m, at, p, r in uow.connection.execute(query)]


def _bonus_awards(uow: UnitOfWork, program: Program, campaign: Campaign) -> list[Given]:
    rule = uow.rules.get(program.id, domain.bonus_rule_code(campaign.code))
    if rule is None:  # pragma: no cover - saved with the campaign
        return []
    query = select(rule_awards.c.member_id, rule_awards.c.occurred_at, rule_awards.c.points).where(
        rule_awards.c.rule_id == rule.id, rule_awards.c.points > 0
    )
    return [(int(m), at, int(p), None) for m, at, p in uow.connection.execute(query)]


def _audience_size(uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime) -> int:
    members_in = who.candidates(uow, program, campaign, at).order_by(None).subquery()
    return int(uow.connection.execute(select(func.count()).select_from(members_in)).scalar_one())


def _consumed(uow: UnitOfWork, redemption_ids: list[int]) -> int:
    if not redemption_ids:
        return 0
    query = select(func.count()).where(
        redemptions.c.id.in_(redemption_ids), redemptions.c.status == "consumed"
    )
    return int(uow.connection.execute(query).scalar_one())


def _revenue(
    uow: UnitOfWork, program: Program, given: list[tuple[int, datetime]], days: int
) -> int:
    """Net revenue of the orders each member placed in the `days` after a grant (an order
    inside two grants' windows counts once), in the program's currency."""
    windows: dict[int, list[tuple[datetime, datetime]]] = {}
    for member_id, at in given:
        windows.setdefault(member_id, []).append((at, at + timedelta(days=days)))
    total = 0
    ids = sorted(windows)
    for start in range(0, len(ids), who.BATCH):
        query = select(
            orders.c.member_id,
            orders.c.occurred_at,
            orders.c.total,
            orders.c.merchandise_refunded + orders.c.shipping_refunded + orders.c.tax_refunded,
        ).where(
            orders.c.program_id == program.id,
            orders.c.currency == program.currency,
            orders.c.member_id.in_(ids[start : start + who.BATCH]),
        )
        for member_id, occurred_at, paid, refunded in uow.connection.execute(query):
            if any(low <= occurred_at < high for low, high in windows[int(member_id)]):
                total += int(paid) - int(refunded)
    return total
