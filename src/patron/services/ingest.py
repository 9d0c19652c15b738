"""Recording paid orders, set-based: a batch of a thousand orders costs about the same
number of statements as one order. `POST /v1/orders` is a batch of one through this same
code, so there is one implementation of earning.

Steps, in the order every transaction takes its locks (so concurrent batches cannot
deadlock): checks that need no database; replays and conflicts found by SELECT; unknown
customers enrolled (sorted by customer id); events claimed with one INSERT ... ON CONFLICT
DO NOTHING (sorted by order id); balance rows locked in member id order; then orders,
lines, ledger transactions, lots, entries, balances, outbox rows and event results, each
in one multi-row statement. A member with debt takes the one-by-one ledger path, which
repays debt first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patron.db.uow import UnitOfWork
from patron.domain.errors import Conflict, CurrencyMismatch, DomainError, NotFound
from patron.domain.ledger import TxKind, brand_issued
from patron.domain.member import Balance, MemberStatus
from patron.domain.orders import OrderLine, PaidOrder, eligible_amount, line_eligible_amounts
from patron.domain.program import Program
from patron.domain.rules import Evaluation, EventFacts, LineFacts, OrderFacts, Trigger
from patron.schemas.common import Money
from patron.schemas.members import MemberProfile
from patron.schemas.orders import OrderPaidIn, OrderResult
from patron.services import store_credit, tiers
from patron.services.brands import resolve_brand
from patron.services.context import Caller, require_active_brand
from patron.services.earning import Earning
from patron.services.member_ledger import Credit, Credited, MemberLedger, Refs, credit_many
from patron.services.members import add_member

ORDER_PAID = "order.paid"


@dataclass(slots=True)
class Outcome:
    """What became of one order of a batch: created, replayed (with the first result)
    or rejected (with the error; nothing of it was written)."""

    status: str
    result: OrderResult | None = None
    error: DomainError | None = None


@dataclass(slots=True)
class _Item:
    index: int
    order: OrderPaidIn
    paid: PaidOrder
    brand_id: int
    eligible: int
    points: int = 0
    base_points: int = 0
    tags: tuple[str, ...] = ()
    evaluation: Evaluation | None = None
    member_id: int = 0
    enrolled: bool = False
    active: bool = True
    event_id: int = 0
    order_pk: int = 0
    #: The order as JSON (the event's payload, and what CEL reads), dumped once.
    payload: dict[str, Any] | None = None
    #: Why it earned what it earned, built once its points are final.
    explanation: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        if self.payload is None:
            self.payload = self.order.model_dump(mode="json")
        return self.payload


def record_orders_paid(
    uow: UnitOfWork, caller: Caller, program: Program, orders: Sequence[OrderPaidIn], now: datetime
) -> list[Outcome]:
    """Record paid orders exactly once each and award their points; one outcome per order,
    in input order."""
    outcomes: list[Outcome | None] = [None] * len(orders)
    items, duplicates = _prepare(uow, caller, program, orders, outcomes)
    items = _drop_replays(uow, program, items, outcomes)
    items = _drop_conflicts(uow, program, items, outcomes)
    items = _drop_left_brands(caller, items, outcomes)
    items = _attach_members(uow, program, items, outcomes, now)
    items = _claim_events(uow, program, items, outcomes, now)
    if items:
        _award(uow, caller, program, items, outcomes, now)
    for index, first in duplicates:
        outcomes[index] = _as_duplicate(outcomes[first])
    return [outcome for outcome in outcomes if outcome is not None]


def _prepare(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    orders: Sequence[OrderPaidIn],
    outcomes: list[Outcome | None],
) -> tuple[list[_Item], list[tuple[int, int]]]:
    """Checks that need no database; an order id seen earlier in the batch is a duplicate."""
    items: list[_Item] = []
    first_seen: dict[tuple[int, str, str], int] = {}
    duplicates: list[tuple[int, int]] = []
    for index, order in enumerate(orders):
        try:
            check_currencies(program, order.currency, order.amounts())
            brand_id = resolve_brand(uow, caller, order.brand)
            paid = _paid_order(order)
            eligible = eligible_amount(paid, program.earning)
            base = program.earning.points_for(eligible)
            item = _Item(index, order, paid, brand_id, eligible, base, base)
        except DomainError as error:
            outcomes[index] = Outcome("rejected", error=error)
            continue
        key = (brand_id, order.source, order.order_id)
        if key in first_seen:
            duplicates.append((index, first_seen[key]))
            continue
        first_seen[key] = index
        items.append(item)
    return items, duplicates


def _paid_order(order: OrderPaidIn) -> PaidOrder:
    return PaidOrder(
        lines=tuple(
            OrderLine(
                line_id=line.line_id,
                quantity=line.quantity,
                unit_price=line.unit_price.amount,
                discount=amount_of(line.discount),
                sku=line.sku,
                category=line.category,
            )
            for line in order.lines
        ),
        order_discount=amount_of(order.discount),
        shipping=amount_of(order.shipping),
        tax=amount_of(order.tax),
    )


def amount_of(money: Money | None) -> int:
    return money.amount if money is not None else 0


def check_currencies(
    program: Program, currency: str, amounts: list[tuple[str, Money | None]]
) -> None:
    """The event's currency is the program's, and every amount is in it (else 422 naming
    the amount at fault)."""
    if currency != program.currency:
        raise CurrencyMismatch(
            f"program {program.code!r} runs in {program.currency}, not {currency}",
            field="currency",
        )
    for path, money in amounts:
        if money is not None and money.currency != currency:
            raise CurrencyMismatch(
                f"{path}.currency is {money.currency}, but this event is in {currency}",
                field=f"{path}.currency",
            )


def _groups(items: list[_Item]) -> dict[tuple[int, str], list[_Item]]:
    """Items by (brand, source): the unit the event and order keys are unique within."""
    groups: dict[tuple[int, str], list[_Item]] = defaultdict(list)
    for item in items:
        groups[(item.brand_id, item.order.source)].append(item)
    return groups


def _drop_replays(
    uow: UnitOfWork, program: Program, items: list[_Item], outcomes: list[Outcome | None]
) -> list[_Item]:
    """Orders whose event is recorded already: replay the stored first result."""
    left: list[_Item] = []
    for (brand_id, source), group in _groups(items).items():
        ids = [item.order.order_id for item in group]
        stored = uow.events.results(program.tenant_id, brand_id, source, ORDER_PAID, ids)
        for item in group:
            result = stored.get(item.order.order_id)
            if result is None:
                left.append(item)
            else:
                outcomes[item.index] = Outcome("replayed", OrderResult.model_validate(result))
    return left


def _drop_conflicts(
    uow: UnitOfWork, program: Program, items: list[_Item], outcomes: list[Outcome | None]
) -> list[_Item]:
    """Orders already recorded for the brand from another source: 409.

    Under READ COMMITTED a concurrent delivery of the same event may commit between the
    replay check and this one; its order and event commit together, so an order found
    here whose event is now visible is a replay, not a conflict."""
    left: list[_Item] = []
    for (brand_id, source), group in _groups(items).items():
        ids = [item.order.order_id for item in group]
        taken = uow.orders.existing(program.tenant_id, brand_id, ids)
        stored = {}
        if taken:
            stored = uow.events.results(
                program.tenant_id, brand_id, source, ORDER_PAID, list(taken)
            )
        for item in group:
            order_id = item.order.order_id
            if order_id not in taken:
                left.append(item)
            elif order_id in stored:
                outcomes[item.index] = Outcome(
                    "replayed", OrderResult.model_validate(stored[order_id])
                )
            else:
                error = Conflict(
                    f"order {order_id!r} was recorded from another source", field="order_id"
                )
                outcomes[item.index] = Outcome("rejected", error=error)
    return left


def _drop_left_brands(
    caller: Caller, items: list[_Item], outcomes: list[Outcome | None]
) -> list[_Item]:
    """New orders of a brand that left the coalition: 422 (replays answered before)."""
    kept: list[_Item] = []
    for item in items:
        try:
            require_active_brand(caller, item.brand_id)
        except DomainError as error:
            outcomes[item.index] = Outcome("rejected", error=error)
            continue
        kept.append(item)
    return kept


def _attach_members(
    uow: UnitOfWork,
    program: Program,
    items: list[_Item],
    outcomes: list[Outcome | None],
    now: datetime,
) -> list[_Item]:
    """Find each order's member; enrol unknown customers if the program auto-enrols."""
    customers = sorted({item.order.customer_id for item in items})
    members = uow.members.get_many(program.id, customers) if customers else {}
    new_ids: dict[str, int] = {}
    left: list[_Item] = []
    for item in sorted(items, key=lambda item: item.order.customer_id):
        customer = item.order.customer_id
        member = members.get(customer)
        if member is not None:
            item.member_id, item.active = member.id, member.status == MemberStatus.ACTIVE.value
            item.tags = tuple(member.tags)
        elif customer in new_ids:
            item.member_id = new_ids[customer]
            item.tags = tuple(item.order.customer.tags) if item.order.customer else ()
        elif program.auto_enroll:
            item.member_id, item.enrolled = _find_or_enroll(uow, program, item.order, now)
            item.tags = tuple(item.order.customer.tags) if item.order.customer else ()
            new_ids[customer] = item.member_id
        else:
            error = NotFound(
                f"no member {customer!r} and the program does not enrol automatically",
                field="customer_id",
            )
            outcomes[item.index] = Outcome("rejected", error=error)
            continue
        left.append(item)
    return sorted(left, key=lambda item: item.index)


