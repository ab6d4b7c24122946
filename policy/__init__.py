"""Refund Desk's policy engine: facts in, verdict out. Pure: stdlib only, no I/O in the rules, no clock.

book = load_book()                       # every version in policy/versions/
verdict = evaluate(facts_from_dict(d), book)
verdict.recommended_outcome, verdict.allowed_outcomes, verdict.findings
"""

from .book import (
    DEFAULT_POLICY_DIR,
    PolicyBook,
    PolicyVersion,
    Quote,
    cited_texts,
    diff_versions,
    load_book,
    restate_window,
)
from .errors import InvalidFacts, NoPolicyInForce, PolicyError
from .facts import Facts, Subscription, facts_from_dict, facts_to_dict
from .reply import draft_reply
from .rules import RULES, Rule, evaluate
from .verdict import AmountBounds, Bound, Finding, Verdict, check_amount
from .vocabulary import (
    CYCLE_LABELS,
    CYCLES,
    MONEY_OUTCOMES,
    OUTCOME_LABELS,
    OUTCOMES,
    REASON_LABELS,
    REASONS,
    SERVICE_STATUSES,
    SERVICE_TYPE_LABELS,
    SERVICE_TYPES,
    STATUS_LABELS,
)

__all__ = [
    "CYCLES",
    "CYCLE_LABELS",
    "DEFAULT_POLICY_DIR",
    "MONEY_OUTCOMES",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "REASONS",
    "REASON_LABELS",
    "RULES",
    "SERVICE_STATUSES",
    "SERVICE_TYPES",
    "SERVICE_TYPE_LABELS",
    "STATUS_LABELS",
    "AmountBounds",
    "Bound",
    "Facts",
    "Finding",
    "InvalidFacts",
    "NoPolicyInForce",
    "PolicyBook",
    "PolicyError",
    "PolicyVersion",
    "Quote",
    "Rule",
    "Subscription",
    "Verdict",
    "check_amount",
    "cited_texts",
    "diff_versions",
    "draft_reply",
    "evaluate",
    "facts_from_dict",
    "facts_to_dict",
    "load_book",
    "restate_window",
]
