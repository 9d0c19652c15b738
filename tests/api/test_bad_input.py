"""Bad input is a 4xx `application/problem+json` with a stable code and the field at fault,
never a 500, and it writes nothing (DESIGN.md section 4).

Every case compares `count_rows(engine)` before and after the failing request.
"""

from __future__ import annotations

import asyncio
import copy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine

from tests.conftest import Tenant, count_rows, make_tenant
from tests.helpers import PATH_SAMPLES, money, order, refund

PROBLEM_JSON = "application/problem+json"
ANY = object()
DROP = object()
ABSURD = 10**12 + 1
#: An amount in another currency than its order may be refused by the schema or the domain.
CURRENCY_CODES = {"validation-failed", "currency-mismatch"}


# --- helpers -------------------------------------------------------------------------------


def assert_problem(
    response: Response, status: int, code: str | set[str], field: Any = ANY
) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status, code (or one of these codes)
    and, if given, field."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] in (code if isinstance(code, set) else {code}), body
    assert body["type"] == f"/problems/{body['code']}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    if field is not ANY:
        assert body.get("field") == field, body
    return body


@contextmanager
def writes_nothing(engine: Engine) -> Iterator[None]:
    """Every table has as many rows after the block as before it."""
    before = count_rows(engine)
    yield
    assert count_rows(engine) == before


