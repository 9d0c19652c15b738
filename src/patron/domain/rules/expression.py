"""CEL conditions: compiled once per rule version, run against one context per event.

An expression sees exactly two variables:

* `event`: the event payload's fields, plus these facts (which win over payload fields of
  the same name): `trigger`, `type` (the custom event type, else the trigger), `brand`,
  `channel`, `occurred_at` (a CEL timestamp) and, for orders, `eligible`, `base_points`,
  `first_order`, `total`.
* `member`: the member's `attributes`, plus `tags` and `segments` (lists) and `tier`
  (string or null).

Turning Python values into CEL values is the costly part of running an expression (a few
microseconds per value, far more than evaluating it), so the context holds only the
top-level fields the expressions read, found by scanning their source at compile time;
a variable used other than as `event.field` (e.g. `event["x"]`, `size(member)`) is passed
whole. Leaving out a field nobody names cannot change a result: a missing field errs the
same way whether or not other fields are present.

At compile time a syntax error, or a variable that is neither `event`, `member` nor bound
by a comprehension macro (`x.exists(t, ...)`), is refused. The binder check is textual: a
binder name used outside its comprehension passes it, and fails at event time instead.
At event time an error or a non-bool result means "no match", with the reason; never an
exception.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cel

from patron.domain.errors import InvalidInput
from patron.domain.rules.facts import EventFacts, MemberFacts, OrderFacts
from patron.domain.rules.view import EventView

_VARIABLES = frozenset({"event", "member"})
#: CEL macros whose first argument binds a variable (cel-rust spells both exists_one forms).
_MACROS = frozenset({"all", "exists", "exists_one", "existsOne", "map", "filter"})

# String and bytes literals (raw ones have no escapes) and // comments, so that names inside
# them are not taken for references. One alternation, scanned left to right, so a "//"
# inside a string stays part of the string.
_LITERALS = re.compile(
    r"""(?<![A-Za-z0-9_])(?:[bB]?[rR]|[rR][bB])"""
    r"""(?:\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''|"[^"\n]*"|'[^'\n]*')"""
    r"""|(?<![A-Za-z0-9_])[bB]?"""
    r"""(?:\"\"\"(?:\\[\s\S]|[^\\])*?\"\"\"|'''(?:\\[\s\S]|[^\\])*?'''"""
    r"""|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*')"""
    r"""|//[^\n]*"""
)
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|\S")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")


@dataclass(frozen=True, slots=True)
class CompiledExpression:
    """A compiled CEL condition and the top-level fields of `event`/`member` it reads.

    `*_whole` means the variable is used other than through named fields and is passed
    entire; otherwise only `*_fields` are passed (none: the variable is not passed).
    """

    source: str
    program: cel.Program
    event_fields: frozenset[str]
    event_whole: bool
    member_fields: frozenset[str]
    member_whole: bool


def compile_expression(source: str, *, field: str = "conditions.expression") -> CompiledExpression:
    """Compile `source`; InvalidInput naming `field` for a syntax error (with its line and
    column) or a variable other than `event` and `member`."""
    if not isinstance(source, str) or not source.strip():
        raise InvalidInput("must be a non-empty CEL expression", field=field)
    try:
        program = cel.compile(source)
    except ValueError as error:
        raise InvalidInput(_syntax_message(str(error)), field=field) from error
    tokens = _TOKEN.findall(_LITERALS.sub(' "" ', source))
    unknown = sorted(set(program.variables()) - _VARIABLES - _binders(tokens))
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        raise InvalidInput(
            f"unknown variable {names}: an expression may use only event and member",
            field=field,
        )
    event_fields, event_whole = _fields_read(tokens, "event")
    member_fields, member_whole = _fields_read(tokens, "member")
    return CompiledExpression(
        source, program, event_fields, event_whole, member_fields, member_whole
    )


def _syntax_message(message: str) -> str:
    # cel reports "ERROR: <input>:LINE:COL: Syntax error: ..." then the line and a caret;
    # one line with the first error and its position is what an API client can show.
    match = _POSITION.search(message)
    if match is None:
        return f"invalid expression: {message.splitlines()[0] if message else 'unparsable'}"
    line, column, what = match.groups()
    return f"invalid expression at line {line}, column {column}: {what}"


def _binders(tokens: list[str]) -> set[str]:
    """Names bound by comprehension macros: `t` in `.exists(t, ...)`."""
    bound = set()
    for index in range(1, len(tokens) - 3):
        if (
            tokens[index] in _MACROS
            and tokens[index - 1] == "."
            and tokens[index + 1] == "("
            and tokens[index + 3] == ","
            and _IDENT.fullmatch(tokens[index + 2])
        ):
            bound.add(tokens[index + 2])
    return bound


