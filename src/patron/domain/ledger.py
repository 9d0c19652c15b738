"""Double-entry postings and the names of ledger accounts.

A ledger transaction is a list of postings that sums to zero for each asset. Member
accounts hold points in lots; system accounts (issued, redeemed, adjustments) are the
other side of every movement and carry no lots.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

POINTS = "points"
#: Store credit (cashback): money in minor units of the program's currency, a second asset
#: in the same ledger. Never converted to or from points.
STORE_CREDIT = "store_credit"


class TxKind(StrEnum):
    """Why points moved. Stable values: they are stored and shown in the API."""

    EARN = "earn"
    RELEASE = "release"
    REVERSE = "reverse"
    REDEEM = "redeem"
    REDEMPTION_CANCEL = "redemption_cancel"
    ADJUST = "adjust"
    DEBT_SETTLE = "debt_settle"
    EXPIRE = "expire"
    SPEND = "spend"
    SPEND_REFUND = "spend_refund"
    #: Points a campaign gives (birthday, anniversary, welcome, win-back, appreciation).
    CAMPAIGN = "campaign"
    DONATE = "donate"


def member_available(member_id: int) -> str:
    return f"member:{member_id}:available"


def member_pending(member_id: int) -> str:
    return f"member:{member_id}:pending"


def brand_issued(brand_id: int) -> str:
    return f"brand:{brand_id}:issued"


def brand_credit_issued(brand_id: int) -> str:
    """Where a brand's store credit comes from (the brand funds the cashback it gives)."""
    return f"brand:{brand_id}:credit_issued"


def program_account(program_id: int, purpose: str) -> str:
    """A program-wide system account: `redeemed`, `adjustments`, ..."""
    return f"program:{program_id}:{purpose}"


def program_donated(program_id: int) -> str:
    """Where points donated to charity go (the donations table says to which charity)."""
    return program_account(program_id, "donated")


@dataclass(frozen=True, slots=True)
class Posting:
    """`amount` of `asset` into `account` (negative: out of it), optionally on one lot."""

    account: str
    amount: int
    asset: str = POINTS
    lot_id: int | None = None
    member_id: int | None = None


class UnbalancedTransaction(ValueError):
    """A programming error: postings that do not sum to zero must never be written."""


def check_balanced(postings: Iterable[Posting]) -> None:
    """Raise UnbalancedTransaction unless the postings sum to zero for every asset."""
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        totals[posting.asset] += posting.amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    if unbalanced:
        raise UnbalancedTransaction(f"postings do not sum to zero: {unbalanced}")
