"""Awarding an action: evaluate the rules of its trigger for one member and credit what
they give, in the caller's unit of work. Used by action events and by enrolment (the
`signup` trigger fires when a member is enrolled, however that happens).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.ledger import TxKind, brand_issued
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.domain.rules import EventFacts, Trigger
from patron.services import tiers
from patron.services.earning import Earning
from patron.services.member_ledger import Credit, MemberLedger, Refs

#: Source of the events Patron records itself (a signup on enrolment).
PATRON_SOURCE = "patron"


def award_action(
    uow: UnitOfWork,
    program: Program,
    member: Any,
    brand_id: int,
    event_id: int,
    facts: EventFacts,
    now: datetime,
    *,
    api_key_id: int | None = None,
) -> tuple[int, int | None, dict[str, Any]]:
    """Evaluate the rules for one member's action and credit what they give:
    (points, ledger transaction id or None, explanation)."""
    if member.status != MemberStatus.ACTIVE.value:
        return 0, None, {"points": 0, "reason": "member blocked", "rules": []}
    ledger = MemberLedger(uow, program, member.id, now)  # locks the balance: limits hold
    earning = Earning(uow, program)
    traits = earning.traits([member.id], now).of(member.id, tuple(member.tags), facts.occurred_at)
    evaluation = earning.evaluate(member.id, facts, traits.facts())
    explanation: dict[str, Any] = {"points": evaluation.points, "rules": evaluation.explanation}
    if evaluation.points == 0:
        return 0, None, explanation
    occurred = facts.occurred_at
    portions = earning.lot_portions(evaluation, occurred, program.lot_expires_at(occurred))
    written = [
        ledger.credit(
            Credit(
                member_id=member.id,
                points=points,
                kind=TxKind.EARN,
                source_account=brand_issued(brand_id),
                occurred_at=occurred,
                expires_at=expires_at,
                refs=Refs(event_id=event_id, api_key_id=api_key_id),
                details={"event": facts.trigger.value, "explanation": explanation}
                if index == 0
                else {"event": facts.trigger.value, "rule": rule},
            )
        )
        for index, (expires_at, points, rule) in enumerate(portions)
    ]
    credited = written[0]
    ledger.save()
    earning.record(member.id, event_id, facts.occurred_at, evaluation)
    tiers.on_activity(uow, program, [member.id], now)
    uow.outbox.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        type_="points.earned",
        payload={
            "customer_id": member.external_id,
            "event": facts.trigger.value,
            "points": evaluation.points,
            "status": "available",
            "transaction_id": credited.transaction_id,
        },
        now=now,
    )
    return evaluation.points, credited.transaction_id, explanation


def award_signup(
    uow: UnitOfWork, program: Program, member_id: int, tags: tuple[str, ...], now: datetime
) -> None:
    """Fire the `signup` trigger for a member enrolled just now, if any rule may award it.

    The enrolment is recorded as a `signup` event from source `patron` with source id
    `<program>:<customer id>`, so it is awarded once per program; a store's own signup
    event (another source) is a separate event, which a rule's lifetime limit keeps from
    paying twice."""
    earning = Earning(uow, program)
    if not any(rule.spec.trigger is Trigger.SIGNUP for rule in earning.rules_at(now)):
        return
    member = uow.members.get_by_id(member_id)
    if member is None:  # pragma: no cover - just inserted
        return
    award_own_event(
        uow,
        program,
        member,
        Trigger.SIGNUP,
        source_id=f"{program.code}:{member.external_id}",
        payload={},
        at=now,
    )


def award_own_event(
    uow: UnitOfWork,
    program: Program,
    member: Any,
    trigger: Trigger,
    *,
    source_id: str,
    payload: dict[str, Any],
    at: datetime,
) -> int | None:
    """Record an event Patron raises itself (source `patron`, the tenant's default brand)
    and award it; the points given, or None if `source_id` was recorded before."""
    brand = uow.tenants.default_brand(program.tenant_id)
    assert brand is not None, "every tenant has a brand"
    event_id = uow.events.claim(
        tenant_id=program.tenant_id,
        program_id=program.id,
        source=PATRON_SOURCE,
        type=trigger.value,
        source_id=source_id,
        brand_id=brand.id,
        payload={"customer_id": member.external_id, **payload},
        occurred_at=at,
        received_at=at,
    )
    if event_id is None:
        return None
    facts = EventFacts(
        trigger=trigger, event_type=None, occurred_at=at, brand=brand.code, payload=payload
    )
    points, tx_id, explanation = award_action(uow, program, member, brand.id, event_id, facts, at)
    result = {"points": points, "transaction_id": tx_id, "explanation": explanation}
    uow.events.set_results([(event_id, member.id, result)])
    return points
