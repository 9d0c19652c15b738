"""The ledger under random sequences of API calls, on SQLite and PostgreSQL.

A Hypothesis state machine drives the HTTP API (paid orders for several members, refunds
by line and by amount, redemptions and their cancellation, manual adjustments, replays,
and the clock moving past the pending window) and keeps a small model of what each
member's balance must be. After every step the API's balances must agree with the model
and `patron verify` must find the ledger consistent.

The model tracks available points as one number and pending points per lot: spending,
debt settlement and restoring only ever touch available lots, so only pending lots need
their own remaining amount (a refund takes the award's own pending lot first).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import Engine, text

from patron.api.app import create_app
from patron.db.tables import metadata
from patron.domain.program import RefundPolicy
from patron.domain.rounding import Rounding
from patron.schemas.programs import EarnRate
from patron.services.verify import verify
from tests.conftest import START, Clock, Tenant, _empty, make_tenant
from tests.helpers import money, order, refund

MEMBERS = ("c1", "c2", "c3")
REWARD_COSTS = (5, 40)

SETTINGS = settings(
    max_examples=25,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)


TABLES = [table.name for table in metadata.sorted_tables]
#: Rows per table in one round trip (conftest.count_rows asks once per table).
COUNT_ROWS = text(
    "SELECT " + ", ".join(f"(SELECT COUNT(*) FROM {name}) AS {name}" for name in TABLES)
)


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return dict(connection.execute(COUNT_ROWS).one()._mapping)


def note(value: str) -> None:
    """Count `value` in Hypothesis' statistics (when running under Hypothesis)."""
    if currently_in_test_context():
        event(value)


def earned(eligible: int, points: int, per_amount: int, rounding: Rounding) -> int:
    """Points for an eligible amount, computed independently of the domain code."""
    exact = Fraction(eligible * points, per_amount)
    if rounding is Rounding.FLOOR:
        return math.floor(exact)
    if rounding is Rounding.CEIL:
        return math.ceil(exact)
    return math.floor(exact + Fraction(1, 2))


@dataclass
class PendingLot:
    order_id: str
    remaining: int
    until: datetime


@dataclass
class MemberModel:
    available: int = 0
    debt: int = 0
    lifetime_earned: int = 0
    pending: list[PendingLot] = field(default_factory=list)  # in lot (creation) order

    def balance(self) -> dict[str, int]:
        return {
            "available": self.available,
            "pending": sum(lot.remaining for lot in self.pending),
            "debt": self.debt,
            "lifetime_earned": self.lifetime_earned,
        }

    def make_available(self, points: int) -> None:
        """New available points first pay off debt."""
        settled = min(self.debt, points)
        if settled:
            note("debt: paid off by new available points")
        self.available += points - settled
        self.debt -= settled


@dataclass
class OrderModel:
    order_id: str
    member: str
    lines: list[tuple[int, int]]  # (quantity, unit price)
    refunded: list[int]
    awarded: int
    body: dict[str, Any]
    result: dict[str, Any]
    merchandise_refunded: int = 0
    reversed: int = 0

    @property
    def total(self) -> int:
        return sum(quantity * price for quantity, price in self.lines)


@dataclass
class RedemptionModel:
    id: str
    member: str
    points: int
    cancelled: bool = False


line_specs = st.lists(st.tuples(st.integers(1, 3), st.integers(0, 5_000)), min_size=1, max_size=3)


