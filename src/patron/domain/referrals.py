"""Referrals: the policy, code and identity normalisation, the fraud checks and the
referral's state machine. Pure: the service gathers the facts, this module decides.

A referral links an advocate (the member whose code was used) and a friend (the member
who used it). The friend is rewarded at once unless a fraud check fires (then the
referral is `held` for an admin); the advocate is rewarded when the friend's first
qualifying order has passed the return window without a refund.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from patron.domain.codes import ALPHABET, new_code
from patron.domain.errors import InvalidInput

CODE_SYMBOLS = 8

#: Providers that deliver `local+anything@` (or `local-anything@` for Yahoo) to `local@`.
PLUS_TAG_PROVIDERS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "fastmail.com",
        "fastmail.fm",
        "protonmail.com",
        "proton.me",
        "pm.me",
    }
)
DASH_TAG_PROVIDERS = frozenset({"yahoo.com", "ymail.com", "rocketmail.com"})
#: Providers that ignore dots in the local part (and treat googlemail.com as gmail.com).
DOTLESS_PROVIDERS = frozenset({"gmail.com", "googlemail.com"})


class Status(StrEnum):
    PENDING = "pending"  # friend enrolled, no qualifying order yet
    QUALIFYING = "qualifying"  # first qualifying order inside its return window
    HELD = "held"  # a fraud check fired: waits for an admin
    REWARDED = "rewarded"  # the advocate was rewarded
    REJECTED = "rejected"  # by an admin, or by an advocate's reward limit
    VOID = "void"  # order refunded inside the window, or the advocate was blocked


#: The moves the state machine allows (anything else is a 409).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.PENDING: frozenset({Status.QUALIFYING, Status.REJECTED, Status.VOID}),
    Status.QUALIFYING: frozenset({Status.REWARDED, Status.REJECTED, Status.VOID}),
    Status.HELD: frozenset({Status.PENDING, Status.REJECTED}),
    Status.REWARDED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.VOID: frozenset(),
}


def can_move(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


class Check(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    ADDRESS = "address"
    IP = "ip"
    DEVICE = "device"
    VELOCITY = "velocity"
    ALREADY_CUSTOMER = "already_customer"


@dataclass(frozen=True, slots=True)
class Finding:
    """A fraud check that fired, and why (kept on the referral for review)."""

    check: Check
    reason: str

    def as_json(self) -> dict[str, str]:
        return {"check": self.check.value, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Reward:
    """Points, or a catalogue reward (its code) granted without points."""

    points: int = 0
    reward_code: str | None = None

    def __post_init__(self) -> None:
        if (self.points > 0) == (self.reward_code is not None) or self.points < 0:
            raise InvalidInput("a reward is either positive points or a reward_code")

    def as_json(self) -> dict[str, Any]:
        return {"points": self.points, "reward_code": self.reward_code}


@dataclass(frozen=True, slots=True)
class Checks:
    """Which fraud checks run; velocity is the most friends an advocate may bring in a
    day (in the program's time zone), None for no limit."""

    email: bool = True
    phone: bool = True
    address: bool = True
    ip: bool = True
    device: bool = True
    already_customer: bool = True
    velocity_per_day: int | None = None


@dataclass(frozen=True, slots=True)
class ReferralPolicy:
    """A program's referral policy (stored as JSON in `programs.referral_policy`)."""

    base_url: str
    friend_reward: Reward | None = None
    advocate_reward: Reward | None = None
    #: The smallest order total (minor units, program currency) that qualifies.
    min_order_amount: int = 0
    checks: Checks = field(default_factory=Checks)
    #: Advocate rewards per advocate per calendar month / in total (None: no limit).
    max_per_month: int | None = None
    max_total: int | None = None

    def __post_init__(self) -> None:
        if self.min_order_amount < 0:
            raise InvalidInput("must not be negative", field="min_order.amount")
        for name, value in (
            ("limits.per_month", self.max_per_month),
            ("limits.total", self.max_total),
        ):
            if value is not None and value < 0:
                raise InvalidInput("must not be negative", field=name)
        velocity = self.checks.velocity_per_day
        if velocity is not None and velocity < 1:
            raise InvalidInput("must be at least 1", field="checks.velocity_per_day")

    def link(self, code: str) -> str:
        separator = "&" if "?" in self.base_url else "?"
        return f"{self.base_url}{separator}ref={code}"

    def as_json(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "friend_reward": self.friend_reward.as_json() if self.friend_reward else None,
            "advocate_reward": self.advocate_reward.as_json() if self.advocate_reward else None,
            "min_order_amount": self.min_order_amount,
            "checks": asdict(self.checks),
            "max_per_month": self.max_per_month,
            "max_total": self.max_total,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReferralPolicy:
        def reward(value: dict[str, Any] | None) -> Reward | None:
            return Reward(**value) if value else None

        return cls(
            base_url=data["base_url"],
            friend_reward=reward(data.get("friend_reward")),
            advocate_reward=reward(data.get("advocate_reward")),
            min_order_amount=data.get("min_order_amount", 0),
            checks=Checks(**data.get("checks", {})),
            max_per_month=data.get("max_per_month"),
            max_total=data.get("max_total"),
        )


# --- codes -------------------------------------------------------------------------------


def new_referral_code() -> str:
    """A random code like `K7QX-9M2P` (40 bits from an alphabet without 0/O, 1/I/L)."""
    body = new_code(length=CODE_SYMBOLS)
    return f"{body[:4]}-{body[4:]}"


def normalise_code(raw: str) -> str | None:
    """The canonical form of a code as typed (case, spaces and dashes ignored, O/I/L read
    as 0/1); None if it cannot be a referral code."""
    symbols = re.sub(r"[\s-]", "", raw.upper()).translate(str.maketrans("OIL", "011"))
    if len(symbols) != CODE_SYMBOLS or any(symbol not in ALPHABET for symbol in symbols):
        return None
    return f"{symbols[:4]}-{symbols[4:]}"


# --- identity normalisation --------------------------------------------------------------


def normalise_email(email: str) -> str:
    """The mailbox an address delivers to: lower case; dots and +tags dropped at Gmail;
    +tags (-tags at Yahoo) dropped at the providers that ignore them."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    if domain in PLUS_TAG_PROVIDERS:
        local = local.split("+", 1)[0]
    if domain in DASH_TAG_PROVIDERS:
        local = local.split("-", 1)[0]
    if domain in DOTLESS_PROVIDERS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_look_alikes(mailbox: str) -> list[str]:
    """SQL LIKE patterns (over lower-cased addresses) that every address normalising to
    `mailbox` matches: same first letter, same domain (or its alias). Not escaped: a `_`
    or `%` in them only widens the candidates, which are compared exactly afterwards."""
    local, _, domain = mailbox.rpartition("@")
    domains = sorted(DOTLESS_PROVIDERS) if domain in DOTLESS_PROVIDERS else [domain]
    return [f"{local[:1]}%@{name}" for name in domains]


def normalise_phone(phone: str) -> str:
    """Digits only (`+1 (555) 010-0200` and `15550100200` are the same phone)."""
    return re.sub(r"\D", "", phone)


ADDRESS_WORDS = {
    "street": "st",
    "str": "st",
    "avenue": "ave",
    "av": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "apartment": "apt",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}


def normalise_address(parts: Iterable[str | None]) -> str:
    """A shipping address as comparable words: lower case, punctuation dropped, common
    street words abbreviated (`12 Main Street, Apt. 3` = `12 main st apt 3`)."""
    words = re.findall(r"[0-9a-z]+", " ".join(part for part in parts if part).lower())
    return " ".join(ADDRESS_WORDS.get(word, word) for word in words)


def normalise_ip(ip: str) -> str:
    return ip.strip().lower()


def normalise_device(device_id: str) -> str:
    return device_id.strip().lower()


# --- fraud checks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Identity:
    """What is known of a member for the checks, all normalised (None/empty: unknown)."""

    email: str | None = None
    phone: str | None = None
    addresses: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything the checks look at, gathered by the service."""

    friend: Identity
    advocate: Identity
    #: Referrals the advocate already has today (program's time zone), this one excluded.
    advocate_referrals_today: int
    #: Why the friend is already a customer (orders before the referral, another member
    #: with the same email or phone), or None.
    already_customer: str | None


def run_checks(checks: Checks, facts: Facts) -> list[Finding]:
    """The checks that fire, each with its reason; an empty list lets the referral pass."""
    friend, advocate = facts.friend, facts.advocate
    findings: list[Finding] = []
    if checks.email and friend.email and friend.email == advocate.email:
        findings.append(Finding(Check.EMAIL, f"same email as the advocate ({friend.email})"))
    if checks.phone and friend.phone and friend.phone == advocate.phone:
        findings.append(Finding(Check.PHONE, f"same phone as the advocate ({friend.phone})"))
    for check, enabled, mine, theirs, what in (
        (Check.ADDRESS, checks.address, friend.addresses, advocate.addresses, "shipping address"),
        (Check.IP, checks.ip, friend.ips, advocate.ips, "IP address"),
        (Check.DEVICE, checks.device, friend.devices, advocate.devices, "device id"),
    ):
        shared = sorted(mine & theirs)
        if enabled and shared:
            findings.append(Finding(check, f"same {what} as the advocate ({shared[0]})"))
    limit = checks.velocity_per_day
    if limit is not None and facts.advocate_referrals_today >= limit:
        findings.append(
            Finding(
                Check.VELOCITY,
                f"the advocate already referred {facts.advocate_referrals_today} friends today"
                f" (limit {limit})",
            )
        )
    if checks.already_customer and facts.already_customer:
        findings.append(Finding(Check.ALREADY_CUSTOMER, facts.already_customer))
    return findings


def limit_reached(policy: ReferralPolicy, this_month: int, total: int) -> str | None:
    """Why the advocate may get no more rewards (None: it may)."""
    if policy.max_total is not None and total >= policy.max_total:
        return f"limit: {total} advocate rewards in total (limit {policy.max_total})"
    if policy.max_per_month is not None and this_month >= policy.max_per_month:
        return f"limit: {this_month} advocate rewards this month (limit {policy.max_per_month})"
    return None
