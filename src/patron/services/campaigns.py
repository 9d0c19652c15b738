"""Campaigns: save them and grant what they give.

Every grant claims its row `(campaign, member, key)` in `campaign_grants` before it gives
anything (`INSERT ... ON CONFLICT DO NOTHING`): a second run, a late run or a concurrent
one finds the row and gives nothing. Points are credited through `MemberLedger` (kind
`campaign`, from the default brand's `issued` account); a coupon is a catalogue reward
given for 0 points by `grants.grant_reward`. Each grant runs in a savepoint: a coupon out
of stock undoes that grant's claim and stops the run, and everything before it stays.
Who is due is decided by `campaign_audience`; the report is `campaign_report`.

A bonus campaign gives nothing itself: it manages the earning rule `campaign-<code>` (a
multiplier over the campaign's window, restricted to its segment), so the rules engine,
its explanations and its limits apply unchanged. Rule codes starting with `campaign-` are
reserved for campaigns.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select

from patron.db.insert_or_nothing import insert_or_nothing
from patron.db.tables import campaign_grants, campaigns, members
from patron.db.uow import UnitOfWork
from patron.domain import campaigns as domain
from patron.domain.campaigns import CampaignKind
from patron.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from patron.domain.ledger import TxKind, brand_issued
from patron.domain.program import Program
from patron.schemas.campaigns import CampaignIn, CampaignView, NewCampaignIn, RunResult
from patron.schemas.rules import AwardIn, ConditionsIn, NewRuleIn, RuleIn, ScheduleIn
from patron.services import campaign_audience as who
from patron.services import grants, rules, segments
from patron.services.campaign_audience import Campaign
from patron.services.context import Caller
from patron.services.member_ledger import Credit, MemberLedger, Refs

# --- saving ---------------------------------------------------------------------------


def create_campaign(
    uow: UnitOfWork, caller: Caller, program: Program, spec: NewCampaignIn, now: datetime
) -> CampaignView:
    """Save a new campaign; 409 if the code is taken, 422 (nothing written) if its
    settings do not fit its kind, or name an unknown segment or reward."""
    if _row(uow, program, spec.code) is not None:
        raise Conflict(
            f"campaign {spec.code!r} exists; PUT /v1/campaigns/{spec.code} changes it",
            field="code",
        )
    _check(uow, program, spec, now)
    uow.connection.execute(
        campaigns.insert().values(
            tenant_id=program.tenant_id,
            program_id=program.id,
            code=spec.code,
            created_at=now,
            **_columns(spec, now),
        )
    )
    _sync_bonus_rule(uow, caller, program, spec.code, spec, now)
    return campaign_view(uow, program, spec.code)


def revise_campaign(
    uow: UnitOfWork, caller: Caller, program: Program, code: str, spec: CampaignIn, now: datetime
) -> CampaignView:
    """Replace a campaign's settings (its kind cannot change); grants already made stay."""
    row = _row(uow, program, code, lock=True)
    if row is None:
        raise NotFound(f"no campaign {code!r}", field="campaign_code")
    if spec.kind.value != row.kind:
        raise InvalidInput(f"campaign {code!r} is a {row.kind} campaign", field="kind")
    _check(uow, program, spec, now)
    uow.connection.execute(
        campaigns.update().where(campaigns.c.id == row.id).values(**_columns(spec, now))
    )
    _sync_bonus_rule(uow, caller, program, code, spec, now)
    return campaign_view(uow, program, code)


def _columns(spec: CampaignIn, now: datetime) -> dict[str, Any]:
    return {
        "name": spec.name,
        "kind": spec.kind.value,
        "spec": spec.model_dump(mode="json", exclude={"code"}),
        "active": spec.active,
        "starts_at": spec.starts_at,
        "ends_at": spec.ends_at,
        "updated_at": now,
    }


def _check(uow: UnitOfWork, program: Program, spec: CampaignIn, now: datetime) -> None:
    offer = spec.offer
    domain.CampaignSpec(
        kind=spec.kind,
        points=offer.points if offer else None,
        reward=offer.reward if offer else None,
        multiplier=str(spec.multiplier) if spec.multiplier is not None else None,
        lapse_days=spec.lapse_days,
        capacity=spec.capacity,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
    ).check()
    if offer is not None and offer.reward is not None:
        try:
            grants.require_grantable(uow, program, offer.reward)
        except (NotFound, InvalidInput) as error:  # the body's reference is at fault
            raise InvalidInput(str(error), field="offer.reward") from None
    if spec.segment is not None:
        segments.require_segment(uow, program, spec.segment, field="segment")