class LedgerMachine(RuleBasedStateMachine):
    """Set by the test: the database, the app's client and its clock."""

    engine: ClassVar[Engine]
    client: ClassVar[TestClient]
    clock: ClassVar[Clock]

    def __init__(self) -> None:
        super().__init__()
        _empty(self.engine)
        # The app outlives the example, and ids restart at 1 in the emptied database: a
        # cached program of the previous example would pass for this one's.
        self.client.app.state.program_cache.clear()
        self.client.app.state.key_cache.clear()
        self.clock.now = START
        self.ready = False
        self.tenant: Tenant
        self.members = {member: MemberModel() for member in MEMBERS}
        self.orders: dict[str, OrderModel] = {}
        self.refunds: list[tuple[dict[str, Any], dict[str, Any]]] = []
        self.redemptions: list[RedemptionModel] = []
        self.rewards: dict[int, str] = {}
        self.counter = 0
        self.touched: set[str] = set()  # members a step wrote to

    # -- helpers -----------------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(path, json=body, headers=self.tenant.headers)

    def expect_refused(
        self, path: str, body: dict[str, Any] | None, status: int, code: str
    ) -> None:
        """The request fails with `code` and writes nothing."""
        before = count_rows(self.engine)
        response = self.post(path, body)
        assert response.status_code == status, response.text
        assert response.json()["code"] == code, response.text
        assert count_rows(self.engine) == before

    # -- setup -------------------------------------------------------------------------

    @initialize(
        rate=st.sampled_from([(1, 100), (3, 200), (2, 100)]),
        rounding=st.sampled_from(Rounding),
        refund_policy=st.sampled_from(RefundPolicy),
        pending_days=st.sampled_from([3, 0]),
        opening=st.lists(st.tuples(st.sampled_from(MEMBERS), line_specs), min_size=2, max_size=5),
    )
    def setup(
        self,
        rate: tuple[int, int],
        rounding: Rounding,
        refund_policy: RefundPolicy,
        pending_days: int,
        opening: list[tuple[str, list[tuple[int, int]]]],
    ) -> None:
        """A program, three members, two rewards, and a few orders placed before now (their
        points already available) so that every example has points to spend and refund."""
        self.rate, self.rounding, self.refund_policy = rate, rounding, refund_policy
        self.pending_days = pending_days
        self.tenant = make_tenant(
            self.engine,
            "acme",
            earn_rate=EarnRate(points=rate[0], per_amount=rate[1]),
            rounding=rounding,
            pending_days=self.pending_days,
            refund_policy=refund_policy,
        )
        for member in MEMBERS:
            response = self.post("/v1/members", {"external_id": member})
            assert response.status_code == 201, response.text
        for cost in REWARD_COSTS:
            body = {
                "name": f"{cost} points off",
                "points_cost": cost,
                "value": money(cost),
                "validity_days": None,
            }
            response = self.post("/v1/rewards", body)
            assert response.status_code == 201, response.text
            self.rewards[cost] = response.json()["id"]
        for member, lines in opening:
            self.record_order(member, lines, backdate_hours=24 * pending_days)
        self.ready = True

    # -- orders and refunds ------------------------------------------------------------

    @rule(
        member=st.sampled_from(MEMBERS),
        lines=line_specs,
        backdate_hours=st.sampled_from([0, 0, 0, 12, 72]),
    )
    def pay_order(self, member: str, lines: list[tuple[int, int]], backdate_hours: int) -> None:
        self.record_order(member, lines, backdate_hours)

    def record_order(
        self, member: str, lines: list[tuple[int, int]], backdate_hours: int = 0
    ) -> OrderModel:
        # given a paid order, possibly placed a while ago
        order_id = self.next_id("o")
        occurred_at = self.clock.now - timedelta(hours=backdate_hours)
        body = order(order_id, member, lines=lines, occurred_at=occurred_at)
        eligible = sum(quantity * price for quantity, price in lines)
        points = earned(eligible, *self.rate, self.rounding)
        until = occurred_at + timedelta(days=self.pending_days)
        pending = self.pending_days > 0 and until > self.clock.now
        # when it is recorded
        response = self.post("/v1/orders", body)
        self.touched.add(member)
        # then it earns the expected points, pending or available
        assert response.status_code == 201, response.text
        result = response.json()
        assert result["eligible_amount"] == eligible
        assert result["points"] == points
        status = "none" if points == 0 else "pending" if pending else "available"
        assert result["points_status"] == status
        model = self.members[member]
        if points:
            model.lifetime_earned += points
            if pending:
                model.pending.append(PendingLot(order_id, points, until))
            else:
                model.make_available(points)
        self.orders[order_id] = OrderModel(
            order_id, member, lines, [0] * len(lines), points, body, result
        )
        return self.orders[order_id]

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), kind=st.sampled_from(["lines", "amount", "both", "excess"]))
    def refund_part(self, data: st.DataObject, kind: str) -> None:
        self.refund_order(data, kind)

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def refund_the_rest(self, data: st.DataObject) -> None:
        self.refund_order(data, "full")

    def refund_order(self, data: st.DataObject, kind: str) -> None:
        # given an order and a refund of part of it, all of what is left, or too much
        open_orders = [o for o in self.orders.values() if o.merchandise_refunded < o.total]
        if kind == "excess" or not open_orders:
            open_orders = list(self.orders.values())
        target = data.draw(st.sampled_from(open_orders), label="order")
        left_units = [q - r for (q, _), r in zip(target.lines, target.refunded, strict=True)]
        left_value = target.total - target.merchandise_refunded
        refund_lines, amount = self.draw_refund(data, target, kind, left_units, left_value)
        self.send_refund(target, refund_lines, amount)

    def send_refund(
        self, target: OrderModel, refund_lines: list[tuple[str, int]], amount: int = 0
    ) -> dict[str, Any] | None:
        """Refund lines and/or an amount of `target`; the API's result, None if refused."""
        left_units = [q - r for (q, _), r in zip(target.lines, target.refunded, strict=True)]
        left_value = target.total - target.merchandise_refunded
        body = refund(
            self.next_id("r"),
            target.order_id,
            lines=refund_lines,
            amount=amount or None,
            occurred_at=self.clock.now,
        )
        indexes = {f"L{i}": i for i in range(len(target.lines))}
        value = sum(q * target.lines[indexes[line]][1] for line, q in refund_lines) + amount
        too_many = any(q > left_units[indexes[line]] for line, q in refund_lines)
        # when it is recorded
        if too_many or value > left_value:
            # then a refund of more than is left is refused and writes nothing
            self.expect_refused("/v1/refunds", body, 422, "refund-exceeds-order")
            note("refund: refused, exceeds order")
            return None
        response = self.post("/v1/refunds", body)
        self.touched.add(target.member)
        # then it reverses the refunded share of the award, covered as the policy says
        assert response.status_code == 201, response.text
        before = target.merchandise_refunded
        target.merchandise_refunded += value
        for line, q in refund_lines:
            target.refunded[indexes[line]] += q
        share = target.awarded * target.merchandise_refunded // target.total if target.total else 0
        to_reverse = max(0, share - target.reversed)
        target.reversed += to_reverse
        taken, debt, forgiven = self.reverse(target, to_reverse)
        note(f"refund: reversed={to_reverse > 0} debt={debt > 0} forgiven={forgiven > 0}")
        result = response.json()
        assert result["eligible_refunded"] == target.merchandise_refunded - before
        assert (result["points_reversed"], result["debt_created"], result["points_forgiven"]) == (
            taken + debt,
            debt,
            forgiven,
        )
        if target.merchandise_refunded == target.total:
            assert target.reversed == target.awarded
        view = self.client.get(f"/v1/orders/{target.order_id}", headers=self.tenant.headers)
        assert view.status_code == 200, view.text
        assert view.json()["points_reversed"] == target.reversed
        assert view.json()["merchandise_refunded"] == target.merchandise_refunded
        assert [line["refunded_quantity"] for line in view.json()["lines"]] == target.refunded
        self.refunds.append((body, result))
        return dict(result)

    @staticmethod
    def draw_refund(
        data: st.DataObject, target: OrderModel, kind: str, left_units: list[int], left_value: int
    ) -> tuple[list[tuple[str, int]], int]:
        """(line quantities, amount) of a refund of `kind`: `lines`, `amount` or `both`
        within what is left, `full` for all that is left, `excess` for more than is left."""
        prices = [price for _, price in target.lines]
        open_lines = [i for i, left in enumerate(left_units) if left > 0]
        if kind == "excess":
            if open_lines and data.draw(st.booleans(), label="by line"):
                i = data.draw(st.sampled_from(open_lines), label="line")
                return [(f"L{i}", left_units[i] + 1)], 0
            return [], left_value + 1
        if kind == "full":
            units_value = sum(left_units[i] * prices[i] for i in open_lines)
            if units_value > left_value:  # amount refunds took part of the lines' value
                return [], max(left_value, 1)
            every_unit = [(f"L{i}", left_units[i]) for i in open_lines]
            amount = left_value - units_value
            return every_unit, amount if every_unit or amount else 1  # nothing left: refused
        lines: list[tuple[str, int]] = []
        budget = left_value
        if kind in ("lines", "both") and open_lines:
            chosen = data.draw(st.sets(st.sampled_from(open_lines), min_size=1), label="lines")
            for i in sorted(chosen):
                most = left_units[i] if prices[i] == 0 else min(left_units[i], budget // prices[i])
                if most > 0:
                    quantity = data.draw(st.integers(1, most), label=f"L{i}")
                    lines.append((f"L{i}", quantity))
                    budget -= quantity * prices[i]
        if kind == "amount" or not lines or (kind == "both" and budget > 0):
            return lines, data.draw(st.integers(1, max(1, budget)), label="amount")
        return lines, 0

    def reverse(self, target: OrderModel, points: int) -> tuple[int, int, int]:
        """Take `points` back from the member: the award's own pending lot, then available
        points, then other pending lots; returns (taken, debt created, forgiven)."""
        model = self.members[target.member]
        left = points
        own = [lot for lot in model.pending if lot.order_id == target.order_id]
        others = [lot for lot in model.pending if lot.order_id != target.order_id]
        for lot in own:
            take = min(lot.remaining, left)
            lot.remaining -= take
            left -= take
        take = min(model.available, left)
        model.available -= take
        left -= take
        for lot in others:
            take = min(lot.remaining, left)
            lot.remaining -= take
            left -= take
        if self.refund_policy is RefundPolicy.CLAWBACK:
            model.debt += left
            return points - left, left, 0
        return points - left, 0, left

    @precondition(lambda self: self.orders)
    @rule(data=st.data())
    def replay_event(self, data: st.DataObject) -> None:
        # given an order or a refund already recorded; when the store sends it again
        events = [("/v1/orders", o.body, o.result) for o in self.orders.values()]
        events += [("/v1/refunds", body, result) for body, result in self.refunds]
        path, body, result = data.draw(st.sampled_from(events), label="event")
        before = count_rows(self.engine)
        response = self.post(path, body)
        # then the first result comes back and nothing is written
        assert response.status_code == 200, response.text
        assert response.headers["Idempotent-Replayed"] == "true"
        assert response.json() == result
        assert count_rows(self.engine) == before

    # -- redemptions -------------------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(member=st.sampled_from(MEMBERS), cost=st.sampled_from(REWARD_COSTS))
    def redeem(self, member: str, cost: int) -> None:
        self.try_redeem(member, cost)

    def try_redeem(self, member: str, cost: int) -> RedemptionModel | None:
        model = self.members[member]
        path = f"/v1/members/{member}/redemptions"
        body = {"reward_id": self.rewards[cost]}
        if model.available < cost:
            # a member without enough available points is refused, nothing written
            self.expect_refused(path, body, 422, "insufficient-points")
            note("redeem: refused")
            return None
        response = self.post(path, body)
        self.touched.add(member)
        assert response.status_code == 201, response.text
        note("redeem: issued")
        assert response.json()["points"] == cost
        assert response.json()["status"] == "issued"
        model.available -= cost
        self.redemptions.append(RedemptionModel(response.json()["id"], member, cost))
        return self.redemptions[-1]

    @precondition(lambda self: self.redemptions)
    @rule(data=st.data())
    def cancel_redemption(self, data: st.DataObject) -> None:
        # given a code; when it is cancelled
        self.cancel(data.draw(st.sampled_from(self.redemptions), label="redemption"))

    def cancel(self, target: RedemptionModel) -> None:
        path = f"/v1/redemptions/{target.id}/cancel"
        if target.cancelled:
            # then a code cancelled already is refused, nothing written
            self.expect_refused(path, None, 422, "coupon-not-usable")
            return
        response = self.post(path)
        self.touched.add(target.member)
        # then its points return to the member (and pay off any debt first)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        target.cancelled = True
        model = self.members[target.member]
        note(f"cancel: pays off debt={model.debt > 0}")
        model.make_available(target.points)

    # -- adjustments and time ----------------------------------------------------------

    @precondition(lambda self: self.ready)
    @rule(
        member=st.sampled_from(MEMBERS),
        points=st.one_of(st.integers(-120, 120), st.sampled_from([0, 1, -1])),
    )
    def adjust(self, member: str, points: int) -> None:
        model = self.members[member]
        path = f"/v1/members/{member}/adjustments"
        body = {"points": points, "reason": "goodwill gesture"}
        if points == 0:
            self.expect_refused(path, body, 422, "invalid-input")
            return
        if -points > model.available:
            # adjustments never create debt: removing more than is available is refused
            self.expect_refused(path, body, 422, "insufficient-points")
            return
        response = self.post(path, body)
        self.touched.add(member)
        assert response.status_code == 201, response.text
        assert response.json()["kind"] == "adjust"
        if points > 0:
            model.make_available(points)
        else:
            model.available += points

    @precondition(lambda self: self.ready)
    @rule(member=st.sampled_from(MEMBERS))
    def adjust_everything_away(self, member: str) -> None:
        # a member who spent everything is the one a later refund can put into debt
        self.adjust(member, -self.members[member].available)

    @precondition(lambda self: any(model.debt for model in self.members.values()))
    @rule(data=st.data())
    def credit_a_member_in_debt(self, data: st.DataObject) -> None:
        # new available points pay off debt before they can be spent
        in_debt = sorted(member for member, model in self.members.items() if model.debt)
        member = data.draw(st.sampled_from(in_debt), label="member")
        debt = self.members[member].debt
        self.adjust(member, data.draw(st.integers(1, debt + 20), label="points"))

    @precondition(lambda self: self.ready)
    @rule(hours=st.sampled_from([1, 12, 24, 47, 48, 71, 72, 73, 24 * 10]))
    def advance_clock(self, hours: int) -> None:
        # when time passes, pending lots whose window has ended become available
        now = self.clock.advance(hours=hours)
        for member, model in self.members.items():
            matured = [lot for lot in model.pending if lot.until <= now]
            if matured:
                self.touched.add(member)
                note(f"clock: lots released, pays off debt={model.debt > 0}")
            model.pending = [lot for lot in model.pending if lot.until > now]
            model.make_available(sum(lot.remaining for lot in matured))

    # -- invariants --------------------------------------------------------------------

    def check(self) -> None:
        self.balances_agree_with_the_model()
        self.ledger_verifies()

    @invariant()
    def balances_agree_with_the_model(self) -> None:
        if not self.ready:
            return
        response = self.client.get("/v1/members?limit=50", headers=self.tenant.headers)
        assert response.status_code == 200, response.text
        balances = {view["external_id"]: view["balance"] for view in response.json()["data"]}
        expected = {member: model.balance() for member, model in self.members.items()}
        assert balances == expected
        # and each member the step wrote to reads the same on its own page
        for member in sorted(self.touched):
            view = self.client.get(f"/v1/members/{member}", headers=self.tenant.headers)
            assert view.status_code == 200, view.text
            assert view.json()["balance"] == expected[member]
        self.touched.clear()

    @invariant()
    def ledger_verifies(self) -> None:
        with self.engine.connect() as connection:
            report = verify(connection)
        assert report.ok, report.problems


@pytest.fixture
def machine(engine: Engine) -> Iterator[type[LedgerMachine]]:
    """The state machine class bound to this test's database, app and clock."""
    clock = Clock()

    class Machine(LedgerMachine):
        pass

    Machine.engine = engine
    Machine.clock = clock
    with TestClient(create_app(engine=engine, clock=clock)) as client:
        Machine.client = client
        yield Machine


def test_ledger_agrees_with_a_model_under_random_operations(
    machine: type[LedgerMachine],
) -> None:
    run_state_machine_as_test(machine, settings=SETTINGS)


# Fixed sequences through paths that random runs reach only now and then. Each step is
# checked against the model and `verify`; the exact balances spell out the expectation.

ZERO = {"available": 0, "pending": 0, "debt": 0, "lifetime_earned": 0}


def start(machine: type[LedgerMachine], refund_policy: RefundPolicy, pending_days: int) -> Any:
    run = machine()
    run.setup((1, 100), Rounding.FLOOR, refund_policy, pending_days, opening=[])
    return run


def test_points_released_after_the_pending_window_pay_off_debt_first(
    machine: type[LedgerMachine],
) -> None:
    # given a member who spent the 100 points of an order that was then refunded (clawback)
    run = start(machine, RefundPolicy.CLAWBACK, pending_days=3)
    first = run.record_order("c1", [(1, 10_000)], backdate_hours=72)
    run.adjust("c1", -100)
    result = run.send_refund(first, [("L0", 1)])
    assert result is not None and result["debt_created"] == 100
    run.check()
    # and a new order whose 60 points are pending
    run.record_order("c1", [(1, 6_000)])
    assert run.members["c1"].balance() == {
        **ZERO,
        "pending": 60,
        "debt": 100,
        "lifetime_earned": 160,
    }
    run.check()
    # when the pending window passes
    run.advance_clock(72)
    # then the released points pay off debt first
    assert run.members["c1"].balance() == {**ZERO, "debt": 40, "lifetime_earned": 160}
    run.check()
    # and the next points pay off the rest
    run.adjust("c1", 50)
    assert run.members["c1"].balance() == {**ZERO, "available": 10, "lifetime_earned": 160}
    run.check()


def test_cancelling_a_redemption_pays_off_debt_first(machine: type[LedgerMachine]) -> None:
    # given a member who redeemed 40 of 100 points and gave up the other 60
    run = start(machine, RefundPolicy.CLAWBACK, pending_days=0)
    paid = run.record_order("c1", [(1, 10_000)])
    redemption = run.try_redeem("c1", 40)
    assert redemption is not None
    run.adjust("c1", -60)
    # and the order is refunded: all 100 points become debt
    result = run.send_refund(paid, [("L0", 1)])
    assert result is not None and result["debt_created"] == 100
    run.check()
    # when the unused code is cancelled
    run.cancel(redemption)
    # then its 40 points go back to the lot they came from and pay off debt
    assert run.members["c1"].balance() == {**ZERO, "debt": 60, "lifetime_earned": 100}
    run.check()


def test_a_refund_under_the_remaining_policy_forgives_what_was_spent(
    machine: type[LedgerMachine],
) -> None:
    # given a member who redeemed 40 of the 100 points of an order
    run = start(machine, RefundPolicy.REMAINING, pending_days=0)
    paid = run.record_order("c2", [(2, 5_000)])
    run.try_redeem("c2", 40)
    # when the order is refunded unit by unit
    first = run.send_refund(paid, [("L0", 1)])
    second = run.send_refund(paid, [("L0", 1)])
    # then 50 points come back, then the 10 left; the 40 spent are forgiven, not debt
    assert first is not None and second is not None
    assert (first["points_reversed"], first["points_forgiven"]) == (50, 0)
    assert (second["points_reversed"], second["points_forgiven"]) == (10, 40)
    assert run.members["c2"].balance() == {**ZERO, "lifetime_earned": 100}
    run.check()


def test_a_refund_takes_the_awards_own_pending_points_before_available_ones(
    machine: type[LedgerMachine],
) -> None:
    # given 30 available points and an order whose 100 points are still pending
    run = start(machine, RefundPolicy.CLAWBACK, pending_days=3)
    run.adjust("c3", 30)
    pending = run.record_order("c3", [(1, 10_000)])
    # when 40.00 of the order is refunded by amount
    result = run.send_refund(pending, [], amount=4_000)
    # then the 40 points come out of the order's own pending lot
    assert result is not None and result["points_reversed"] == 40
    assert run.members["c3"].balance() == {
        **ZERO,
        "available": 30,
        "pending": 60,
        "lifetime_earned": 100,
    }
    run.check()
    # and at exactly the end of the window the rest becomes available
    run.advance_clock(72)
    assert run.members["c3"].balance() == {**ZERO, "available": 90, "lifetime_earned": 100}
    run.check()