def _find_or_enroll(
    uow: UnitOfWork, program: Program, order: OrderPaidIn, now: datetime
) -> tuple[int, bool]:
    """(member id, enrolled now). Looks again first: under READ COMMITTED a concurrent
    first order of the same customer may have enrolled it since the batch looked. If one
    enrols it between this look and the insert, the unique index refuses the insert and
    `run_write` retries the whole write, which then finds the member."""
    member = uow.members.get(program.id, order.customer_id)
    if member is not None:
        return int(member.id), False
    profile = order.customer or MemberProfile()
    return add_member(uow, program, profile, order.customer_id, now), True


def _claim_events(
    uow: UnitOfWork,
    program: Program,
    items: list[_Item],
    outcomes: list[Outcome | None],
    now: datetime,
) -> list[_Item]:
    """Record the events; one that a concurrent transaction recorded first is a replay."""
    left: list[_Item] = []
    for (brand_id, source), group in _groups(items).items():
        group.sort(key=lambda item: item.order.order_id)
        rows = [_event_row(program, item, now) for item in group]
        claimed = uow.events.claim_many(rows)
        lost = [item.order.order_id for item in group if item.order.order_id not in claimed]
        stored = (
            uow.events.results(program.tenant_id, brand_id, source, ORDER_PAID, lost)
            if lost
            else {}
        )
        for item in group:
            if item.order.order_id in claimed:
                item.event_id = claimed[item.order.order_id]
                left.append(item)
            else:
                result = OrderResult.model_validate(stored[item.order.order_id])
                outcomes[item.index] = Outcome("replayed", result)
    return left