def _sync_bonus_rule(
    uow: UnitOfWork, caller: Caller, program: Program, code: str, spec: CampaignIn, now: datetime
) -> None:
    """Save the bonus's managed rule: version 1, or the next version of it."""
    if spec.kind is not CampaignKind.BONUS:
        return
    rule = RuleIn(
        name=f"Campaign: {spec.name}",
        trigger="order.paid",
        conditions=ConditionsIn(segments=[spec.segment] if spec.segment else []),
        award=AwardIn(kind="multiplier", multiplier=spec.multiplier),
        schedule=ScheduleIn(active_from=spec.starts_at, active_to=spec.ends_at),
        active=spec.active,
    )
    rule_code = domain.bonus_rule_code(code)
    if uow.rules.get(program.id, rule_code) is None:
        new = NewRuleIn(code=rule_code, **rule.model_dump(exclude_unset=True))
        rules.create_rule(uow, caller, program, new, now, managed=True)
    else:
        rules.revise_rule(uow, caller, program, rule_code, rule, now, managed=True)


# --- reading --------------------------------------------------------------------------


def _row(uow: UnitOfWork, program: Program, code: str, *, lock: bool = False) -> Row[Any] | None:
    query = select(campaigns).where(campaigns.c.program_id == program.id, campaigns.c.code == code)
    return uow.connection.execute(query.with_for_update() if lock else query).first()


def require_campaign(uow: UnitOfWork, program: Program, code: str) -> Row[Any]:
    row = _row(uow, program, code)
    if row is None:
        raise NotFound(f"no campaign {code!r}", field="campaign_code")
    return row


def campaign_view(uow: UnitOfWork, program: Program, code: str) -> CampaignView:
    return _view(require_campaign(uow, program, code))


def _view(row: Row[Any]) -> CampaignView:
    bonus = row.kind == CampaignKind.BONUS.value
    return CampaignView(
        code=row.code,
        name=row.name,
        kind=CampaignKind(row.kind),
        active=row.active,
        spec=row.spec,
        rule=domain.bonus_rule_code(row.code) if bonus else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def list_campaigns(
    uow: UnitOfWork, program: Program, *, after_id: int | None, limit: int
) -> tuple[list[CampaignView], int | None]:
    """A page of campaigns in creation order, and the cursor id of the next page."""
    query = select(campaigns).where(campaigns.c.program_id == program.id)
    if after_id is not None:
        query = query.where(campaigns.c.id > after_id)
    rows = list(uow.connection.execute(query.order_by(campaigns.c.id).limit(limit + 1)))
    after = rows[limit - 1].id if len(rows) > limit else None
    return [_view(row) for row in rows[:limit]], after


# --- granting -------------------------------------------------------------------------


@dataclass
class Tally:
    members: int = 0
    points: int = 0
    coupons: int = 0
    stopped: str | None = None

    def result(self, code: str) -> RunResult:
        return RunResult(
            campaign=code,
            members=self.members,
            points=self.points,
            coupons=self.coupons,
            stopped=self.stopped,
        )


_CLAIM = insert_or_nothing(
    campaign_grants,
    ("tenant_id", "campaign_id", "member_id", "key", "points", "granted_at"),
    ("campaign_id", "member_id", "key"),
    "id",
)


def grant_all(
    uow: UnitOfWork,
    program: Program,
    campaign: Campaign,
    due: Iterable[tuple[int, str]],
    at: datetime,
    tally: Tally,
) -> None:
    """Grant `campaign`'s offer to each (member id, key) in order, skipping keys granted
    before; a failing grant (out of stock...) stops the run."""
    offer = campaign.spec.offer
    assert offer is not None, "checked when saved"
    issued = _issued_account(uow, program) if offer.points is not None else ""
    for member_id, key in due:
        try:
            with uow.connection.begin_nested():
                given = _grant(uow, program, campaign, member_id, key, at, issued)
        except DomainError as error:
            tally.stopped = error.code
            return
        if given is not None:
            tally.members += 1
            tally.points += given
            tally.coupons += 0 if given else 1


def _issued_account(uow: UnitOfWork, program: Program) -> str:
    """The account campaign points are credited from: the default brand's `issued`."""
    brand = uow.tenants.default_brand(program.tenant_id)
    assert brand is not None, "every tenant has a brand"
    return brand_issued(brand.id)


def _grant(
    uow: UnitOfWork,
    program: Program,
    campaign: Campaign,
    member_id: int,
    key: str,
    at: datetime,
    issued: str,
) -> int | None:
    """Claim the grant and give the offer (points from account `issued`): the points given
    (0 for a coupon), or None if the key was granted before."""
    params = {
        "tenant_id": program.tenant_id,
        "campaign_id": campaign.id,
        "member_id": member_id,
        "key": key,
        "points": 0,
        "granted_at": at,
    }
    claimed = uow.connection.execute(_CLAIM, params).first()
    if claimed is None:
        return None
    offer = campaign.spec.offer
    assert offer is not None, "checked when saved"
    reason = f"campaign {campaign.code} {key}"
    if offer.points is not None:
        values = {
            "points": offer.points,
            "transaction_id": _credit(
                uow, program, campaign, member_id, offer.points, issued, reason, at
            ),
        }
    else:
        assert offer.reward is not None
        source = {"campaign": campaign.code, "key": key}
        redemption_pk, _ = grants.grant_reward(
            uow, program, member_id, offer.reward, at, reason=reason, source=source
        )
        values = {"redemption_id": redemption_pk}
    uow.connection.execute(
        campaign_grants.update().where(campaign_grants.c.id == claimed.id).values(**values)
    )
    return offer.points or 0


def _credit(
    uow: UnitOfWork,
    program: Program,
    campaign: Campaign,
    member_id: int,
    points: int,
    source_account: str,
    reason: str,
    at: datetime,
) -> int:
    ledger = MemberLedger(uow, program, member_id, at)
    credited = ledger.credit(
        Credit(
            member_id=member_id,
            points=points,
            kind=TxKind.CAMPAIGN,
            source_account=source_account,
            occurred_at=at,
            expires_at=program.lot_expires_at(at),
            refs=Refs(reason=reason),
            details={"campaign": campaign.code, "kind": campaign.spec.kind.value},
        )
    )
    ledger.save()
    member = uow.members.get_by_id(member_id)
    assert member is not None
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="points.earned",
        payload={
            "customer_id": member.external_id,
            "event": f"campaign.{campaign.spec.kind.value}",
            "campaign": campaign.code,
            "points": points,
            "status": "available",
            "transaction_id": credited.transaction_id,
        },
        now=at,
    )
    return credited.transaction_id


