"""A case's status and the moves between them: the one table every write that touches `cases.status` consults.

    open ──decide──────────────▶ closed
    open ──decide (exception or above the limit)──▶ awaiting_approval
    awaiting_approval ──approve──▶ closed
    awaiting_approval ──reject───▶ open          (the decision is superseded)
    closed ──reopen──▶ open                      (the decision is superseded)

Writes that keep the status (assign, record a fix) say from which statuses they are allowed, with None as
their target. The statuses themselves are data.models.CASE_STATUSES (the column's check constraint).
"""

from __future__ import annotations

from data.models import CASE_STATUSES

OPEN, AWAITING_APPROVAL, CLOSED = CASE_STATUSES
# the status inside a sentence ("This case is awaiting a manager's approval.")
STATUS_WORDS = {OPEN: "open", AWAITING_APPROVAL: "awaiting a manager's approval", CLOSED: "closed"}

# action -> (the statuses it may start from, the status it leaves: None keeps the status)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "decide": (frozenset({OPEN}), CLOSED),
    "decide_for_approval": (frozenset({OPEN}), AWAITING_APPROVAL),
    "approve": (frozenset({AWAITING_APPROVAL}), CLOSED),
    "reject": (frozenset({AWAITING_APPROVAL}), OPEN),
    "reopen": (frozenset({CLOSED}), OPEN),
    "record_fix": (frozenset({OPEN}), None),
    "assign": (frozenset({OPEN, AWAITING_APPROVAL}), None),
}


def allows(action: str, status: str) -> bool:
    """May `action` start from a case in `status`?"""
    return status in TRANSITIONS[action][0]


def target(action: str) -> str | None:
    """The status `action` leaves the case in (None: unchanged)."""
    return TRANSITIONS[action][1]


def words(status: str) -> str:
    """A status as it reads in a sentence."""
    return STATUS_WORDS.get(status, status)