def _event_row(program: Program, item: _Item, now: datetime) -> dict[str, Any]:
    return {
        "tenant_id": program.tenant_id,
        "program_id": program.id,
        "source": item.order.source,
        "type": ORDER_PAID,
        "source_id": item.order.order_id,
        "brand_id": item.brand_id,
        "payload": item.as_json(),
        "occurred_at": item.order.occurred_at,
        "received_at": now,
    }


def _award(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    items: list[_Item],
    outcomes: list[Outcome | None],
    now: datetime,
) -> None:
    """Write the orders and their points; fill in the outcomes."""
    for item in items:
        if not item.active:  # a blocked member earns nothing; the order is still recorded
            item.points = 0
    order_pks = uow.orders.insert_many(
        [_order_row(program, item) for item in items], [item.paid.lines for item in items]
    )
    for item, pk in zip(items, order_pks, strict=True):
        item.order_pk = pk
    active = [item for item in items if item.active]
    balances = _locked_balances(uow, program, active, now)
    rules = Earning(uow, program)
    if rules.needed:
        _apply_rules(uow, program, rules, active, now)
    for item in items:
        item.explanation = _explain(program, item)
    earning = [item for item in active if item.points > 0]
    credits = {item.index: _credits(program, caller, rules, item) for item in earning}
    one_by_one = [item for item in earning if balances[item.member_id].debt > 0]
    together = [item for item in earning if balances[item.member_id].debt == 0]
    written = iter(
        credit_many(
            uow,
            program,
            [credit for item in together for credit in credits[item.index]],
            balances,
            now,
        )
    )
    # An order's first credit is its main one: the result names its transaction.
    credited: dict[int, Credited] = {}
    for item in together:
        written_for_item = [next(written) for _ in credits[item.index]]
        credited[item.index] = written_for_item[0]
    uow.members.set_balances({item.member_id: balances[item.member_id] for item in together})
    for item in one_by_one:
        ledger = MemberLedger(uow, program, item.member_id, now)
        written_for_item = [ledger.credit(credit) for credit in credits[item.index]]
        credited[item.index] = written_for_item[0]
        ledger.save()
    results: list[tuple[int, int | None, dict[str, Any]]] = []
    outbox: list[dict[str, Any]] = []
    for item in items:
        main = credited.get(item.index)
        result = _result(program, item, main)
        outcomes[item.index] = Outcome("created", result)
        results.append((item.event_id, item.member_id, result.model_dump(mode="json")))
        if main is not None:
            outbox.append(_earned_event(program, item, result, now))
    uow.events.set_results(results)
    uow.outbox.add_many(outbox)
    for item in active:
        if item.evaluation is not None and item.evaluation.awards:
            rules.record(item.member_id, item.event_id, item.order.occurred_at, item.evaluation)
    _issue_store_credit(uow, caller, program, rules, active, now)
    tiers.on_activity(uow, program, [item.member_id for item in active], now)


