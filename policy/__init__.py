"""Refund Desk's policy engine: facts in, verdict out. Pure: stdlib only, no I/O in the rules, no clock."""

from .errors import InvalidFacts, NoPolicyInForce, PolicyError
from .facts import Facts, Subscription, facts_from_dict, facts_to_dict
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
    "MONEY_OUTCOMES",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "REASONS",
    "REASON_LABELS",
    "SERVICE_STATUSES",
    "SERVICE_TYPES",
    "SERVICE_TYPE_LABELS",
    "STATUS_LABELS",
    "Facts",
    "InvalidFacts",
    "NoPolicyInForce",
    "PolicyError",
    "Subscription",
    "facts_from_dict",
    "facts_to_dict",
]
