"""Earning rules: configured (`model`), compiled once per version (`compile_rule`), and
evaluated against an event (`evaluate`). Pure: no I/O, no database, no clock.

See `evaluation.py` for the evaluation and stacking semantics and `expression.py` for what a
CEL condition sees.
"""

from patron.domain.rules.compiler import CompiledRule, compile_rule
from patron.domain.rules.evaluation import (
    Evaluation,
    RuleAward,
    budgeted_rule_ids,
    considered,
    evaluate,
    usage_windows,
)
from patron.domain.rules.facts import (
    EventFacts,
    LineFacts,
    MemberFacts,
    OrderFacts,
    Usage,
    UsageKey,
    UsageWindow,
    Used,
)
from patron.domain.rules.model import (
    Award,
    AwardKind,
    Conditions,
    Limit,
    LineFilter,
    RuleSpec,
    Schedule,
    Stacking,
    Trigger,
)
from patron.domain.rules.ruleset import RuleSet

__all__ = [
    "Award",
    "AwardKind",
    "CompiledRule",
    "Conditions",
    "Evaluation",
    "EventFacts",
    "Limit",
    "LineFacts",
    "LineFilter",
    "MemberFacts",
    "OrderFacts",
    "RuleAward",
    "RuleSet",
    "RuleSpec",
    "Schedule",
    "Stacking",
    "Trigger",
    "Usage",
    "UsageKey",
    "UsageWindow",
    "Used",
    "budgeted_rule_ids",
    "compile_rule",
    "considered",
    "evaluate",
    "usage_windows",
]