def _issue_store_credit(
    uow: UnitOfWork,
    caller: Caller,
    program: Program,
    rules: Earning,
    items: list[_Item],
    now: datetime,
) -> None:
    """Credit the store credit of percent-back rules (members in id order: the same lock
    order as their points balances, locked before)."""
    earning = [item for item in items if item.evaluation and item.evaluation.store_credit > 0]
    credit: dict[int, int] = {}
    for item in sorted(earning, key=lambda item: (item.member_id, item.index)):
        assert item.evaluation is not None
        credit[item.order_pk] = store_credit.issue_for_order(
            uow,
            program,
            item.evaluation,
            rules.credit_schedule,
            member_id=item.member_id,
            brand_id=item.brand_id,
            refs=Refs(event_id=item.event_id, order_id=item.order_pk, api_key_id=caller.api_key_id),
            order_id=item.order.order_id,
            occurred_at=item.order.occurred_at,
            now=now,
        )
    # The order rows were written before the rules ran: record what the rules made of them.
    uow.orders.set_awarded(
        {
            item.order_pk: (item.points, credit.get(item.order_pk, 0))
            for item in items
            if item.evaluation is not None
        }
    )


def _apply_rules(
    uow: UnitOfWork, program: Program, rules: Earning, items: list[_Item], now: datetime
) -> None:
    """Evaluate the earning rules and tier multiplier for each order (balances are locked:
    limits hold)."""
    member_ids = sorted({item.member_id for item in items})
    traits = rules.traits(member_ids, now)
    first_orders = uow.orders.first_order_ids(member_ids)
    brands: dict[int, str] = {}
    for item in items:
        if item.brand_id not in brands:
            brands[item.brand_id] = uow.tenants.brand_code(item.brand_id)
        event = EventFacts(
            trigger=Trigger.ORDER_PAID,
            event_type=None,
            occurred_at=item.order.occurred_at,
            brand=brands[item.brand_id],
            channel=item.order.channel,
            payload=item.as_json(),
            order=_order_facts(item, first_orders.get(item.member_id) == item.order_pk),
        )
        member = traits.of(item.member_id, item.tags, item.order.occurred_at)
        evaluation = rules.evaluate(item.member_id, event, member.facts())
        item.evaluation = evaluation
        item.points = evaluation.points


def _order_facts(item: _Item, first_order: bool) -> OrderFacts:
    eligibles = line_eligible_amounts(item.paid)
    lines = tuple(
        LineFacts(
            line_id=line.line_id,
            sku=line.sku,
            category=line.category,
            tags=tuple(line.tags),
            eligible=eligible,
        )
        for line, eligible in zip(item.order.lines, eligibles, strict=True)
    )
    return OrderFacts(
        lines=lines,
        eligible=item.eligible,
        base_points=item.base_points,
        first_order=first_order,
        total=item.order.total.amount,
    )


def _locked_balances(
    uow: UnitOfWork, program: Program, items: list[_Item], now: datetime
) -> dict[int, Balance]:
    """Lock the earning members' balances; release matured pending lots first where the
    member has any (through the one-by-one ledger, which saves the balance)."""
    balances = uow.members.lock_balances(sorted({item.member_id for item in items}))
    for member_id, balance in balances.items():
        if balance.pending > 0:
            balances[member_id] = MemberLedger(uow, program, member_id, now).balance
    return balances


