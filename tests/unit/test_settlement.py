"""Coalition settlement arithmetic: funding, payments, breakage, conversion, netting."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.errors import InvalidInput
from patron.domain.settlement import (
    POOL,
    BrandActivity,
    PointValue,
    Rate,
    StatementPeriod,
    Transfer,
    minor_rate,
    net_transfers,
    parse_rate,
    settle,
    statement_period,
)

CENT_PER_POINT = PointValue(points=1, amount=1)
EUR = minor_rate("EUR", Decimal("0.9"), 100, 100)

points = st.integers(min_value=-(10**9), max_value=10**9)
rates = st.builds(
    lambda numerator, denominator: Rate("EUR", Fraction(numerator, denominator)),
    st.integers(min_value=1, max_value=10**6),
    st.integers(min_value=1, max_value=10**6),
)
activities = st.lists(
    st.builds(
        BrandActivity,
        brand=st.sampled_from("abcdefgh"),
        issued=points,
        redeemed=points,
        expired=st.integers(min_value=0, max_value=10**9),
        rate=st.none() | rates,
    ),
    max_size=8,
    unique_by=lambda activity: activity.brand,
)
values = st.builds(
    PointValue, st.integers(min_value=1, max_value=1000), st.integers(min_value=1, max_value=1000)
)


def test_a_three_brand_statement_by_hand() -> None:
    # given A issued 1000 and had 100 of them expire, B issued 500 and honoured 300,
    # C (paid in EUR at 0.9) honoured 200; 1 point = 1 cent
    activity = [
        BrandActivity("a", issued=1000, redeemed=0, expired=100),
        BrandActivity("b", issued=500, redeemed=300, expired=0),
        BrandActivity("c", issued=0, redeemed=200, expired=0, rate=EUR),
    ]
    # when settled
    statement = settle(activity, CENT_PER_POINT, "USD")
    # then A pays 900, B pays 200, C receives 200 (180 in EUR), the pool keeps 900
    nets = {line.brand: line.program.net for line in statement.brands}
    assert nets == {"a": -900, "b": -200, "c": 200}
    c = statement.brands[2]
    assert (c.own.currency, c.own.payments, c.own.net) == ("EUR", 180, 180)
    assert statement.pool.outstanding_change == 900
    assert statement.pool.net == 900
    assert statement.total == 0
    assert statement.transfers == (Transfer("a", POOL, 900), Transfer("b", "c", 200))


def test_value_rounds_half_to_even_both_signs() -> None:
    half_cent = PointValue(points=2, amount=1)
    assert [half_cent.of(n) for n in (1, 3, 5, -1, -3, 4)] == [0, 2, 2, 0, -2, 2]


def test_rates_are_exact_decimals_between_minor_units() -> None:
    # 1 USD = 150.5 JPY: 1 cent is 1.505 yen
    yen = minor_rate("JPY", parse_rate("150.5", field="JPY"), 100, 1)
    assert yen.per_minor == Fraction(1505, 1000)
    assert [yen.convert(n) for n in (100, 1, 2, -2)] == [150, 2, 3, -3]


@pytest.mark.parametrize("text", ["0", "-1", "abc", "NaN", "Infinity", "1.0000000000001", "1e10"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as error:
        parse_rate(text, field="EUR")
    assert error.value.field == "EUR"


@given(activities, values)
def test_every_statement_balances_to_zero(activity: list[BrandActivity], value: PointValue) -> None:
    statement = settle(activity, value, "USD")
    assert statement.total == 0
    for line in statement.brands:
        figures = line.program
        assert figures.net == figures.payments + figures.breakage - figures.funding
        assert abs(figures.funding * value.points - line.issued * value.amount) * 2 <= value.points


@given(activities, values)
def test_transfers_settle_every_party(activity: list[BrandActivity], value: PointValue) -> None:
    statement = settle(activity, value, "USD")
    nets = {line.brand: line.program.net for line in statement.brands}
    nets[POOL] = statement.pool.net
    for transfer in statement.transfers:
        assert transfer.amount > 0
        nets[transfer.payer] += transfer.amount
        nets[transfer.payee] -= transfer.amount
    assert set(nets.values()) <= {0}
    payers = {t.payer for t in statement.transfers}
    payees = {t.payee for t in statement.transfers}
    assert not payers & payees
    parties = sum(1 for line in statement.brands if line.program.net) + (statement.pool.net != 0)
    assert len(statement.transfers) <= max(parties - 1, 0)


@given(rates, st.integers(min_value=-(10**12), max_value=10**12))
def test_conversion_is_the_nearest_minor_unit(rate: Rate, amount: int) -> None:
    exact = amount * rate.per_minor
    assert abs(rate.convert(amount) - exact) <= Fraction(1, 2)


def test_unbalanced_nets_are_a_programming_error() -> None:
    with pytest.raises(ValueError):
        net_transfers({"a": 1})


@pytest.mark.parametrize(
    ("key", "start", "end", "rate_keys"),
    [
        ("2026", date(2026, 1, 1), date(2027, 1, 1), ("2026",)),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), ("2026-Q4", "2026")),
        ("2026-02", date(2026, 2, 1), date(2026, 3, 1), ("2026-02", "2026-Q1", "2026")),
    ],
)
def test_statement_periods(key: str, start: date, end: date, rate_keys: tuple[str, ...]) -> None:
    assert statement_period(key) == StatementPeriod(key, start, end, rate_keys)


@pytest.mark.parametrize("key", ["2026-Q0", "2026-13", "26-01", "2026-1", "2026Q1", ""])
def test_bad_periods_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput) as error:
        statement_period(key)
    assert error.value.field == "period"
