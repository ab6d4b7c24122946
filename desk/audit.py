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
    currency: str = ""  # of amount_cents (the case's); empty in events written before it was recorded


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


@dataclass(frozen=True)
class PolicyDrafted(Event):
    kind: ClassVar[str] = "policy_drafted"
    version_id: int
    name: str
    based_on: str
    effective_from: str


@dataclass(frozen=True)
class PolicyDraftSaved(Event):
    kind: ClassVar[str] = "policy_draft_saved"
    version_id: int
    name: str
    revision: int
    content_hash: str


@dataclass(frozen=True)
class PolicyDraftDiscarded(Event):
    kind: ClassVar[str] = "policy_draft_discarded"
    version_id: int
    name: str


@dataclass(frozen=True)
class PolicyPublished(Event):
    kind: ClassVar[str] = "policy_published"
    version_id: int
    name: str
    effective_from: str
    content_hash: str
    author_id: int | None


@dataclass(frozen=True)
class PolicyWithdrawn(Event):
    kind: ClassVar[str] = "policy_withdrawn"
    version_id: int
    name: str
    effective_from: str
    note: str = ""


@dataclass(frozen=True)
class DocumentAdded(Event):
    kind: ClassVar[str] = "document_added"
    document_id: int
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class DocumentRemoved(Event):
    kind: ClassVar[str] = "document_removed"
    document_id: int
    file_name: str
    reason: str


@dataclass(frozen=True)
class ReplyTemplateSaved(Event):
    kind: ClassVar[str] = "reply_template_saved"
    outcome: str
    version: int
    body: str


@dataclass(frozen=True)
class ReplyQueued(Event):
    """The reviewer sent the reply: it is in the outbox (kind reply_queued) or kept to send by hand."""

    kind: ClassVar[str] = "reply_queued"
    outbox_id: int
    to: str
    subject: str
    by_hand: bool = False


@dataclass(frozen=True)
class OutboxDelivered(Event):
    kind: ClassVar[str] = "outbox_sent"
    outbox_id: int
    what: str
    attempts: int


@dataclass(frozen=True)
class OutboxAttemptFailed(Event):
    kind: ClassVar[str] = "outbox_failed"
    outbox_id: int
    what: str
    attempts: int
    error: str
    final: bool
    retry_at: str | None = None


@dataclass(frozen=True)
class OutboxRetried(Event):
    kind: ClassVar[str] = "outbox_retried"
    outbox_id: int
    what: str


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