def welcome(uow: UnitOfWork, program: Program, member_id: int, now: datetime) -> None:
    """Give a member enrolled just now the offer of each open welcome campaign (of its
    segment, if any). Called by every enrolment path (`members.add_member`); a coupon out
    of stock gives nothing and does not stop the enrolment."""
    for campaign in who.open_campaigns(uow, program, (CampaignKind.WELCOME,), now):
        audience = who.in_segment(uow, program, campaign, now)
        if audience is not None:
            query = select(members.c.id).where(members.c.id == member_id, audience)
            if uow.connection.execute(query).first() is None:
                continue
        grant_all(uow, program, campaign, [(member_id, domain.WELCOME_KEY)], now, Tally())


def run_due(uow: UnitOfWork, program: Program, at: datetime) -> dict[str, Any]:
    """The `campaigns` job: every open scheduled campaign grants what is due at `at`."""
    results = {
        campaign.code: run(uow, program, campaign, at).model_dump(exclude={"campaign"})
        for campaign in who.open_campaigns(uow, program, domain.SCHEDULED, at)
    }
    return {"campaigns": results}


def run_campaign(uow: UnitOfWork, program: Program, code: str, now: datetime) -> RunResult:
    """`POST /v1/campaigns/{code}/run`: grant what is due now, as the job would."""
    campaign = Campaign.of(require_campaign(uow, program, code))
    if campaign.spec.kind not in domain.SCHEDULED:
        raise InvalidInput(
            f"a {campaign.spec.kind.value} campaign is not run: it acts on its own",
            field="campaign_code",
        )
    if not campaign.open_at(now):
        raise Conflict(f"campaign {code!r} is not active now", field="campaign_code")
    return run(uow, program, campaign, now)


def run(uow: UnitOfWork, program: Program, campaign: Campaign, at: datetime) -> RunResult:
    """Grant what `campaign` has due at `at`. Runs of one campaign queue on its row lock,
    so an appreciation's capacity is counted by one run at a time."""
    _row(uow, program, campaign.code, lock=True)
    tally = Tally()
    kind = campaign.spec.kind
    if kind is CampaignKind.APPRECIATION:
        capacity = campaign.spec.capacity
        assert capacity is not None
        limit = domain.places_left(capacity, who.granted_count(uow, campaign))
        invitees = who.invitees(uow, program, campaign, at, limit)
        due = [(member_id, domain.INVITE_KEY) for member_id in invitees]
        grant_all(uow, program, campaign, due, at, tally)
        if tally.stopped is None and tally.members == limit:
            tally.stopped = "capacity"
        return tally.result(campaign.code)
    finder = {
        CampaignKind.BIRTHDAY: who.birthdays_due,
        CampaignKind.ANNIVERSARY: who.anniversaries_due,
        CampaignKind.WIN_BACK: who.lapses_due,
    }[kind]
    due = who.not_granted(uow, campaign, finder(uow, program, campaign, at))
    grant_all(uow, program, campaign, due, at, tally)
    return tally.result(campaign.code)
