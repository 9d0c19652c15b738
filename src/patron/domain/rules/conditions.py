"""Conditions compiled into small checks, each returning None (holds) or a reason.

Only the conditions a rule sets become checks, so a rule with none costs nothing to test.
The order conditions (line filter, minimum subtotal) and the CEL expression are not checks
here: they need the eligible amount of the matching lines, computed once per rule by
`evaluate`, and CEL is the costliest, so it runs last.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from patron.domain.errors import InvalidInput
from patron.domain.money import MAX_AMOUNT
from patron.domain.rules.facts import LineFacts
from patron.domain.rules.model import Conditions, LineFilter, Trigger
from patron.domain.rules.view import EventView

#: A compiled condition: None if it holds for the event, else the reason it does not.
Check = Callable[[EventView], str | None]


@dataclass(frozen=True, slots=True)
class CompiledLineFilter:
    """A line filter as sets; `every` when the filter names nothing (every line matches)."""

    skus: frozenset[str]
    categories: frozenset[str]
    tags: frozenset[str]
    every: bool

    def amount(self, lines: Sequence[LineFacts]) -> int | None:
        """The eligible amount of the matching lines; None if no line matches."""
        if self.every:
            return sum(line.eligible for line in lines) if lines else None
        skus, categories, tags = self.skus, self.categories, self.tags
        total = 0
        matched = False
        for line in lines:
            # An empty set is skipped before its lookup: this runs per line, rule and event.
            if (
                (skus and line.sku in skus)
                or (categories and line.category in categories)
                or (tags and line.tags and not tags.isdisjoint(line.tags))
            ):
                total += line.eligible
                matched = True
        return total if matched else None


def compile_line_filter(line_filter: LineFilter) -> CompiledLineFilter:
    """Check the filter's names (InvalidInput naming `conditions.lines.*`) and make sets."""
    for name in ("skus", "categories", "tags"):
        _check_names(getattr(line_filter, name), f"conditions.lines.{name}")
    every = not (line_filter.skus or line_filter.categories or line_filter.tags)
    return CompiledLineFilter(
        frozenset(line_filter.skus),
        frozenset(line_filter.categories),
        frozenset(line_filter.tags),
        every,
    )


def check_order_conditions(conditions: Conditions, trigger: Trigger) -> None:
    """Refuse order conditions on other triggers and a bad minimum subtotal."""
    if trigger is not Trigger.ORDER_PAID:
        for name in ("min_subtotal", "lines", "first_order"):
            if getattr(conditions, name) is not None:
                raise InvalidInput(
                    f"applies only to {Trigger.ORDER_PAID} rules", field=f"conditions.{name}"
                )
    minimum = conditions.min_subtotal
    if minimum is not None and (
        not isinstance(minimum, int) or isinstance(minimum, bool) or not 0 <= minimum <= MAX_AMOUNT
    ):
        raise InvalidInput(
            f"must be an amount from 0 to {MAX_AMOUNT} minor units",
            field="conditions.min_subtotal",
        )


def compile_checks(conditions: Conditions) -> list[Check]:
    """The checks for the event and member conditions that are set, in reason order."""
    checks: list[Check] = []
    for name in ("brands", "channels", "member_tags", "tiers", "segments"):
        _check_names(getattr(conditions, name), f"conditions.{name}")
    if conditions.brands:
        checks.append(_brands(conditions.brands))
    if conditions.channels:
        checks.append(_channels(conditions.channels))
    if conditions.first_order is not None:
        checks.append(_first_order(conditions.first_order))
    if conditions.member_tags:
        checks.append(_member_tags(conditions.member_tags))
    if conditions.tiers:
        checks.append(_tiers(conditions.tiers))
    if conditions.segments:
        checks.append(_segments(conditions.segments))
    return checks


def _check_names(names: tuple[str, ...], field: str) -> None:
    if isinstance(names, str):  # ("vip") is a str, not a tuple: a classic slip
        raise InvalidInput("must be a list of names, not one string", field=field)
    for index, name in enumerate(names):
        if not isinstance(name, str) or not name:
            raise InvalidInput("must be a non-empty string", field=f"{field}.{index}")


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def _brands(brands: tuple[str, ...]) -> Check:
    wanted, listed = frozenset(brands), _listed(brands)

    def check(view: EventView) -> str | None:
        brand = view.event.brand
        if brand in wanted:
            return None
        return f"conditions.brands: brand {brand!r} is not one of {listed}"

    return check


def _channels(channels: tuple[str, ...]) -> Check:
    wanted, listed = frozenset(channels), _listed(channels)

    def check(view: EventView) -> str | None:
        channel = view.event.channel
        if channel in wanted:
            return None
        if channel is None:
            return f"conditions.channels: the event has no channel (needs {listed})"
        return f"conditions.channels: channel {channel!r} is not one of {listed}"

    return check


def _first_order(first_order: bool) -> Check:
    def check(view: EventView) -> str | None:
        order = view.order
        if order is not None and order.first_order == first_order:
            return None
        if first_order:
            return "conditions.first_order: not the member's first order"
        return "conditions.first_order: the member's first order"

    return check


def _member_tags(tags: tuple[str, ...]) -> Check:
    wanted, listed = frozenset(tags), _listed(tags)

    def check(view: EventView) -> str | None:
        if not wanted.isdisjoint(view.member.tags):
            return None
        return f"conditions.member_tags: member has none of {listed}"

    return check


def _tiers(tiers: tuple[str, ...]) -> Check:
    wanted, listed = frozenset(tiers), _listed(tiers)

    def check(view: EventView) -> str | None:
        tier = view.member.tier
        if tier in wanted:
            return None
        if tier is None:
            return f"conditions.tiers: member has no tier (needs {listed})"
        return f"conditions.tiers: tier {tier!r} is not one of {listed}"

    return check


def _segments(segments: tuple[str, ...]) -> Check:
    wanted, listed = frozenset(segments), _listed(segments)

    def check(view: EventView) -> str | None:
        if not wanted.isdisjoint(view.member.segments):
            return None
        return f"conditions.segments: member is in none of {listed}"

    return check
