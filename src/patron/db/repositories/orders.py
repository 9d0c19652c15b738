"""Orders and their lines, with what has been refunded of them so far."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection

from patron.db.tables import order_lines, orders
from patron.domain.orders import OrderLine, PaidOrder, RefundState

_INSERT_ORDER = insert(orders)
_INSERT_LINES = insert(order_lines)
_INSERT_ORDERS_RETURNING = insert(orders).returning(orders.c.id, sort_by_parameter_order=True)
_EXISTING = select(orders.c.external_id).where(
    orders.c.tenant_id == bindparam("tenant_id"),
    orders.c.brand_id == bindparam("brand_id"),
    orders.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_BY_EXTERNAL_ID = select(orders).where(
    orders.c.tenant_id == bindparam("tenant_id"),
    orders.c.brand_id == bindparam("brand_id"),
    orders.c.external_id == bindparam("external_id"),
)


def _line_row(order_id: int, number: int, line: OrderLine) -> dict[str, Any]:
    return {
        "order_id": order_id,
        "line_no": number,
        "line_id": line.line_id,
        "sku": line.sku,
        "category": line.category,
        "quantity": line.quantity,
        "unit_price": line.unit_price,
        "discount": line.discount,
        "refunded_quantity": 0,
    }


_SET_AWARDED = (
    update(orders)
    .where(orders.c.id == bindparam("order_pk"))
    .values(points_awarded=bindparam("b_points"), credit_awarded=bindparam("b_credit"))
)


class OrderRepository:
    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def insert_many(
        self, rows: list[dict[str, Any]], lines: list[Sequence[OrderLine]]
    ) -> list[int]:
        """Insert orders and their lines in two multi-row statements; ids in row order."""
        ids = [int(row.id) for row in self._c.execute(_INSERT_ORDERS_RETURNING, rows)]
        line_rows = [
            _line_row(order_id, number, line)
            for order_id, order_lines_ in zip(ids, lines, strict=True)
            for number, line in enumerate(order_lines_)
        ]
        self._c.execute(_INSERT_LINES, line_rows)
        return ids

    def set_awarded(self, awarded: dict[int, tuple[int, int]]) -> None:
        """Record what each order earned once its rules were evaluated: order id ->
        (points, store credit). Refunds reverse a share of these."""
        if awarded:
            self._c.execute(
                _SET_AWARDED,
                [
                    {"order_pk": pk, "b_points": points, "b_credit": credit}
                    for pk, (points, credit) in awarded.items()
                ],
            )

    def set_credit_reversed(self, order_id: int, reversed_: int) -> None:
        self._c.execute(
            update(orders).where(orders.c.id == order_id).values(credit_reversed=reversed_)
        )

    def first_order_ids(self, member_ids: list[int]) -> dict[int, int]:
        """Each member's first recorded order (lowest id), for members that have one."""
        query = (
            select(orders.c.member_id, func.min(orders.c.id))
            .where(orders.c.member_id.in_(member_ids))
            .group_by(orders.c.member_id)
        )
        return {int(member_id): int(first) for member_id, first in self._c.execute(query)}

    def existing(self, tenant_id: int, brand_id: int, external_ids: list[str]) -> set[str]:
        """The external ids among `external_ids` already recorded for the brand."""
        params = {"tenant_id": tenant_id, "brand_id": brand_id, "external_ids": external_ids}
        return {row.external_id for row in self._c.execute(_EXISTING, params)}

    def get(
        self, tenant_id: int, brand_id: int, external_id: str, *, lock: bool = False
    ) -> Row[Any] | None:
        query = _BY_EXTERNAL_ID.with_for_update() if lock else _BY_EXTERNAL_ID
        params = {"tenant_id": tenant_id, "brand_id": brand_id, "external_id": external_id}
        return self._c.execute(query, params).first()

    def lines(self, order_id: int) -> list[Row[Any]]:
        query = select(order_lines).where(order_lines.c.order_id == order_id)
        return list(self._c.execute(query.order_by(order_lines.c.line_no)))

    def load(self, order: Row[Any]) -> tuple[PaidOrder, RefundState]:
        """The domain view of a stored order and of its refunds so far."""
        rows = self.lines(order.id)
        paid = PaidOrder(
            lines=tuple(
                OrderLine(
                    line_id=row.line_id,
                    quantity=row.quantity,
                    unit_price=row.unit_price,
                    discount=row.discount,
                    sku=row.sku,
                    category=row.category,
                )
                for row in rows
            ),
            order_discount=order.order_discount,
            shipping=order.shipping,
            tax=order.tax,
        )
        state = RefundState(
            refunded_quantities=tuple(row.refunded_quantity for row in rows),
            merchandise_refunded=order.merchandise_refunded,
            shipping_refunded=order.shipping_refunded,
            tax_refunded=order.tax_refunded,
            points_awarded=order.points_awarded,
            points_reversed=order.points_reversed,
        )
        return paid, state

    def save_refund_state(self, order_id: int, state: RefundState) -> None:
        self._c.execute(
            update(orders)
            .where(orders.c.id == order_id)
            .values(
                merchandise_refunded=state.merchandise_refunded,
                shipping_refunded=state.shipping_refunded,
                tax_refunded=state.tax_refunded,
                points_reversed=state.points_reversed,
            )
        )
        self._c.execute(
            update(order_lines)
            .where(
                order_lines.c.order_id == order_id,
                order_lines.c.line_no == bindparam("b_number"),
            )
            .values(refunded_quantity=bindparam("b_quantity")),
            [
                {"b_number": number, "b_quantity": quantity}
                for number, quantity in enumerate(state.refunded_quantities)
            ],
        )
