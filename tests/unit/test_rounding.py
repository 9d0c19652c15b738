"""rounding.divide: integer division with an explicit rounding mode."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.rounding import Rounding, divide

FLOOR, HALF_UP, CEIL = Rounding.FLOOR, Rounding.HALF_UP, Rounding.CEIL


@pytest.mark.parametrize(
    ("numerator", "denominator", "floor", "half_up", "ceil"),
    [
        (0, 7, 0, 0, 0),  # zero is zero in every mode
        (6, 3, 2, 2, 2),  # exact quotient: no rounding at all
        (7, 2, 3, 4, 4),  # 3.5: an exact half
        (5, 2, 2, 3, 3),  # 2.5: half-up goes away from zero, not to even
        (1, 2, 0, 1, 1),  # 0.5: the smallest half
        (300, 200, 1, 2, 2),  # 1.5: 3 points per 200 minor units of 100
        (4, 3, 1, 1, 2),  # 1.33: below the half
        (5, 3, 1, 2, 2),  # 1.67: above the half
        (1, 3, 0, 0, 1),  # 0.33: ceil turns any fraction into a point
        (49, 100, 0, 0, 1),  # 0.49: just below the half
        (50, 100, 0, 1, 1),  # 0.50: exactly the half
        (51, 100, 0, 1, 1),  # 0.51: just above the half
        (12_345, 100, 123, 123, 124),
        (10**15 + 1, 2, 5 * 10**14, 5 * 10**14 + 1, 5 * 10**14 + 1),  # big ints stay exact
    ],
)
def test_divide_rounds_by_mode(
    numerator: int, denominator: int, floor: int, half_up: int, ceil: int
) -> None:
    # given a numerator and a denominator
    # when it is divided in each mode
    # then each mode gives its exact result
    assert divide(numerator, denominator, FLOOR) == floor
    assert divide(numerator, denominator, HALF_UP) == half_up
    assert divide(numerator, denominator, CEIL) == ceil


def test_divide_by_one_is_identity() -> None:
    for mode in Rounding:
        assert divide(17, 1, mode) == 17


@pytest.mark.parametrize("denominator", [0, -1, -100])
def test_divide_refuses_a_denominator_that_is_not_positive(denominator: int) -> None:
    with pytest.raises(ValueError, match="denominator must be positive"):
        divide(10, denominator, FLOOR)


def test_divide_refuses_a_negative_numerator() -> None:
    with pytest.raises(ValueError, match="numerator must not be negative"):
        divide(-1, 2, HALF_UP)


def test_rounding_values_are_stable() -> None:
    # stored in the database and shown in the API: they must not change
    assert [mode.value for mode in Rounding] == ["floor", "half_up", "ceil"]


@given(st.integers(min_value=0, max_value=10**18), st.integers(min_value=1, max_value=10**9))
def test_divide_matches_exact_fractions(numerator: int, denominator: int) -> None:
    exact = Fraction(numerator, denominator)
    assert divide(numerator, denominator, FLOOR) == math.floor(exact)
    assert divide(numerator, denominator, CEIL) == math.ceil(exact)
    assert divide(numerator, denominator, HALF_UP) == math.floor(exact + Fraction(1, 2))


@given(st.integers(min_value=0, max_value=10**12), st.integers(min_value=1, max_value=10**6))
def test_modes_are_ordered_and_at_most_one_apart(numerator: int, denominator: int) -> None:
    floor = divide(numerator, denominator, FLOOR)
    half_up = divide(numerator, denominator, HALF_UP)
    ceil = divide(numerator, denominator, CEIL)
    assert floor <= half_up <= ceil <= floor + 1


def test_a_mode_given_as_its_stored_string_rounds_the_same() -> None:
    # given the mode as read back from the database, a plain string
    # then it rounds exactly as the enum does
    assert divide(7, 2, "floor") == 3  # type: ignore[arg-type]
    assert divide(7, 2, "half_up") == 4  # type: ignore[arg-type]
