"""ledger: postings balance per asset; account names are stable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.ledger import (
    POINTS,
    Posting,
    TxKind,
    UnbalancedTransaction,
    brand_issued,
    check_balanced,
    member_available,
    member_pending,
    program_account,
)


def test_account_names() -> None:
    assert member_available(7) == "member:7:available"
    assert member_pending(7) == "member:7:pending"
    assert brand_issued(3) == "brand:3:issued"
    assert program_account(2, "redeemed") == "program:2:redeemed"
    assert program_account(2, "adjustments") == "program:2:adjustments"


def test_member_accounts_of_different_members_differ() -> None:
    assert member_available(1) != member_available(11)
    assert member_available(1) != member_pending(1)


def test_transaction_kinds_are_stable() -> None:
    # stored in the database and shown in the API: they must not change
    assert {kind.name: kind.value for kind in TxKind} == {
        "EARN": "earn",
        "RELEASE": "release",
        "REVERSE": "reverse",
        "REDEEM": "redeem",
        "REDEMPTION_CANCEL": "redemption_cancel",
        "ADJUST": "adjust",
        "DEBT_SETTLE": "debt_settle",
        "EXPIRE": "expire",
        "SPEND": "spend",
        "SPEND_REFUND": "spend_refund",
        "CAMPAIGN": "campaign",
        "DONATE": "donate",
    }


def test_a_posting_defaults_to_points_without_lot_or_member() -> None:
    posting = Posting("brand:1:issued", -5)
    assert (posting.asset, posting.lot_id, posting.member_id) == (POINTS, None, None)
    assert POINTS == "points"


def test_balanced_postings_pass() -> None:
    # given an award of 100 points from a brand into a member's lot
    postings = [
        Posting(brand_issued(1), -100),
        Posting(member_available(7), 100, lot_id=3, member_id=7),
    ]
    # then they balance
    check_balanced(postings)


def test_no_postings_balance() -> None:
    check_balanced([])


def test_postings_that_do_not_sum_to_zero_are_refused() -> None:
    postings = [Posting(brand_issued(1), -100), Posting(member_available(7), 99)]
    with pytest.raises(UnbalancedTransaction, match=r"\{'points': -1\}"):
        check_balanced(postings)


def test_each_asset_must_balance_on_its_own() -> None:
    # given postings that sum to zero overall but not per asset
    postings = [
        Posting("a", 10, asset="points"),
        Posting("b", -10, asset="stars"),
    ]
    # then they are refused, naming both assets
    with pytest.raises(UnbalancedTransaction) as error:
        check_balanced(postings)
    assert str(error.value) == "postings do not sum to zero: {'points': 10, 'stars': -10}"


def test_several_assets_each_balanced_pass() -> None:
    check_balanced(
        [
            Posting("a", 10, asset="points"),
            Posting("b", -10, asset="points"),
            Posting("a", -3, asset="stars"),
            Posting("c", 1, asset="stars"),
            Posting("d", 2, asset="stars"),
        ]
    )


def test_check_balanced_accepts_any_iterable() -> None:
    check_balanced(Posting("a", amount) for amount in (5, -2, -3))


def test_an_unbalanced_transaction_is_a_value_error() -> None:
    # a programming error, not a domain error: the API must never turn it into a 4xx
    assert issubclass(UnbalancedTransaction, ValueError)


@given(st.lists(st.integers(-(10**12), 10**12), max_size=10), st.sampled_from(["x", "y"]))
def test_adding_the_negated_sum_always_balances(amounts: list[int], asset: str) -> None:
    postings = [Posting(f"acct:{i}", amount, asset) for i, amount in enumerate(amounts)]
    total = sum(amounts)
    if total != 0:
        with pytest.raises(UnbalancedTransaction):
            check_balanced(postings)
    check_balanced([*postings, Posting("other", -total, asset)])
