"""Audit events: small named dataclasses serialised to the append-only case_events table.

Every change to a case writes its event in the same transaction as the change itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import CaseEvent


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Event:
    kind: ClassVar[str] = "event"

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CaseOpened(Event):
    kind: ClassVar[str] = "case_opened"
    channel: str


@dataclass(frozen=True)
class Assigned(Event):
    kind: ClassVar[str] = "assigned"
    assignee: str | None
    previous: str | None


@dataclass(frozen=True)
class NoteAdded(Event):
    kind: ClassVar[str] = "note_added"
    note: str


@dataclass(frozen=True)
class FixRecorded(Event):
    kind: ClassVar[str] = "fix_recorded"
    succeeded: bool | None
    note: str = ""


@dataclass(frozen=True)
class DecisionRecorded(Event):
    kind: ClassVar[str] = "decision_recorded"
    outcome: str
    amount_cents: int
    exception: bool
    policy_version: str = ""
    recommended_outcome: str = ""


@dataclass(frozen=True)
class ExceptionApproved(Event):
    kind: ClassVar[str] = "exception_approved"
    decision_id: int
    note: str


@dataclass(frozen=True)
class ExceptionRejected(Event):
    kind: ClassVar[str] = "exception_rejected"
    decision_id: int
    note: str


@dataclass(frozen=True)
class CaseReopened(Event):
    kind: ClassVar[str] = "case_reopened"
    decision_id: int  # the decision superseded (kept, not deleted)
    reason: str


@dataclass(frozen=True)
class AccessRefused(Event):
    kind: ClassVar[str] = "access_refused"
    action: str
    role: str | None
    detail: str = ""


@dataclass(frozen=True)
class UserChanged(Event):
    kind: ClassVar[str] = "user_changed"
    email: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportCompleted(Event):
    kind: ClassVar[str] = "import_completed"
    file_name: str
    kind_of_rows: str
    rows: int
    inserted: int
    skipped: int


def record(
    session: Session,
    event: Event,
    *,
    actor: str,
    actor_id: int | None = None,
    case_id: int | None = None,
    at: datetime | None = None,
    idempotency_key: str | None = None,
) -> CaseEvent:
    """Add an event to the session; the caller's transaction commits it with the change it records."""
    row = CaseEvent(
        case_id=case_id,
        actor_id=actor_id,
        actor=actor,
        at=at or utcnow(),
        kind=event.kind,
        payload=event.payload(),
        idempotency_key=idempotency_key,
    )
    session.add(row)
    return row


def timeline(session: Session, case_id: int) -> list[CaseEvent]:
    """A case's events, newest first."""
    return list(
        session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
        )
    )
