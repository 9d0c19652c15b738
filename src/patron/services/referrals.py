"""Referrals: codes, the referral a friend brings (at enrolment or with a first order),
the friend reward, admin review, and the views. The advocate reward is the `referrals`
job's (`worker/referrals.py`), after the friend's first qualifying order has passed its
return window.

The policy is read from `programs.referral_policy` at each use (not from the cached
`Program`), so a new policy applies at once. Lock order: the referral row, then the
member's balance (the same as the job's).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from patron.db.repositories.referrals import ReferralRepository
from patron.db.uow import UnitOfWork
from patron.domain import referrals as domain
from patron.domain.calendar import Period, period_window
from patron.domain.errors import Conflict, DomainError, InvalidInput, NotFound
from patron.domain.ledger import POINTS, TxKind, brand_issued
from patron.domain.member import MemberStatus
from patron.domain.program import Program
from patron.domain.referrals import Check, ReferralPolicy, Status
from patron.schemas.common import Money
from patron.schemas.orders import OrderPaidIn
from patron.schemas.referrals import (
    AddressIn,
    DecisionIn,
    GivenRewardView,
    InviteIn,
    InviteView,
    MemberReferralView,
    ReferralIn,
    ReferralPolicyIn,
    ReferralPolicyView,
    ReferralRewardIn,
    ReferralStatsView,
    ReferralView,
)
from patron.services.brands import resolve_brand
from patron.services.context import Caller
from patron.services.grants import grant_reward, require_grantable
from patron.services.member_ledger import Credit, MemberLedger, Refs


class ReferralCodeInvalid(DomainError):
    code = "referral-code-invalid"
    status = 422


class SelfReferral(DomainError):
    code = "self-referral"
    status = 422


@dataclass(frozen=True, slots=True)
class Context:
    """What the event that brought the referral carried, for the checks."""

    ip: str | None = None
    device_id: str | None = None
    shipping_address: AddressIn | None = None

    def fingerprints(self) -> list[tuple[str, str]]:
        found = []
        if self.ip:
            found.append((Check.IP.value, domain.normalise_ip(self.ip)))
        if self.device_id:
            found.append((Check.DEVICE.value, domain.normalise_device(self.device_id)))
        if self.shipping_address:
            address = domain.normalise_address(self.shipping_address.parts())
            found.append((Check.ADDRESS.value, address))
        return found


# --- policy ------------------------------------------------------------------------------


def policy_of(uow: UnitOfWork, program: Program) -> ReferralPolicy | None:
    stored = ReferralRepository(uow.connection).policy(program.id)
    return ReferralPolicy.from_json(stored) if stored else None


def set_policy(
    uow: UnitOfWork, program: Program, spec: ReferralPolicyIn, now: datetime
) -> ReferralPolicyView:
    """Replace the program's referral policy (catalogue rewards must exist and be
    grantable; the minimum order is in the program's currency) and give every member
    without a referral code one."""
    if spec.min_order is not None and spec.min_order.currency != program.currency:
        raise InvalidInput(
            f"the minimum order must be in {program.currency}", field="min_order.currency"
        )
    policy = ReferralPolicy(
        base_url=spec.base_url,
        friend_reward=_reward(uow, program, spec.friend_reward, "friend_reward"),
        advocate_reward=_reward(uow, program, spec.advocate_reward, "advocate_reward"),
        min_order_amount=spec.min_order.amount if spec.min_order else 0,
        checks=domain.Checks(**spec.checks.model_dump()),
        max_per_month=spec.limits.per_month,
        max_total=spec.limits.total,
    )
    uow.programs.update(program.id, referral_policy=policy.as_json())
    give_codes(uow, program, now)
    return policy_view(uow, program)


def _reward(
    uow: UnitOfWork, program: Program, spec: ReferralRewardIn | None, field: str
) -> domain.Reward | None:
    if spec is None:
        return None
    if spec.reward is not None:
        try:
            require_grantable(uow, program, spec.reward)
        except DomainError as error:
            raise InvalidInput(error.detail, field=f"{field}.reward") from error
        return domain.Reward(reward_code=spec.reward)
    return domain.Reward(points=spec.points or 0)


def policy_view(uow: UnitOfWork, program: Program) -> ReferralPolicyView:
    policy = _require_policy(uow, program)

    def reward(value: domain.Reward | None) -> dict[str, Any] | None:
        if value is None:
            return None
        return {"reward": value.reward_code} if value.reward_code else {"points": value.points}

    min_order = Money(amount=policy.min_order_amount, currency=program.currency)
    checks = policy.as_json()["checks"]
    return ReferralPolicyView.model_validate(
        {
            "base_url": policy.base_url,
            "friend_reward": reward(policy.friend_reward),
            "advocate_reward": reward(policy.advocate_reward),
            "min_order": min_order.model_dump() if policy.min_order_amount else None,
            "checks": checks,
            "limits": {"per_month": policy.max_per_month, "total": policy.max_total},
        }
    )


def _require_policy(uow: UnitOfWork, program: Program) -> ReferralPolicy:
    policy = policy_of(uow, program)
    if policy is None:
        raise NotFound("the program has no referral policy", field="referral_policy")
    return policy


# --- codes -------------------------------------------------------------------------------


def ensure_code(uow: UnitOfWork, program: Program, member_id: int, now: datetime) -> str:
    """The member's referral code, made now if it has none. Two concurrent first uses: one
    insert loses on the unique index and `run_write` runs the request again."""
    repo = ReferralRepository(uow.connection)
    code = repo.code_of(member_id)
    if code is None:
        code = domain.new_referral_code()
        repo.add_code(program.tenant_id, program.id, member_id, code, now)
    return code


def code_on_enrolment(uow: UnitOfWork, program: Program, member_id: int, now: datetime) -> None:
    """A new member of a program with referrals gets its code at once, so that reading
    it never writes. (Members enrolled before the policy get theirs from `give_codes`.)"""
    if policy_of(uow, program) is not None:
        ReferralRepository(uow.connection).add_code(
            program.tenant_id, program.id, member_id, domain.new_referral_code(), now
        )


def give_codes(uow: UnitOfWork, program: Program, now: datetime) -> int:
    """Give a code to every member of the program without one (when the policy is set,
    and in the `referrals` job for members enrolled while it was being set); returns
    how many were given. Batches of 1,000 rows per statement."""
    repo = ReferralRepository(uow.connection)
    given = 0
    while batch := repo.members_without_code(program.id, limit=1_000):
        repo.add_codes(
            program.tenant_id,
            program.id,
            [(member_id, domain.new_referral_code()) for member_id in batch],
            now,
        )
        given += len(batch)
    return given


# --- a friend is referred ------------------------------------------------------------------


def refer_on_enrolment(
    uow: UnitOfWork, program: Program, friend_id: int, spec: ReferralIn, now: datetime
) -> None:
    """The friend `friend_id` (just enrolled) brought `spec.code`: create the referral."""
    context = Context(spec.ip, spec.device_id, spec.shipping_address)
    _refer(uow, program, friend_id, spec.code, context, "enrolment", now, field="referral.code")


def refer_on_order(
    uow: UnitOfWork,
    program: Program,
    friend_id: int,
    order_pk: int,
    code: str,
    context: Context,
    now: datetime,
) -> None:
    """A friend's order carried `code`. A friend already referred keeps its referral (the
    code is ignored); otherwise as at enrolment, and the order may qualify at once."""
    repo = ReferralRepository(uow.connection)
    if repo.of_friend(program.id, friend_id) is not None:
        record_fingerprints(uow, program, friend_id, context, now)
        return
    _refer(
        uow,
        program,
        friend_id,
        code,
        context,
        "order",
        now,
        field="referral_code",
        order_pk=order_pk,
    )


def after_order(
    uow: UnitOfWork, caller: Caller, program: Program, order: OrderPaidIn, now: datetime
) -> None:
    """After a new paid order that carries referral data: refer the customer with its
    code, or keep its IP, device and address for later checks."""
    brand_id = resolve_brand(uow, caller, order.brand)
    row = uow.orders.get(program.tenant_id, brand_id, order.order_id)
    assert row is not None, "the order was just recorded"
    context = Context(order.ip, order.device_id, order.shipping_address)
    if order.referral_code is None:
        record_fingerprints(uow, program, row.member_id, context, now)
        return
    refer_on_order(uow, program, row.member_id, row.id, order.referral_code, context, now)


def record_fingerprints(
    uow: UnitOfWork, program: Program, member_id: int, context: Context, now: datetime
) -> None:
    """Keep the IP, device and address an event of the member carried, for later checks
    (when the member is an advocate)."""
    ReferralRepository(uow.connection).add_fingerprints(
        program.tenant_id, member_id, context.fingerprints(), now
    )


def _refer(
    uow: UnitOfWork,
    program: Program,
    friend_id: int,
    raw_code: str,
    context: Context,
    channel: str,
    now: datetime,
    *,
    field: str,
    order_pk: int | None = None,
) -> None:
    repo = ReferralRepository(uow.connection)
    policy = policy_of(uow, program)
    code = domain.normalise_code(raw_code)
    advocate = repo.advocate_of_code(program.id, code) if code and policy else None
    if policy is None or code is None or advocate is None:
        raise ReferralCodeInvalid(f"no referral code {raw_code!r} in the program", field=field)
    if advocate.status != MemberStatus.ACTIVE.value:
        raise ReferralCodeInvalid(f"referral code {code!r} no longer works", field=field)
    if advocate.id == friend_id:
        raise SelfReferral("a member cannot use its own referral code", field=field)
    friend = uow.members.get_by_id(friend_id)
    assert friend is not None
    findings = domain.run_checks(
        policy.checks, _facts(uow, program, friend, advocate, context, order_pk, now)
    )
    record_fingerprints(uow, program, friend_id, context, now)
    public_id = f"ref_{secrets.token_hex(8)}"
    held = bool(findings)
    status = Status.HELD if held else Status.PENDING
    decision = _decision(status, "fraud-check" if held else "created", now)
    referral_id = repo.add(
        tenant_id=program.tenant_id,
        program_id=program.id,
        public_id=public_id,
        advocate_member_id=advocate.id,
        friend_member_id=friend_id,
        code=code,
        channel=channel,
        status=status.value,
        findings=[finding.as_json() for finding in findings],
        decisions=[decision],
        created_at=now,
        updated_at=now,
    )
    _announce(
        uow, program, "referral.created", public_id, advocate.external_id, friend.external_id, now
    )
    if held:
        _announce(
            uow,
            program,
            "referral.held",
            public_id,
            advocate.external_id,
            friend.external_id,
            now,
            findings=[finding.as_json() for finding in findings],
        )
    else:
        _reward_friend(uow, program, policy, referral_id, public_id, friend, now)
    if order_pk is not None:
        qualify(uow, program, policy, repo.get_by_pk(referral_id), now)


def _facts(
    uow: UnitOfWork,
    program: Program,
    friend: Row[Any],
    advocate: Row[Any],
    context: Context,
    order_pk: int | None,
    now: datetime,
) -> domain.Facts:
    repo = ReferralRepository(uow.connection)
    seen = repo.fingerprints(friend.id)
    for kind, value in context.fingerprints():
        seen[kind] = seen.get(kind, frozenset()) | {value}
    day_start, day_end = period_window(now, Period.DAY, program.zone)
    # Friends of one advocate are referred one at a time (its balance row is the lock of
    # all its writes), so two at once cannot both pass the velocity check.
    uow.members.balance(advocate.id, POINTS, lock=True)
    identity = _identity(friend, seen)
    return domain.Facts(
        friend=identity,
        advocate=_identity(advocate, repo.fingerprints(advocate.id)),
        advocate_referrals_today=repo.count_by_advocate(advocate.id, day_start, day_end),
        already_customer=_already_customer(uow, program, friend, identity, advocate, order_pk),
    )


def _identity(member: Row[Any], seen: dict[str, frozenset[str]]) -> domain.Identity:
    return domain.Identity(
        email=domain.normalise_email(member.email) if member.email else None,
        phone=domain.normalise_phone(member.phone) if member.phone else None,
        addresses=seen.get(Check.ADDRESS.value, frozenset()),
        ips=seen.get(Check.IP.value, frozenset()),
        devices=seen.get(Check.DEVICE.value, frozenset()),
    )


def _already_customer(
    uow: UnitOfWork,
    program: Program,
    friend: Row[Any],
    identity: domain.Identity,
    advocate: Row[Any],
    order_pk: int | None,
) -> str | None:
    """Why the friend is no new customer: orders before this referral, or another member
    (not the advocate: that is the self-referral checks') with the same email or phone."""
    repo = ReferralRepository(uow.connection)
    earlier = repo.order_count(friend.id, excluding=order_pk)
    if earlier:
        return f"the friend had {earlier} order(s) before the referral"
    email, phone = identity.email, identity.phone
    candidates = repo.look_alikes(
        program.id,
        [friend.id, advocate.id],
        email_patterns=domain.email_look_alikes(email) if email else [],
        phone_suffix=phone[-4:] if phone else None,
    )
    for other in candidates:
        if email and other.email and domain.normalise_email(other.email) == email:
            return f"member {other.external_id!r} has the same email"
        if phone and other.phone and domain.normalise_phone(other.phone) == phone:
            return f"member {other.external_id!r} has the same phone"
    return None


# --- rewards and moves -----------------------------------------------------------------------


def _reward_friend(
    uow: UnitOfWork,
    program: Program,
    policy: ReferralPolicy,
    referral_id: int,
    public_id: str,
    friend: Row[Any],
    now: datetime,
) -> None:
    given = give_reward(uow, program, policy.friend_reward, friend.id, public_id, "friend", now)
    repo = ReferralRepository(uow.connection)
    repo.update(referral_id, friend_reward=given, friend_rewarded_at=now if given else None)
    if given:
        _announce(
            uow,
            program,
            "referral.friend_rewarded",
            public_id,
            None,
            friend.external_id,
            now,
            reward=given,
        )


def give_reward(
    uow: UnitOfWork,
    program: Program,
    reward: domain.Reward | None,
    member_id: int,
    public_id: str,
    role: str,
    now: datetime,
) -> dict[str, Any] | None:
    """Give `reward` to the member (points at once, as earned points from the tenant's
    default brand; or a catalogue reward for 0 points). Returns what was given, or why not
    (a reward out of stock does not undo the referral)."""
    if reward is None:
        return None
    if reward.reward_code is not None:
        try:
            _, view = grant_reward(
                uow,
                program,
                member_id,
                reward.reward_code,
                now,
                reason=f"referral {role} reward",
                source={"referral": public_id},
            )
        except DomainError as error:
            return {"reward": reward.reward_code, "error": f"{error.code}: {error.detail}"}
        return {"reward": reward.reward_code, "redemption_id": view.id, "code": view.code}
    brand = uow.tenants.default_brand(program.tenant_id)
    assert brand is not None, "every tenant has a brand"
    ledger = MemberLedger(uow, program, member_id, now)
    credited = ledger.credit(
        Credit(
            member_id=member_id,
            points=reward.points,
            kind=TxKind.EARN,
            source_account=brand_issued(brand.id),
            occurred_at=now,
            expires_at=program.lot_expires_at(now),
            refs=Refs(reason=f"referral {role} reward"),
            details={"referral_id": public_id, "role": role},
        )
    )
    ledger.save()
    return {"points": reward.points, "transaction_id": credited.transaction_id}


def qualify(
    uow: UnitOfWork, program: Program, policy: ReferralPolicy, row: Row[Any], now: datetime
) -> bool:
    """Attach the friend's first qualifying order, if any, to the (locked) referral `row`;
    a pending referral becomes `qualifying` (a held one keeps its status until an admin
    decides)."""
    repo = ReferralRepository(uow.connection)
    if row.qualifying_order_id is not None:
        return False
    order = repo.first_order(row.friend_member_id, policy.min_order_amount)
    if order is None:
        return False
    qualifies_at = program.pending_until(order.occurred_at) or order.occurred_at
    changes: dict[str, Any] = {"qualifying_order_id": order.id, "qualifies_at": qualifies_at}
    if row.status == Status.PENDING.value:
        changes |= _move(row, Status.QUALIFYING, "qualifying-order", now, note=order.external_id)
    repo.update(row.id, **changes)
    if row.status == Status.PENDING.value:
        _announce(
            uow,
            program,
            "referral.qualifying",
            row.public_id,
            row.advocate_customer_id,
            row.friend_customer_id,
            now,
            order_id=order.external_id,
        )
    return True


def _move(
    row: Row[Any], target: Status, reason: str, now: datetime, *, note: str | None = None
) -> dict[str, Any]:
    """The column changes that move a referral to `target`, with the decision recorded;
    409 if the state machine does not allow it."""
    current = Status(row.status)
    if not domain.can_move(current, target):
        raise Conflict(
            f"a {current.value} referral cannot become {target.value}", field="referral_id"
        )
    return {
        "status": target.value,
        "decisions": [*row.decisions, _decision(target, reason, now, note)],
        "updated_at": now,
    }


def move(
    uow: UnitOfWork,
    program: Program,
    row: Row[Any],
    target: Status,
    reason: str,
    now: datetime,
    *,
    note: str | None = None,
    event: str | None = None,
    **extra: Any,
) -> None:
    """Move a (locked) referral to `target` and announce it (`event`, by default
    `referral.<target>`)."""
    ReferralRepository(uow.connection).update(
        row.id, **_move(row, target, reason, now, note=note), **extra
    )
    _announce(
        uow,
        program,
        event or f"referral.{target.value}",
        row.public_id,
        row.advocate_customer_id,
        row.friend_customer_id,
        now,
        reason=reason,
    )


def _decision(
    status: Status, reason: str, now: datetime, note: str | None = None
) -> dict[str, Any]:
    return {"status": status.value, "reason": reason, "note": note, "at": now.isoformat()}


# --- admin review ----------------------------------------------------------------------------


def approve(
    uow: UnitOfWork, program: Program, public_id: str, spec: DecisionIn, now: datetime
) -> ReferralView:
    """Approve a held referral: the friend gets its reward now; the advocate reward
    follows the normal path (the job, after the qualifying order's window)."""
    row = _require(uow, program, public_id, lock=True)
    policy = _require_policy(uow, program)
    if row.status != Status.HELD.value:
        raise Conflict(
            f"only a held referral can be approved, this one is {row.status}", field="referral_id"
        )
    move(
        uow,
        program,
        row,
        Status.PENDING,
        "approved",
        now,
        note=spec.note,
        event="referral.approved",
    )
    if row.friend_rewarded_at is None:
        friend = uow.members.get_by_id(row.friend_member_id)
        assert friend is not None
        _reward_friend(uow, program, policy, row.id, row.public_id, friend, now)
    if row.qualifying_order_id is not None:
        fresh = _require(uow, program, public_id)
        move(
            uow,
            program,
            fresh,
            Status.QUALIFYING,
            "qualifying-order",
            now,
            note=fresh.order_external_id,
        )
    return referral_view(uow, program, public_id)


def reject(
    uow: UnitOfWork, program: Program, public_id: str, spec: DecisionIn, now: datetime
) -> ReferralView:
    """Reject a referral that is held, pending or qualifying: no more rewards come of it."""
    row = _require(uow, program, public_id, lock=True)
    move(uow, program, row, Status.REJECTED, "rejected by admin", now, note=spec.note)
    return referral_view(uow, program, public_id)


# --- reads and member side -----------------------------------------------------------------------


def _require(uow: UnitOfWork, program: Program, public_id: str, *, lock: bool = False) -> Row[Any]:
    row = ReferralRepository(uow.connection).get(program.id, public_id, lock=lock)
    if row is None:
        raise NotFound(f"no referral {public_id!r}", field="referral_id")
    return row


def referral_view(uow: UnitOfWork, program: Program, public_id: str) -> ReferralView:
    return as_view(_require(uow, program, public_id))


def as_view(row: Row[Any]) -> ReferralView:
    return ReferralView(
        id=row.public_id,
        advocate_customer_id=row.advocate_customer_id,
        friend_customer_id=row.friend_customer_id,
        code=row.code,
        channel=row.channel,
        status=row.status,
        findings=row.findings,
        decisions=row.decisions,
        order_id=row.order_external_id,
        qualifies_at=row.qualifies_at,
        friend_reward=GivenRewardView(**row.friend_reward) if row.friend_reward else None,
        advocate_reward=GivenRewardView(**row.advocate_reward) if row.advocate_reward else None,
        friend_rewarded_at=row.friend_rewarded_at,
        advocate_rewarded_at=row.advocate_rewarded_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def page(
    uow: UnitOfWork, program: Program, *, status: str | None, after_id: int | None, limit: int
) -> list[Row[Any]]:
    return ReferralRepository(uow.connection).page(
        program.id, status=status, after_id=after_id, limit=limit
    )


def stats(uow: UnitOfWork, program: Program, member_id: int | None = None) -> ReferralStatsView:
    """Statistics of the program, or of one advocate."""
    repo = ReferralRepository(uow.connection)
    per_status = repo.counts(program.id, member_id)
    counts = {row.status: row.referrals for row in per_status}
    return ReferralStatsView(
        invited=repo.invite_count(program.id, member_id),
        enrolled=sum(counts.values()),
        qualified=sum(row.qualified for row in per_status),
        rewarded=counts.get(Status.REWARDED.value, 0),
        friends_rewarded=sum(row.friends_rewarded for row in per_status),
        **{status.value: counts.get(status.value, 0) for status in _COUNTED},
    )


_COUNTED: Sequence[Status] = (
    Status.PENDING,
    Status.QUALIFYING,
    Status.HELD,
    Status.REJECTED,
    Status.VOID,
)


def member_referral(uow: UnitOfWork, program: Program, member: Row[Any]) -> MemberReferralView:
    """The member's code and link (null while the program has no referral policy),
    statistics and invites. Writes nothing."""
    repo = ReferralRepository(uow.connection)
    code = repo.code_of(member.id)
    policy = policy_of(uow, program)
    referred = repo.of_friend(program.id, member.id)
    return MemberReferralView(
        customer_id=member.external_id,
        code=code,
        link=policy.link(code) if policy and code else None,
        referred_by=referred.public_id if referred else None,
        stats=stats(uow, program, member.id),
        invites=[
            InviteView(email=row.email, created_at=row.created_at)
            for row in repo.invites(member.id)
        ],
    )


def invite(
    uow: UnitOfWork, program: Program, member: Row[Any], spec: InviteIn, now: datetime
) -> MemberReferralView:
    """Record a share (once per email; Patron sends nothing)."""
    if member.status != MemberStatus.ACTIVE.value:
        raise InvalidInput("a blocked member cannot invite", field="customer_id")
    _require_policy(uow, program)
    ensure_code(uow, program, member.id, now)  # a share needs a code to share
    ReferralRepository(uow.connection).add_invite(
        program.tenant_id, member.id, domain.normalise_email(str(spec.email)), now
    )
    return member_referral(uow, program, member)


def _announce(
    uow: UnitOfWork,
    program: Program,
    type_: str,
    public_id: str,
    advocate: str | None,
    friend: str,
    now: datetime,
    **extra: Any,
) -> None:
    payload = {"referral_id": public_id, "friend_customer_id": friend, **extra}
    if advocate is not None:
        payload["advocate_customer_id"] = advocate
    uow.outbox.add(
        tenant_id=program.tenant_id, program_id=program.id, type_=type_, payload=payload, now=now
    )
