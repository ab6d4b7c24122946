"""Versioned writes to a case and what a user is told about them.

Every change to a case (assignment, note, fix attempt, decision, approval) bumps `cases.version` by one with
`UPDATE ... WHERE id = :id AND version = :seen` and writes exactly one audit event in the same transaction.
So when a write finds the version moved on, the newest `current - seen` versioned events of the case are
exactly what changed since the user opened it; `stale_case` turns them into sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from data.models import Case, CaseEvent, Service, User
from desk.errors import StaleCase
from desk.money import DEFAULT_CURRENCY, format_money
from policy.vocabulary import OUTCOME_LABELS

# The event kinds that go with a version bump (case_opened is version 1; refusals change nothing).
VERSIONED_KINDS = (
    "assigned",
    "note_added",
    "fix_recorded",
    "decision_recorded",
    "exception_approved",
    "exception_rejected",
    "document_added",
    "document_removed",
)
STALE_MESSAGE = "This case changed since you opened it. Nothing was saved; the page now shows the current case."

OUTCOME_WORDS = {outcome: label.lower() for outcome, label in OUTCOME_LABELS.items()}  # inside a sentence


def money(cents: int | None, currency: str) -> str:
    """An amount in its own currency ('€1,234.50'); see desk.money."""
    return format_money(cents, currency)


def user_names(session: Session) -> dict[str, str]:
    """email -> display name (the users table is small)."""
    return {email: name for email, name in session.execute(select(User.email, User.display_name))}


def describe_event(
    kind: str,
    payload: Mapping[str, Any] | None,
    names: Mapping[str, str] | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> str:
    """One plain sentence for an audit event (customer text, e.g. a note, is included verbatim). Amounts are
    shown in the payload's currency, or else in `currency` (the case's: events older than the currency field)."""
    p = dict(payload or {})
    names = names or {}

    def who(email: str | None) -> str:
        return names.get(email or "", email or "nobody")

    if kind == "case_opened":
        return f"Request received by {p.get('channel', 'unknown channel')}"
    if kind == "assigned":
        if p.get("assignee"):
            was = f" (was {who(p['previous'])})" if p.get("previous") else ""
            return f"Assigned to {who(p['assignee'])}{was}"
        return f"Unassigned (was {who(p.get('previous'))})"
    if kind == "note_added":
        return f"Note: {p.get('note', '')}"
    if kind == "fix_recorded":
        result = {True: "succeeded", False: "failed", None: "result pending"}[p.get("succeeded")]
        note = f" — {p['note']}" if p.get("note") else ""
        return f"Fix attempt recorded: {result}{note}"
    if kind == "decision_recorded":
        outcome = OUTCOME_WORDS.get(p.get("outcome", ""), p.get("outcome", "?"))
        amount = f" {money(p.get('amount_cents'), p.get('currency') or currency)}" if p.get("amount_cents") else ""
        exc = " — discretionary exception, awaiting a manager's approval" if p.get("exception") else ""
        return f"Decided: {outcome}{amount}{exc}"
    if kind == "exception_approved":
        return f"Exception approved: {p.get('note', '')}"
    if kind == "case_reopened":
        return f"Reopened by a manager; the earlier decision is superseded: {p.get('reason', '')}"
    if kind == "exception_rejected":
        return f"Exception rejected, case back in the queue: {p.get('note', '')}"
    if kind == "document_added":
        return f"Document added: {p.get('file_name', '')} ({p.get('media_type', '')}, {p.get('size_bytes', 0):,} bytes)"
    if kind == "document_removed":
        return f"Document removed (kept for the audit): {p.get('file_name', '')} — {p.get('reason', '')}"
    if kind == "reply_queued":
        how = "saved to send by hand (no mail server configured)" if p.get("by_hand") else "queued for sending"
        return f"Reply to the customer {how}: {p.get('subject', '')}"
    if kind == "outbox_sent":
        return f"Sent: {p.get('what', '')} (attempt {p.get('attempts', '?')})"
    if kind == "outbox_failed":
        then = "gave up: " if p.get("final") else f"will retry at {p.get('retry_at', '?')} UTC: "
        return f"Delivery failed: {p.get('what', '')}, attempt {p.get('attempts', '?')}; {then}{p.get('error', '')}"
    if kind == "outbox_retried":
        return f"Delivery retried by an admin: {p.get('what', '')}"
    if kind == "reply_template_saved":
        return f"Reply template for {p.get('outcome', '')} saved as version {p.get('version', '')}"
    if kind == "access_refused":
        return f"Refused: {str(p.get('action', '')).replace('_', ' ')} ({p.get('detail', '')})"
    return kind.replace("_", " ").capitalize()


def changes_since(session: Session, case_id: int, seen_version: int, current_version: int) -> list[str]:
    """What happened to a case after version `seen_version`, oldest first, one sentence each."""
    n = current_version - seen_version
    if n <= 0:
        return []
    names = user_names(session)
    currency = case_currency(session, case_id)
    events = session.execute(
        select(CaseEvent.kind, CaseEvent.payload, CaseEvent.actor, CaseEvent.at)
        .where(CaseEvent.case_id == case_id, CaseEvent.kind.in_(VERSIONED_KINDS))
        .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        .limit(n)
    ).all()
    return [
        f"{names.get(actor, actor)}, {at:%d %b %H:%M}: {describe_event(kind, payload, names, currency)}"
        for kind, payload, actor, at in reversed(events)
    ]


def case_currency(session: Session, case_id: int) -> str:
    """The currency of a case: its service's (every amount of the case is in it)."""
    found = session.scalar(select(Service.currency).join(Case, Case.service_id == Service.id).where(Case.id == case_id))
    return found or DEFAULT_CURRENCY


def stale_case(session: Session, case_id: int, seen_version: int) -> StaleCase:
    """The StaleCase error for a write that expected `seen_version`, listing what changed since."""
    row = session.execute(select(Case.version, Case.status).where(Case.id == case_id)).one_or_none()
    if row is None:
        return StaleCase(STALE_MESSAGE, ["The case no longer exists."])
    version, status = row
    changes = changes_since(session, case_id, seen_version, version)
    if not changes:
        changes = [f"The case is now at version {version} (you saw version {seen_version}); status {status}."]
    return StaleCase(STALE_MESSAGE, changes)


def bump(session: Session, case_id: int, seen_version: int | None, **values: Any) -> int:
    """Optimistic concurrency: set `values` and version + 1 if the case is still at `seen_version`
    (None: whatever version it is at). Returns the new version; raises StaleCase if someone else won."""
    table = Case.__table__
    stmt = update(table).where(table.c.id == case_id)
    if seen_version is not None:
        stmt = stmt.where(table.c.version == seen_version)
    stmt = stmt.values(version=table.c.version + 1, **values).returning(table.c.version)
    # Core on the session's connection: the ORM's bulk-update path costs more than the statement itself, and
    # on SQLite this runs while the one write lock is held
    new_version = session.connection().execute(stmt).scalar_one_or_none()
    if new_version is None:
        raise stale_case(session, case_id, seen_version if seen_version is not None else 0)
    return new_version


def event_at(now: datetime | None) -> datetime | None:
    """Naive UTC timestamps, as the audit table stores them."""
    if now is not None and now.tzinfo is not None:
        from datetime import UTC

        return now.astimezone(UTC).replace(tzinfo=None)
    return now