def edited(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `body` with the dotted `path` set to `value` (or removed: DROP)."""
    result = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = result
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is DROP:
        del node[key]
    else:
        node[key] = value
    return result


@pytest.fixture
def world(client: TestClient, tenant: Tenant) -> dict[str, Any]:
    """Member c1 with 100 points from order o1 (2 x $50.00 + $10.00 shipping) and a reward
    of 500 points; returns the reward id."""
    paid = client.post(
        "/v1/orders",
        json=order("o1", "c1", lines=[(2, 5_000)], shipping=money(1_000), total=money(11_000)),
        headers=tenant.headers,
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["points"] == 100
    reward = client.post(
        "/v1/rewards",
        json={"name": "$5 off", "points_cost": 500, "value": money(500)},
        headers=tenant.headers,
    )
    assert reward.status_code == 201, reward.text
    return {"reward_id": reward.json()["id"]}


# --- paid orders ---------------------------------------------------------------------------

ORDER_CASES: list[tuple[str, str, Any, str]] = [
    # (case, dotted path edited in a valid order, new value or DROP, field reported)
    ("missing order_id", "order_id", DROP, "order_id"),
    ("missing customer_id", "customer_id", DROP, "customer_id"),
    ("missing currency", "currency", DROP, "currency"),
    ("missing lines", "lines", DROP, "lines"),
    ("missing line id", "lines.0.line_id", DROP, "lines.0.line_id"),
    ("missing quantity", "lines.0.quantity", DROP, "lines.0.quantity"),
    ("missing unit price", "lines.0.unit_price", DROP, "lines.0.unit_price"),
    ("missing total", "total", DROP, "total"),
    ("missing occurred_at", "occurred_at", DROP, "occurred_at"),
    ("float amount", "lines.0.unit_price.amount", 10_000.0, "lines.0.unit_price.amount"),
    ("fractional amount", "lines.0.unit_price.amount", 99.99, "lines.0.unit_price.amount"),
    ("string amount", "lines.0.unit_price.amount", "10000", "lines.0.unit_price.amount"),
    ("boolean amount", "lines.0.unit_price.amount", True, "lines.0.unit_price.amount"),
    ("null amount", "lines.0.unit_price.amount", None, "lines.0.unit_price.amount"),
    ("string quantity", "lines.0.quantity", "1", "lines.0.quantity"),
    ("float quantity", "lines.0.quantity", 1.0, "lines.0.quantity"),
    ("zero quantity", "lines.0.quantity", 0, "lines.0.quantity"),
    ("negative quantity", "lines.0.quantity", -1, "lines.0.quantity"),
    ("absurd quantity", "lines.0.quantity", 1_000_001, "lines.0.quantity"),
    ("negative unit price", "lines.0.unit_price.amount", -1, "lines.0.unit_price.amount"),
    ("negative total", "total.amount", -10_000, "total.amount"),
    ("negative shipping", "shipping", money(-1), "shipping.amount"),
    ("negative order discount", "discount", money(-1), "discount.amount"),
    ("negative line discount", "lines.0.discount", money(-1), "lines.0.discount.amount"),
    ("absurd unit price", "lines.0.unit_price.amount", ABSURD, "lines.0.unit_price.amount"),
    ("absurd total", "total.amount", ABSURD, "total.amount"),
    ("absurd tax", "tax", money(ABSURD), "tax.amount"),
    ("money without currency", "total", {"amount": 10_000}, "total.currency"),
    ("money as a number", "total", 10_000, "total"),
    ("lowercase currency code", "total.currency", "usd", "total.currency"),
    ("no lines", "lines", [], "lines"),
    ("lines not a list", "lines", {"line_id": "L0"}, "lines"),
    ("order id with a space", "order_id", "o 2", "order_id"),
    ("order id with a slash", "order_id", "o/2", "order_id"),
    ("order id too long", "order_id", "o" * 129, "order_id"),
    ("empty customer id", "customer_id", "", "customer_id"),
    ("naive occurred_at", "occurred_at", "2026-03-01T12:00:00", "occurred_at"),
    ("occurred_at not a date", "occurred_at", "yesterday", "occurred_at"),
    ("bad source", "source", "Shop Ify", "source"),
    ("unknown field", "colour", "red", "colour"),
    ("unknown line field", "lines.0.colour", "red", "lines.0.colour"),
    ("unknown money field", "total.cents", 1, "total.cents"),
    ("unknown customer field", "customer", {"external_id": "c2"}, "customer.external_id"),
    ("bad customer email", "customer", {"email": "not-an-email"}, "customer.email"),
    ("too many discount codes", "discount_codes", ["X"] * 21, "discount_codes"),
]


def test_malformed_order_is_422_naming_the_field_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    for case, path, value, field in ORDER_CASES:
        with subtests.test(case):
            # given a valid paid order for a new customer, broken in one place
            body = edited(order("o2", "c2", lines=[(1, 10_000)]), path, value)
            # when it is posted
            with writes_nothing(engine):
                response = client.post("/v1/orders", json=body, headers=tenant.headers)
            # then it is a validation problem naming that field, and nothing was written
            problem = assert_problem(response, 422, "validation-failed", field)
            assert problem["errors"][0]["field"] == field
            assert all(set(error) == {"field", "message"} for error in problem["errors"])


def test_unknown_currency_is_422(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    # given an order entirely in "XXQ", which is no ISO 4217 currency
    body = order("o2", "c2", currency="XXQ")
    # when it is posted
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=body, headers=tenant.headers)
    # then every XXQ currency is reported, the order's own first
    problem = assert_problem(response, 422, "validation-failed", "currency")
    assert problem["errors"] == [
        {"field": "currency", "message": "Value error, unknown currency 'XXQ'"},
        {
            "field": "lines.0.unit_price.currency",
            "message": "Value error, unknown currency 'XXQ'",
        },
        {"field": "total.currency", "message": "Value error, unknown currency 'XXQ'"},
    ]


def test_currency_other_than_the_programs_is_currency_mismatch(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    # given a USD program and an order in EUR
    body = order("o2", "c2", currency="EUR")
    # when it is posted
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=body, headers=tenant.headers)
    # then
    problem = assert_problem(response, 422, "currency-mismatch", "currency")
    assert problem["detail"] == "program 'main' runs in USD, not EUR"


def test_amount_in_another_currency_than_the_order_names_that_amount(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    cases = [
        ("lines.0.unit_price", "lines.0.unit_price.currency"),
        ("total", "total.currency"),
        ("shipping", "shipping.currency"),
    ]
    for path, field in cases:
        with subtests.test(path):
            # given a USD order with one amount in EUR
            body = edited(order("o2", "c2", shipping=money(500)), path, money(10_000, "EUR"))
            # when it is posted
            with writes_nothing(engine):
                response = client.post("/v1/orders", json=body, headers=tenant.headers)
            # then the problem names the amount whose currency is wrong (not just "body")
            problem = assert_problem(response, 422, CURRENCY_CODES, field)
            assert "currency" in problem["detail"]


def test_line_discount_above_the_line_price_is_invalid_input(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = edited(order("o2", "c2", lines=[(1, 10_000)]), "lines.0.discount", money(10_001))
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert_problem(response, 422, "invalid-input", "lines.0.discount")


def test_order_discount_above_the_lines_is_invalid_input(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = order("o2", "c2", lines=[(1, 10_000)], discount=money(10_001))
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=body, headers=tenant.headers)
    assert_problem(response, 422, "invalid-input", "discount")


def test_order_whose_lines_add_up_to_an_absurd_amount_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    for line_count in (1, 10):
        with subtests.test(f"{line_count} line(s) of 10^18"):
            # given lines each within bounds (1,000,000 units at 10^12) but worth 10^18
            # minor units each, far above the 10^12 that any amount may reach
            lines = [(1_000_000, 10**12)] * line_count
            body = order(f"o-{line_count}", "c2", lines=lines, total=money(1))
            # when the order is posted
            with writes_nothing(engine):
                response = client.post("/v1/orders", json=body, headers=tenant.headers)
            # then it is refused as bad input: not credited, not a 500 from a bigint overflow
            # (schema validation or the domain may refuse it: either stable code will do)
            assert response.status_code == 422, response.text
            assert response.headers["content-type"] == PROBLEM_JSON
            problem = response.json()
            assert problem["code"] in {"validation-failed", "invalid-input"}
            assert problem["field"].startswith("lines")
    with subtests.test("in a batch"):
        lines = [(1_000_000, 10**12)] * 10
        body = {"orders": [order("o-b", "c2", lines=lines, total=money(1))]}
        with writes_nothing(engine):
            response = client.post("/v1/orders/batch", json=body, headers=tenant.headers)
        # refused as a whole (422) or as the batch's one rejected order (200)
        if response.status_code == 200:
            assert (response.json()["created"], response.json()["rejected"]) == (0, 1)
        else:
            assert response.status_code == 422, response.text


def test_unknown_member_without_auto_enrolment_is_404(client: TestClient, engine: Engine) -> None:
    # given a program that does not enrol customers automatically
    closed = make_tenant(engine, "x", auto_enroll=False)
    # when an order of an unknown customer arrives
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=order("o1", "ghost"), headers=closed.headers)
    # then
    problem = assert_problem(response, 404, "not-found", "customer_id")
    assert problem["detail"] == "no member 'ghost' and the program does not enrol automatically"


def test_batch_with_a_malformed_order_is_422_naming_it(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = {"orders": [order("b1", "c2"), edited(order("b2", "c2"), "lines.0.quantity", "x")]}
    with writes_nothing(engine):
        response = client.post("/v1/orders/batch", json=body, headers=tenant.headers)
    assert_problem(response, 422, "validation-failed", "orders.1.lines.0.quantity")


def test_batch_of_more_than_1000_orders_is_422(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = {"orders": [order(f"b{i}", "c2") for i in range(1_001)]}
    with writes_nothing(engine):
        response = client.post("/v1/orders/batch", json=body, headers=tenant.headers)
    assert_problem(response, 422, "validation-failed", "orders")


# --- refunds -------------------------------------------------------------------------------


def test_refund_of_an_unknown_order_is_404(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    with writes_nothing(engine):
        response = client.post(
            "/v1/refunds", json=refund("r1", "nope", lines=[("L0", 1)]), headers=tenant.headers
        )
    problem = assert_problem(response, 404, "not-found", "order_id")
    assert problem["detail"] == "no order 'nope'"


REFUND_CASES: list[tuple[str, dict[str, Any], str | set[str], str]] = [
    # (case, refund fields, code, field)
    ("missing refund_id", {"refund_id": DROP}, "validation-failed", "refund_id"),
    ("missing occurred_at", {"occurred_at": DROP}, "validation-failed", "occurred_at"),
    (
        "string quantity",
        {"lines": [{"line_id": "L0", "quantity": "1"}]},
        "validation-failed",
        "lines.0.quantity",
    ),
    (
        "zero quantity",
        {"lines": [{"line_id": "L0", "quantity": 0}]},
        "validation-failed",
        "lines.0.quantity",
    ),
    ("negative amount", {"amount": money(-1)}, "validation-failed", "amount.amount"),
    (
        "float amount",
        {"amount": {"amount": 1.5, "currency": "USD"}},
        "validation-failed",
        "amount.amount",
    ),
    ("absurd amount", {"amount": money(ABSURD)}, "validation-failed", "amount.amount"),
    ("amount in EUR", {"amount": money(100, "EUR")}, CURRENCY_CODES, "amount.currency"),
    (
        "refund in EUR",
        {"currency": "EUR", "amount": money(100, "EUR")},
        "currency-mismatch",
        "currency",
    ),
    ("unknown field", {"reason": "damaged"}, "validation-failed", "reason"),
    ("unknown line", {"lines": [{"line_id": "L9", "quantity": 1}]}, "invalid-input", "lines"),
    ("line twice", {"lines": [{"line_id": "L0", "quantity": 1}] * 2}, "invalid-input", "lines"),
    (
        "more units than bought",
        {"lines": [{"line_id": "L0", "quantity": 3}]},
        "refund-exceeds-order",
        "lines",
    ),
    ("more merchandise than paid", {"amount": money(10_001)}, "refund-exceeds-order", "amount"),
    ("more shipping than paid", {"shipping": money(1_001)}, "refund-exceeds-order", "shipping"),
    ("more tax than paid", {"tax": money(1)}, "refund-exceeds-order", "tax"),
]


def test_bad_refund_is_a_problem_and_writes_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    world: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    # given order o1: 2 x $50.00 (L0) + $10.00 shipping, no tax
    for case, changes, code, field in REFUND_CASES:
        with subtests.test(case):
            body = refund("r1", "o1", lines=[("L0", 1)])
            for key, value in changes.items():
                body = edited(body, key, value)
            if "lines" not in changes and {"amount", "shipping", "tax"} & set(changes):
                body["lines"] = []
            # when the refund is posted
            with writes_nothing(engine):
                response = client.post("/v1/refunds", json=body, headers=tenant.headers)
            # then
            assert_problem(response, 422, code, field)


def test_refund_naming_nothing_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    with writes_nothing(engine):
        response = client.post("/v1/refunds", json=refund("r1", "o1"), headers=tenant.headers)
    problem = assert_problem(response, 422, "invalid-input", "lines")
    assert problem["detail"] == "a refund names lines or an amount"


def test_refund_larger_than_what_is_left_of_the_order(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    # given one of the two units of L0 ($50.00) refunded already
    first = client.post(
        "/v1/refunds", json=refund("r1", "o1", lines=[("L0", 1)]), headers=tenant.headers
    )
    assert first.status_code == 201, first.text
    assert first.json()["points_reversed"] == 50
    # when two more units are refunded, then 1 cent more than the $50.00 left
    with writes_nothing(engine):
        by_quantity = client.post(
            "/v1/refunds", json=refund("r2", "o1", lines=[("L0", 2)]), headers=tenant.headers
        )
        by_amount = client.post(
            "/v1/refunds", json=refund("r3", "o1", amount=5_001), headers=tenant.headers
        )
    # then both are refused and the order is as it was after the first refund
    problem = assert_problem(by_quantity, 422, "refund-exceeds-order", "lines")
    assert problem["detail"] == "line 'L0' has 1 unit(s) left to refund, not 2"
    problem = assert_problem(by_amount, 422, "refund-exceeds-order", "amount")
    assert problem["detail"] == "refund of merchandise would total 10001, more than the 10000 paid"
    seen = client.get("/v1/orders/o1", headers=tenant.headers).json()
    assert seen["points_reversed"] == 50
    assert seen["merchandise_refunded"] == 5_000
    assert seen["lines"][0]["refunded_quantity"] == 1
    # and exactly what is left can still be refunded
    rest = client.post("/v1/refunds", json=refund("r4", "o1", amount=5_000), headers=tenant.headers)
    assert rest.status_code == 201, rest.text
    assert rest.json()["points_reversed"] == 50


# --- Idempotency-Key -------------------------------------------------------------------------


def test_malformed_idempotency_key_is_400(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    keys: list[str | bytes] = ["has space", "x" * 256, "", "tab\tinside", "caf\u00e9".encode()]
    for key in keys:
        with subtests.test(repr(key)[:40]):
            headers: dict[str, Any] = {**tenant.headers, "Idempotency-Key": key}
            with writes_nothing(engine):
                response = client.post("/v1/members", json={"external_id": "c9"}, headers=headers)
            problem = assert_problem(response, 400, "invalid-idempotency-key", "Idempotency-Key")
            assert problem["detail"] == "Idempotency-Key must be 1-255 visible ASCII characters"


def test_idempotency_key_of_255_visible_characters_is_accepted(
    client: TestClient, tenant: Tenant
) -> None:
    headers = {**tenant.headers, "Idempotency-Key": "!~" + "k" * 253}
    response = client.post("/v1/members", json={"external_id": "c9"}, headers=headers)
    assert response.status_code == 201, response.text


# --- body size -------------------------------------------------------------------------------


def test_body_over_1_mb_with_content_length_is_413(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    body = b'{"external_id": "c9", "first_name": "' + b"a" * 1_000_000 + b'"}'
    with writes_nothing(engine):
        response = client.post(
            "/v1/members",
            content=body,
            headers={**tenant.headers, "content-type": "application/json"},
        )
    assert response.request.headers["content-length"] == str(len(body))
    problem = assert_problem(response, 413, "body-too-large")
    assert problem["detail"] == "request body exceeds 1000000 bytes"


def test_chunked_body_over_1_mb_is_413(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    # given a 5 MB body streamed in 100 kB chunks, with no Content-Length
    def chunks() -> Iterator[bytes]:
        yield b'{"external_id": "c9", "first_name": "'
        for _ in range(50):
            yield b"a" * 100_000
        yield b'"}'

    with writes_nothing(engine):
        response = client.post(
            "/v1/members",
            content=chunks(),
            headers={**tenant.headers, "content-type": "application/json"},
        )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "body-too-large")


def test_streamed_body_is_cut_off_at_the_limit(app: Any, tenant: Tenant, engine: Engine) -> None:
    """At the ASGI level (TestClient buffers streamed bodies): the app stops reading a
    body without Content-Length once it passes 1 MB, and answers 413."""
    received: list[int] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        more = len(received) < 50
        return {"type": "http.request", "body": b"a" * 100_000, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/members",
        "raw_path": b"/v1/members",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {tenant.key}".encode()),
            (b"content-type", b"application/json"),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    with writes_nothing(engine):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 413
    assert (b"content-type", b"application/problem+json") in sent[0]["headers"]
    assert b'"code": "body-too-large"' in sent[1]["body"]
    # 11 chunks of 100 kB pass the 1,000,000-byte limit; nothing after that was read
    assert len(received) == 11


def test_body_just_under_1_mb_is_not_refused_for_its_size(
    client: TestClient, tenant: Tenant
) -> None:
    body = b'{"external_id": "c9", "first_name": "' + b"a" * 900_000 + b'"}'
    response = client.post(
        "/v1/members", content=body, headers={**tenant.headers, "content-type": "application/json"}
    )
    # it reaches validation (first_name is at most 200 characters)
    assert_problem(response, 422, "validation-failed", "first_name")


# --- authentication --------------------------------------------------------------------------


def test_unknown_key_is_401(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    cases = [
        ("Bearer ptn_0123456789ab_" + "0" * 48, "unknown or revoked API key"),
        ("Bearer not-a-key", "malformed API key"),
        ("Bearer ptn_a_b_c", "malformed API key"),
        ("Basic dXNlcjpwYXNz", "send the API key as 'Authorization: Bearer <key>'"),
        (tenant.key, "send the API key as 'Authorization: Bearer <key>'"),
    ]
    for authorization, detail in cases:
        with subtests.test(authorization[:30]):
            with writes_nothing(engine):
                response = client.post(
                    "/v1/members",
                    json={"external_id": "c9"},
                    headers={"Authorization": authorization},
                )
            problem = assert_problem(response, 401, "unauthenticated")
            assert problem["detail"] == detail
            assert response.headers["www-authenticate"] == 'Bearer realm="patron"'


def test_wrong_secret_of_a_real_key_id_is_401(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    prefix, key_id, _secret = tenant.key.split("_")
    forged = f"Bearer {prefix}_{key_id}_{'0' * 48}"
    with writes_nothing(engine):
        response = client.post(
            "/v1/members", json={"external_id": "c9"}, headers={"Authorization": forged}
        )
    assert_problem(response, 401, "unauthenticated")


def test_revoked_key_is_401(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    # given a write key that is then revoked
    made = client.post(
        "/v1/keys", json={"name": "pos", "scopes": ["write"]}, headers=tenant.headers
    ).json()
    revoked = client.post(f"/v1/keys/{made['key_id']}/revoke", headers=tenant.headers)
    assert revoked.status_code == 200, revoked.text
    # when it is used
    with writes_nothing(engine):
        response = client.post(
            "/v1/members",
            json={"external_id": "c9"},
            headers={"Authorization": f"Bearer {made['secret']}"},
        )
    # then
    problem = assert_problem(response, 401, "unauthenticated")
    assert problem["detail"] == "unknown or revoked API key"


# --- redemptions -----------------------------------------------------------------------------


def test_redeeming_more_points_than_available_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    # given c1 has 100 points and the reward costs 500
    with writes_nothing(engine):
        response = client.post(
            "/v1/members/c1/redemptions",
            json={"reward_id": world["reward_id"]},
            headers=tenant.headers,
        )
    problem = assert_problem(response, 422, "insufficient-points")
    assert problem["detail"] == "needs 500 points, 100 available"
    balance = client.get("/v1/members/c1", headers=tenant.headers).json()["balance"]
    assert balance["available"] == 100


def test_redeeming_for_a_blocked_member_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    # given c1 has enough points, then is blocked
    client.post(
        "/v1/members/c1/adjustments",
        json={"points": 1_000, "reason": "goodwill"},
        headers=tenant.headers,
    )
    blocked = client.patch("/v1/members/c1", json={"status": "blocked"}, headers=tenant.headers)
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["status"] == "blocked"
    # when it redeems
    with writes_nothing(engine):
        response = client.post(
            "/v1/members/c1/redemptions",
            json={"reward_id": world["reward_id"]},
            headers=tenant.headers,
        )
    # then
    problem = assert_problem(response, 422, "member-blocked", "customer_id")
    assert problem["detail"] == "member 'c1' is blocked"


def test_redeeming_an_unknown_reward_is_404(
    client: TestClient, tenant: Tenant, engine: Engine, world: dict[str, Any]
) -> None:
    with writes_nothing(engine):
        response = client.post(
            "/v1/members/c1/redemptions", json={"reward_id": "rwd_nope"}, headers=tenant.headers
        )
    assert_problem(response, 404, "not-found", "reward_id")


def test_reward_in_another_currency_is_currency_mismatch(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    with writes_nothing(engine):
        response = client.post(
            "/v1/rewards",
            json={"name": "5 EUR off", "points_cost": 500, "value": money(500, "EUR")},
            headers=tenant.headers,
        )
    assert_problem(response, 422, "currency-mismatch", "value.currency")


REWARD_CASES: list[tuple[dict[str, Any], str]] = [
    ({"points_cost": 0}, "points_cost"),
    ({"points_cost": 1.5}, "points_cost"),
    ({"points_cost": ABSURD}, "points_cost"),
    ({"value": money(-1)}, "value.amount"),
    ({"value": money(500, "XXQ")}, "value.currency"),
    ({"code_prefix": "save-"}, "code_prefix"),
    ({"code_length": 7}, "code_length"),
    ({"kind": "free_lunch"}, "kind"),
    ({"stock": -1}, "stock"),
]


def test_bad_reward_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    for changes, field in REWARD_CASES:
        with subtests.test(str(changes)):
            body = {"name": "$5 off", "points_cost": 500, "value": money(500), **changes}
            with writes_nothing(engine):
                response = client.post("/v1/rewards", json=body, headers=tenant.headers)
            assert_problem(response, 422, "validation-failed", field)


# --- members, adjustments, keys, programs ----------------------------------------------------

ENROL_CASES: list[tuple[dict[str, Any], str]] = [
    ({}, "external_id"),
    ({"external_id": 42}, "external_id"),
    ({"external_id": "has space"}, "external_id"),
    ({"external_id": "c" * 129}, "external_id"),
    ({"external_id": "c9", "email": "nope"}, "email"),
    ({"external_id": "c9", "birthday": "31/12/1990"}, "birthday"),
    ({"external_id": "c9", "phone": "call me"}, "phone"),
    ({"external_id": "c9", "locale": "not a locale"}, "locale"),
    ({"external_id": "c9", "tags": "vip"}, "tags"),
    ({"external_id": "c9", "tags": ["t"] * 51}, "tags"),
    ({"external_id": "c9", "marketing_consent": "yes please"}, "marketing_consent"),
    ({"external_id": "c9", "status": "active"}, "status"),
    ({"external_id": "c9", "points": 100}, "points"),
]


def test_bad_enrolment_is_422(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    for body, field in ENROL_CASES:
        with subtests.test(str(body)[:60]):
            with writes_nothing(engine):
                response = client.post("/v1/members", json=body, headers=tenant.headers)
            assert_problem(response, 422, "validation-failed", field)


def test_bad_member_update_is_422_and_writes_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    world: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    # given member c1: active, no tags, no marketing consent
    cases: list[tuple[dict[str, Any], str]] = [
        ({"status": "deleted"}, "status"),
        ({"external_id": "c7"}, "external_id"),
        ({"email": "nope"}, "email"),
        # null for a field that cannot be empty is bad input, not a database error
        ({"status": None}, "status"),
        ({"tags": None}, "tags"),
        ({"marketing_consent": None}, "marketing_consent"),
    ]
    for body, field in cases:
        with subtests.test(str(body)):
            with writes_nothing(engine):
                response = client.patch("/v1/members/c1", json=body, headers=tenant.headers)
            assert_problem(response, 422, "validation-failed", field)
            member = client.get("/v1/members/c1", headers=tenant.headers).json()
            assert (member["status"], member["tags"], member["marketing_consent"]) == (
                "active",
                [],
                False,
            )


def test_update_of_an_unknown_member_is_404(
    client: TestClient, tenant: Tenant, engine: Engine
) -> None:
    with writes_nothing(engine):
        response = client.patch(
            "/v1/members/ghost", json={"status": "blocked"}, headers=tenant.headers
        )
    assert_problem(response, 404, "not-found", "customer_id")


def test_bad_adjustment_is_a_problem_and_writes_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    world: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    # given member c1 with 100 points
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"points": 0, "reason": "nothing"}, "invalid-input", "points"),
        ({"points": 1.5, "reason": "half"}, "validation-failed", "points"),
        ({"points": "10", "reason": "text"}, "validation-failed", "points"),
        ({"points": ABSURD, "reason": "absurd"}, "validation-failed", "points"),
        ({"points": -ABSURD, "reason": "absurd"}, "validation-failed", "points"),
        ({"points": 10, "reason": "no"}, "validation-failed", "reason"),
        ({"points": 10}, "validation-failed", "reason"),
        ({"points": -101, "reason": "too much"}, "insufficient-points", "points"),
    ]
    for body, code, field in cases:
        with subtests.test(str(body)):
            with writes_nothing(engine):
                response = client.post(
                    "/v1/members/c1/adjustments", json=body, headers=tenant.headers
                )
            assert_problem(response, 422, code, field)
    unknown = client.post(
        "/v1/members/ghost/adjustments",
        json={"points": 10, "reason": "goodwill"},
        headers=tenant.headers,
    )
    assert_problem(unknown, 404, "not-found", "customer_id")


def test_bad_key_request_is_a_problem_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"name": "k", "scopes": []}, 422, "validation-failed", "scopes"),
        ({"name": "k", "scopes": ["root"]}, 422, "validation-failed", "scopes.0"),
        ({"name": "", "scopes": ["read"]}, 422, "validation-failed", "name"),
        ({"name": "k", "scopes": ["read"], "brand": "nope"}, 404, "not-found", "brand"),
        ({"name": "k", "scopes": ["read"], "secret": "mine"}, 422, "validation-failed", "secret"),
    ]
    for body, status, code, field in cases:
        with subtests.test(str(body)):
            with writes_nothing(engine):
                response = client.post("/v1/keys", json=body, headers=tenant.headers)
            assert_problem(response, status, code, field)
    with writes_nothing(engine):
        response = client.post("/v1/keys/000000000000/revoke", headers=tenant.headers)
    assert_problem(response, 404, "not-found", "key_id")


def test_bad_program_is_a_problem_and_writes_nothing(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({"currency": "XXQ"}, 422, "validation-failed", "currency"),
        ({"time_zone": "Mars/Olympus"}, 422, "validation-failed", "time_zone"),
        ({"code": "Has Space"}, 422, "validation-failed", "code"),
        (
            {"earn_rate": {"points": 1, "per_amount": 0}},
            422,
            "validation-failed",
            "earn_rate.per_amount",
        ),
        ({"pending_days": 366}, 422, "validation-failed", "pending_days"),
        ({"refund_policy": "maybe"}, 422, "validation-failed", "refund_policy"),
        ({"code": "main"}, 409, "conflict", "code"),
    ]
    for changes, status, code, field in cases:
        with subtests.test(str(changes)):
            body = {"code": "second", "name": "Second", "currency": "USD", **changes}
            with writes_nothing(engine):
                response = client.post("/v1/programs", json=body, headers=tenant.headers)
            assert_problem(response, status, code, field)


def test_unknown_program_header_is_404(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    headers = {**tenant.headers, "Patron-Program": "nope"}
    with writes_nothing(engine):
        response = client.post("/v1/orders", json=order("o2", "c2"), headers=headers)
    assert_problem(response, 404, "not-found", "program")


def test_unknown_brand_is_404(client: TestClient, tenant: Tenant, engine: Engine) -> None:
    with writes_nothing(engine):
        response = client.post(
            "/v1/orders", json=order("o2", "c2", brand="nope"), headers=tenant.headers
        )
    assert_problem(response, 404, "not-found", "brand")


# --- cursors and query parameters ------------------------------------------------------------


def test_bad_cursor_is_400(
    client: TestClient, tenant: Tenant, world: dict[str, Any], subtests: pytest.Subtests
) -> None:
    urls = [
        "/v1/members?cursor=zzz",
        "/v1/members?cursor=!!!",
        "/v1/members?cursor=dDox",  # a ledger cursor ("t:1") on the members list
        "/v1/members?cursor=bTotMQ",  # "m:-1"
        "/v1/members?cursor=" + "A" * 500,
        "/v1/members/c1/ledger?cursor=bTox",  # a members cursor ("m:1") on a ledger
        "/v1/members/c1/ledger?cursor=",
    ]
    for url in urls:
        with subtests.test(url[:60]):
            response = client.get(url, headers=tenant.headers)
            problem = assert_problem(response, 400, "invalid-cursor", "cursor")
            assert problem["detail"] == "cursor is not one this list returned"


def test_bad_query_or_path_parameter_is_422(
    client: TestClient, tenant: Tenant, world: dict[str, Any], subtests: pytest.Subtests
) -> None:
    cases = [
        ("/v1/members?limit=0", "limit"),
        ("/v1/members?limit=201", "limit"),
        ("/v1/members?limit=ten", "limit"),
        ("/v1/members/c1/ledger?limit=-1", "limit"),
        ("/v1/members/" + "c" * 129, "customer_id"),
        ("/v1/members/has%20space", "customer_id"),
        ("/v1/orders/o1?brand=" + "b" * 65, "brand"),
    ]
    for url, field in cases:
        with subtests.test(url[:60]):
            response = client.get(url, headers=tenant.headers)
            assert_problem(response, 422, "validation-failed", field)


# --- malformed bodies, on every endpoint ---------------------------------------------------


def test_malformed_json_is_422_with_the_body_as_field(
    client: TestClient, tenant: Tenant, engine: Engine, subtests: pytest.Subtests
) -> None:
    headers = {**tenant.headers, "content-type": "application/json"}
    for raw in [b'{"order_id": "o2",', b"not json", b"{'single': 'quotes'}", b'{"a": 1} trailing']:
        with subtests.test(raw.decode()):
            with writes_nothing(engine):
                response = client.post("/v1/orders", content=raw, headers=headers)
            # the field is the body, not the byte offset where the JSON parser gave up
            problem = assert_problem(response, 422, "validation-failed", "body")
            assert [error["field"] for error in problem["errors"]] == ["body"]


BAD_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b"true",
    b'{"external_id": "c9",',
    b"not json",
    b'{"unexpected": 1}',
    b"{}",
]


def operations(client: TestClient) -> list[tuple[str, str, bool]]:
    """(method, path template, takes a body) of every operation the app serves."""
    spec = client.get("/openapi.json").json()
    return sorted(
        (method.upper(), path, "requestBody" in operation)
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
    )


def _url(template: str, **override: str) -> str:
    values = {**PATH_SAMPLES, **override}
    return re.sub(r"\{(\w+)\}", lambda match: values[match.group(1)], template)


def test_every_body_endpoint_answers_garbage_with_a_4xx_and_writes_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    world: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    headers = {**tenant.headers, "content-type": "application/json"}
    with_body = [(method, path) for method, path, body in operations(client) if body]
    assert len(with_body) >= 13
    for method, path in with_body:
        for raw in BAD_BODIES:
            with subtests.test(f"{method} {path} {raw.decode()}"):
                with writes_nothing(engine):
                    response = client.request(method, _url(path), content=raw, headers=headers)
                if raw == b"{}" and method == "PATCH":
                    assert response.status_code == 200, response.text  # empty update: valid
                    continue
                assert_problem(response, 422, "validation-failed")


def test_every_path_parameter_out_of_bounds_is_a_4xx_and_writes_nothing(
    client: TestClient,
    tenant: Tenant,
    engine: Engine,
    world: dict[str, Any],
    subtests: pytest.Subtests,
) -> None:
    overrides = {name: "x" * 300 for name in PATH_SAMPLES}
    with_params = [(method, path) for method, path, _ in operations(client) if "{" in path]
    assert len(with_params) >= 12
    for method, path in with_params:
        with subtests.test(f"{method} {path}"):
            url = _url(path, **overrides)
            with writes_nothing(engine):
                response = client.request(method, url, json={}, headers=tenant.headers)
            assert_problem(response, 422, "validation-failed")