def _credits(program: Program, caller: Caller, rules: Earning, item: _Item) -> list[Credit]:
    """The order's points as credits, one per expiry date: the program's, and that of each
    rule with an expiry of its own. The first carries the explanation."""
    occurred = item.order.occurred_at
    default = program.lot_expires_at(occurred)
    portions = (
        rules.lot_portions(item.evaluation, occurred, default)
        if item.evaluation is not None
        else [(default, item.points, None)]
    )
    refs = Refs(event_id=item.event_id, order_id=item.order_pk, api_key_id=caller.api_key_id)
    details = {"order_id": item.order.order_id, "explanation": item.explanation}
    return [
        Credit(
            member_id=item.member_id,
            points=points,
            kind=TxKind.EARN,
            source_account=brand_issued(item.brand_id),
            occurred_at=occurred,
            pending_until=program.pending_until(occurred),
            expires_at=expires_at,
            refs=refs,
            details=details if index == 0 else {"order_id": item.order.order_id, "rule": rule},
        )
        for index, (expires_at, points, rule) in enumerate(portions)
    ]


def _order_row(program: Program, item: _Item) -> dict[str, Any]:
    return {
        "tenant_id": program.tenant_id,
        "program_id": program.id,
        "brand_id": item.brand_id,
        "member_id": item.member_id,
        "external_id": item.order.order_id,
        "event_id": item.event_id,
        "currency": item.order.currency,
        "order_discount": item.paid.order_discount,
        "shipping": item.paid.shipping,
        "tax": item.paid.tax,
        "total": item.order.total.amount,
        "eligible_amount": item.eligible,
        "points_awarded": item.points,
        "points_reversed": 0,
        "merchandise_refunded": 0,
        "shipping_refunded": 0,
        "tax_refunded": 0,
        "discount_codes": item.order.discount_codes,
        "occurred_at": item.order.occurred_at,
    }


def _explain(program: Program, item: _Item) -> dict[str, Any]:
    """Why the order earned what it earned, in terms a member or merchant can check:
    the base earning, then each earning rule that applied or why it did not."""
    if not item.active:
        return {
            "eligible_amount": item.eligible,
            "points": 0,
            "reason": "member blocked",
            "rules": [],
        }
    base = {
        "rule": "base",
        "rate": {"points": program.earn_points, "per_amount": program.earn_per_amount},
        "rounding": program.rounding.value,
        "includes": {"shipping": program.include_shipping, "tax": program.include_tax},
        "points": item.base_points,
    }
    explained: dict[str, Any] = {"eligible_amount": item.eligible, "points": item.points}
    if item.evaluation is None:
        explained["rules"] = [base]
        return explained
    rules = list(item.evaluation.explanation)
    if rules and rules[0].get("rule") == "base":
        rules[0] = {**base, **rules[0]}
    explained["rules"] = rules
    if item.evaluation.store_credit:
        explained["store_credit"] = item.evaluation.store_credit
    return explained


def _result(program: Program, item: _Item, credited: Any) -> OrderResult:
    status = "none" if credited is None else ("pending" if credited.pending else "available")
    pending_until = program.pending_until(item.order.occurred_at)
    return OrderResult(
        event_id=item.event_id,
        order_id=item.order.order_id,
        customer_id=item.order.customer_id,
        member_enrolled=item.enrolled,
        eligible_amount=item.eligible,
        currency=item.order.currency,
        points=item.points,
        points_status=status,
        pending_until=pending_until.isoformat() if status == "pending" and pending_until else None,
        transaction_id=credited.transaction_id if credited is not None else None,
        explanation=item.explanation or {},
        store_credit=item.evaluation.store_credit if item.evaluation else 0,
    )


def _earned_event(
    program: Program, item: _Item, result: OrderResult, now: datetime
) -> dict[str, Any]:
    return {
        "tenant_id": program.tenant_id,
        "program_id": program.id,
        "type": "points.earned",
        "payload": {
            "customer_id": item.order.customer_id,
            "order_id": item.order.order_id,
            "points": result.points,
            "status": result.points_status,
            "transaction_id": result.transaction_id,
        },
        "created_at": now,
    }


def _as_duplicate(first: Outcome | None) -> Outcome:
    """A repeat of an order earlier in the same batch: the first one's outcome, replayed."""
    assert first is not None
    if first.status == "rejected":
        return first
    return Outcome("replayed", first.result)
