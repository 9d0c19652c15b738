"""The referral domain: normalisation, codes, fraud checks, limits, the state machine and
the policy's stored form."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.domain.codes import ALPHABET
from patron.domain.errors import InvalidInput
from patron.domain.referrals import (
    Check,
    Checks,
    Facts,
    Finding,
    Identity,
    ReferralPolicy,
    Reward,
    Status,
    can_move,
    email_look_alikes,
    limit_reached,
    new_referral_code,
    normalise_address,
    normalise_code,
    normalise_email,
    normalise_phone,
    run_checks,
)


@pytest.mark.parametrize(
    ("raw", "mailbox"),
    [
        ("Ann.Lee+shop@Gmail.com", "annlee@gmail.com"),
        ("a.n.n.lee@googlemail.com", "annlee@gmail.com"),
        ("ann+x@outlook.com", "ann@outlook.com"),
        ("ann+x@hotmail.com", "ann@hotmail.com"),
        ("ann.lee+x@icloud.com", "ann.lee@icloud.com"),
        ("ann+x@fastmail.com", "ann@fastmail.com"),
        ("ann+x@protonmail.com", "ann@protonmail.com"),
        ("ann-news@yahoo.com", "ann@yahoo.com"),
        # unknown providers may deliver tags and dots elsewhere: only the case is folded
        ("Ann.Lee+x@Example.com", "ann.lee+x@example.com"),
        ("ann-news@example.com", "ann-news@example.com"),
    ],
)
def test_emails_normalise_to_the_mailbox_they_deliver_to(raw: str, mailbox: str) -> None:
    assert normalise_email(raw) == mailbox


@given(st.emails())
def test_normalising_an_email_twice_changes_nothing(email: str) -> None:
    once = normalise_email(email)
    assert normalise_email(once) == once


def test_phones_and_addresses_normalise() -> None:
    assert normalise_phone("+1 (555) 010-0200") == normalise_phone("15550100200") == "15550100200"
    assert normalise_address(["12 Main Street", "Apt. 3", None, "Springfield"]) == (
        "12 main st apt 3 springfield"
    )
    assert normalise_address(["12 MAIN ST", "apartment 3", "springfield"]) == (
        "12 main st apt 3 springfield"
    )


def test_codes_are_human_friendly_and_typed_loosely() -> None:
    code = new_referral_code()
    assert len(code) == 9 and code[4] == "-"
    assert all(symbol in ALPHABET for symbol in code.replace("-", ""))
    assert normalise_code(code.lower().replace("-", " ")) == code
    assert normalise_code("oool-iiii") == "0001-1111"  # O, I, L read as 0 and 1
    assert normalise_code("ABCD-EFG") is None
    assert normalise_code("ABCD-EFGU") is None  # U is not in the alphabet


def _facts(
    friend: Identity, advocate: Identity, today: int = 0, customer: str | None = None
) -> Facts:
    return Facts(friend, advocate, advocate_referrals_today=today, already_customer=customer)


def test_every_check_fires_with_its_reason() -> None:
    same = Identity(
        email="ann@gmail.com",
        phone="15550100200",
        addresses=frozenset({"12 main st"}),
        ips=frozenset({"203.0.113.7"}),
        devices=frozenset({"dev-1"}),
    )
    findings = run_checks(Checks(velocity_per_day=3), _facts(same, same, 3, "1 order"))
    assert [finding.check for finding in findings] == [
        Check.EMAIL,
        Check.PHONE,
        Check.ADDRESS,
        Check.IP,
        Check.DEVICE,
        Check.VELOCITY,
        Check.ALREADY_CUSTOMER,
    ]
    assert findings[3] == Finding(Check.IP, "same IP address as the advocate (203.0.113.7)")
    # checks that are off never fire
    off = Checks(False, False, False, False, False, False, None)
    assert run_checks(off, _facts(same, same, 99, "1 order")) == []


def test_unknown_identities_never_match() -> None:
    assert run_checks(Checks(), _facts(Identity(), Identity())) == []
    assert run_checks(Checks(velocity_per_day=3), _facts(Identity(), Identity(), today=2)) == []


def test_limits_per_month_and_in_total() -> None:
    policy = ReferralPolicy(base_url="https://x.example", max_per_month=1, max_total=2)
    assert limit_reached(policy, this_month=0, total=1) is None
    assert limit_reached(policy, this_month=1, total=1) == (
        "limit: 1 advocate rewards this month (limit 1)"
    )
    assert limit_reached(policy, this_month=0, total=2) == (
        "limit: 2 advocate rewards in total (limit 2)"
    )
    assert limit_reached(ReferralPolicy(base_url="https://x.example"), 99, 99) is None


def test_the_state_machine() -> None:
    assert can_move(Status.PENDING, Status.QUALIFYING)
    assert can_move(Status.HELD, Status.PENDING)
    assert can_move(Status.QUALIFYING, Status.REWARDED)
    assert not can_move(Status.HELD, Status.REWARDED)
    assert not can_move(Status.PENDING, Status.REWARDED)
    for final in (Status.REWARDED, Status.REJECTED, Status.VOID):
        assert not any(can_move(final, target) for target in Status)


def test_the_policy_round_trips_and_builds_links() -> None:
    policy = ReferralPolicy(
        base_url="https://shop.example/r?src=app",
        friend_reward=Reward(reward_code="welcome"),
        advocate_reward=Reward(points=1000),
        min_order_amount=5000,
        checks=Checks(ip=False, velocity_per_day=3),
        max_per_month=5,
    )
    assert ReferralPolicy.from_json(policy.as_json()) == policy
    assert policy.link("K7QX-9M2P") == "https://shop.example/r?src=app&ref=K7QX-9M2P"
    assert ReferralPolicy(base_url="https://s.example").link("A") == "https://s.example?ref=A"


def test_invalid_policies_and_rewards() -> None:
    with pytest.raises(InvalidInput):
        Reward()
    with pytest.raises(InvalidInput):
        Reward(points=5, reward_code="x")
    with pytest.raises(InvalidInput):
        ReferralPolicy(base_url="https://x.example", min_order_amount=-1)
    with pytest.raises(InvalidInput):
        ReferralPolicy(base_url="https://x.example", checks=Checks(velocity_per_day=0))


def test_look_alike_patterns_cover_every_spelling() -> None:
    assert email_look_alikes("annlee@gmail.com") == ["a%@gmail.com", "a%@googlemail.com"]
    assert email_look_alikes("ann@outlook.com") == ["a%@outlook.com"]