def _fields_read(tokens: list[str], variable: str) -> tuple[frozenset[str], bool]:
    """The fields of `variable` read as `variable.field`, and whether it is used whole."""
    fields = set()
    whole = False
    for index, token in enumerate(tokens):
        if token != variable or (index > 0 and tokens[index - 1] == "."):
            continue  # not this variable, or a field of something else that has its name
        after = tokens[index + 1 : index + 4]
        if (
            len(after) >= 2
            and after[0] == "."
            and _IDENT.fullmatch(after[1])
            and (len(after) < 3 or after[2] != "(")  # event.size() is a call on the map
        ):
            fields.add(after[1])
        else:
            whole = True
    return frozenset(fields), whole


@dataclass(frozen=True, slots=True)
class CelNeeds:
    """What the CEL context of an event must hold for a set of expressions: the names of
    the `event` and `member` fields read (None: the variable whole), or no such variable."""

    uses_event: bool
    event_fields: tuple[str, ...] | None
    uses_member: bool
    member_fields: tuple[str, ...] | None


def cel_needs(expressions: Sequence[CompiledExpression]) -> CelNeeds | None:
    """The union of what `expressions` read; None when there are none."""
    if not expressions:
        return None
    event_fields = sorted(set().union(*(e.event_fields for e in expressions)))
    member_fields = sorted(set().union(*(e.member_fields for e in expressions)))
    event_whole = any(e.event_whole for e in expressions)
    member_whole = any(e.member_whole for e in expressions)
    return CelNeeds(
        uses_event=event_whole or bool(event_fields),
        event_fields=None if event_whole else tuple(event_fields),
        uses_member=member_whole or bool(member_fields),
        member_fields=None if member_whole else tuple(member_fields),
    )


def run_expression(expression: CompiledExpression, view: EventView) -> str | None:
    """None if the expression holds for the event, else why not (never raises)."""
    context = view.cel_context
    if context is None:
        if view.cel_error is not None:
            return view.cel_error
        try:
            context = view.cel_context = cel.Context(_variables(view))
        except Exception as error:  # a payload value CEL has no type for
            view.cel_error = f"conditions.expression: error: {_error_text(error)}"
            return view.cel_error
    try:
        result = expression.program.execute(context)
    except Exception as error:  # any failure of a tenant's expression is "no match"
        return f"conditions.expression: error: {_error_text(error)}"
    if result is True:
        return None
    if result is False:
        return "conditions.expression: false"
    return f"conditions.expression: result is {type(result).__name__}, not bool"


def _error_text(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"no such key {error.args[0]!r}" if error.args else "no such key"
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    # cel appends advice after the first sentence; the reason keeps what went wrong.
    head, _, _ = text.partition(". ")
    return head[:200]


# The facts an expression sees in `event` besides the payload's fields (they win).
_EVENT_FACTS: dict[str, Callable[[EventFacts], Any]] = {
    "trigger": lambda event: event.trigger.value,
    "type": lambda event: event.event_type or event.trigger.value,
    "brand": lambda event: event.brand,
    "channel": lambda event: event.channel,
    "occurred_at": lambda event: event.occurred_at,
}
_ORDER_FACTS: dict[str, Callable[[OrderFacts], Any]] = {
    "eligible": lambda order: order.eligible,
    "base_points": lambda order: order.base_points,
    "first_order": lambda order: order.first_order,
    "total": lambda order: order.total,
}
_MEMBER_FACTS: dict[str, Callable[[MemberFacts], Any]] = {
    "tags": lambda member: list(member.tags),
    "tier": lambda member: member.tier,
    "segments": lambda member: list(member.segments),
}


def _variables(view: EventView) -> dict[str, Any]:
    """The CEL variables every expression of the event's rules reads, built once."""
    needs = view.cel_needs
    variables: dict[str, Any] = {}
    if needs is not None and needs.uses_event:
        variables["event"] = _event_variable(view.event, view.order, needs.event_fields)
    if needs is not None and needs.uses_member:
        variables["member"] = _member_variable(view.member, needs.member_fields)
    return variables


def _event_variable(
    event: EventFacts, order: OrderFacts | None, fields: tuple[str, ...] | None
) -> dict[str, Any]:
    payload = event.payload
    if fields is None:
        value = dict(payload)
        value.update((name, get(event)) for name, get in _EVENT_FACTS.items())
        if order is not None:
            value.update((name, get(order)) for name, get in _ORDER_FACTS.items())
        return value
    value = {}
    for name in fields:
        get = _EVENT_FACTS.get(name)
        if get is not None:
            value[name] = get(event)
        elif order is not None and name in _ORDER_FACTS:
            value[name] = _ORDER_FACTS[name](order)
        elif name in payload:
            value[name] = payload[name]
    return value


def _member_variable(member: MemberFacts, fields: tuple[str, ...] | None) -> dict[str, Any]:
    attributes = member.attributes
    if fields is None:
        value = dict(attributes)
        value.update((name, get(member)) for name, get in _MEMBER_FACTS.items())
        return value
    value = {}
    for name in fields:
        get = _MEMBER_FACTS.get(name)
        if get is not None:
            value[name] = get(member)
        elif name in attributes:
            value[name] = attributes[name]
    return value
