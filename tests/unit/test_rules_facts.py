"""Earning rules: the facts a caller builds are checked for programming errors."""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction

import pytest

from patron.domain.rules import EventFacts, MemberFacts, Trigger
from tests.unit.test_rules_helpers import T0


def test_a_trigger_read_from_storage_becomes_the_enum() -> None:
    facts = EventFacts("signup", None, T0, "main")  # type: ignore[arg-type]
    assert facts.trigger is Trigger.SIGNUP


def test_an_event_needs_an_aware_instant() -> None:
    with pytest.raises(ValueError, match="aware"):
        EventFacts(Trigger.SIGNUP, None, datetime(2026, 3, 4, 12), "main")


def test_a_paid_order_event_carries_its_order() -> None:
    with pytest.raises(ValueError, match="order"):
        EventFacts(Trigger.ORDER_PAID, None, T0, "main")


def test_member_multipliers_are_not_negative() -> None:
    with pytest.raises(ValueError, match="negative"):
        MemberFacts(tier_multiplier=Fraction(-1))
