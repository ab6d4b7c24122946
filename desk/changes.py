"""Versioned writes to a case and what a user is told about them.

Every change to a case (assignment, note, fix attempt, decision, approval) bumps `cases.version` by one with
`UPDATE ... WHERE id = :id AND version = :seen` and writes exactly one audit event in the same transaction.
So when a write finds the version moved on, the newest `current - seen` versioned events of the case are
exactly what changed since the user opened it; `stale_case` turns them into sentences (each event class
in desk.audit describes itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from data.models import Case, CaseEvent, Service, User
from desk import audit
from desk.audit import VERSIONED_KINDS, describe_event
from desk.auth import Actor
from desk.errors import StaleCase
from desk.money import DEFAULT_CURRENCY

STALE_MESSAGE = "This case changed since you opened it. Nothing was saved; the page now shows the current case."


def user_names(session: Session) -> dict[str, str]:
    """email -> display name (the users table is small)."""
    return {email: name for email, name in session.execute(select(User.email, User.display_name))}


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
    table = cast(Table, Case.__table__)
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


def record_change(
    session: Session,
    case_id: int,
    seen_version: int | None,
    event: audit.Event,
    actor: Actor,
    at: datetime | None,
    idempotency_key: str | None,
    **values: Any,
) -> tuple[int, CaseEvent]:
    """The end of every versioned write, in the caller's transaction: set `values` and bump the version if the
    case is still at `seen_version` (StaleCase otherwise), and record the event that says what changed.
    Returns the new version and the event row."""
    version = bump(session, case_id, seen_version, **values)
    row = audit.record(
        session, event, actor=actor.email, actor_id=actor.id, case_id=case_id, at=at, idempotency_key=idempotency_key
    )
    return version, row


def event_at(now: datetime | None) -> datetime | None:
    """Naive UTC timestamps, as the audit table stores them."""
    if now is not None and now.tzinfo is not None:
        from datetime import UTC

        return now.astimezone(UTC).replace(tzinfo=None)
    return now
