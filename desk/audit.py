"""Audit events: small named dataclasses serialised to the append-only case_events table.

Every change to a case writes its event in the same transaction as the change itself. Each event class says
what it records (its docstring), whether it bumps the case's version (`bumps_version`) and how it reads as one
plain sentence (`describe`, from the stored payload: old rows may lack newer fields, so it reads with `.get`).
`describe_event` finds the class by the stored `kind`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.models import CaseEvent
from desk.money import DEFAULT_CURRENCY, format_money
from policy.vocabulary import OUTCOME_LABELS

OUTCOME_WORDS = {outcome: label.lower() for outcome, label in OUTCOME_LABELS.items()}  # inside a sentence


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Context:
    """What a sentence needs besides the payload: display names by email, and the case's currency (for
    amounts in events older than their `currency` field)."""

    names: Mapping[str, str] = field(default_factory=dict)
    currency: str = DEFAULT_CURRENCY

    def who(self, email: str | None) -> str:
        return self.names.get(email or "", email or "nobody")

    @staticmethod
    def money(cents: int | None, currency: str) -> str:
        """An amount in its own currency ('€1,234.50'); see desk.money."""
        return format_money(cents, currency)


@dataclass(frozen=True)
class Event:
    """Base of every audit event; `kind` is the value stored in case_events.kind."""

    kind: ClassVar[str] = "event"
    bumps_version: ClassVar[bool] = False  # True: written with a `cases.version + 1` in the same transaction

    def payload(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        """One plain sentence for a stored payload `p` (customer text, e.g. a note, is included verbatim)."""
        return cls.kind.replace("_", " ").capitalize()


@dataclass(frozen=True)
class CaseOpened(Event):
    """A refund request arrived and a case was opened for it (version 1)."""

    kind: ClassVar[str] = "case_opened"
    channel: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Request received by {p.get('channel', 'unknown channel')}"


@dataclass(frozen=True)
class Assigned(Event):
    """A case was given to a reviewer (`assignee`), or taken back (`assignee` None); `previous` held it before."""

    kind: ClassVar[str] = "assigned"
    bumps_version: ClassVar[bool] = True
    assignee: str | None
    previous: str | None

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        if p.get("assignee"):
            was = f" (was {ctx.who(p['previous'])})" if p.get("previous") else ""
            return f"Assigned to {ctx.who(p['assignee'])}{was}"
        return f"Unassigned (was {ctx.who(p.get('previous'))})"


@dataclass(frozen=True)
class NoteAdded(Event):
    """A reviewer wrote a note on the case (shown verbatim)."""

    kind: ClassVar[str] = "note_added"
    bumps_version: ClassVar[bool] = True
    note: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Note: {p.get('note', '')}"


@dataclass(frozen=True)
class FixRecorded(Event):
    """A fix attempt for the customer's problem: `succeeded` True, False, or None while the result is pending."""

    kind: ClassVar[str] = "fix_recorded"
    bumps_version: ClassVar[bool] = True
    succeeded: bool | None
    note: str = ""

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        result = {True: "succeeded", False: "failed", None: "result pending"}[p.get("succeeded")]
        note = f" — {p['note']}" if p.get("note") else ""
        return f"Fix attempt recorded: {result}{note}"


@dataclass(frozen=True)
class DecisionRecorded(Event):
    """A reviewer decided the case: the outcome, the amount granted (in `currency`), whether it is a
    discretionary exception awaiting a manager, and the policy version and recommendation it was made against."""

    kind: ClassVar[str] = "decision_recorded"
    bumps_version: ClassVar[bool] = True
    outcome: str
    amount_cents: int
    exception: bool
    policy_version: str = ""
    recommended_outcome: str = ""
    currency: str = ""  # of amount_cents (the case's); empty in events written before it was recorded

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        outcome = OUTCOME_WORDS.get(p.get("outcome", ""), p.get("outcome", "?"))
        amount = (
            f" {ctx.money(p.get('amount_cents'), p.get('currency') or ctx.currency)}" if p.get("amount_cents") else ""
        )
        exc = " — discretionary exception, awaiting a manager's approval" if p.get("exception") else ""
        return f"Decided: {outcome}{amount}{exc}"


@dataclass(frozen=True)
class ExceptionApproved(Event):
    """A manager approved the discretionary exception of decision `decision_id`."""

    kind: ClassVar[str] = "exception_approved"
    bumps_version: ClassVar[bool] = True
    decision_id: int
    note: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Exception approved: {p.get('note', '')}"


@dataclass(frozen=True)
class ExceptionRejected(Event):
    """A manager rejected the discretionary exception of decision `decision_id`; the case is open again."""

    kind: ClassVar[str] = "exception_rejected"
    bumps_version: ClassVar[bool] = True
    decision_id: int
    note: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Exception rejected, case back in the queue: {p.get('note', '')}"


@dataclass(frozen=True)
class CaseReopened(Event):
    """A manager reopened a decided case; decision `decision_id` is superseded (kept, not deleted)."""

    kind: ClassVar[str] = "case_reopened"
    decision_id: int  # the decision superseded (kept, not deleted)
    reason: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Reopened by a manager; the earlier decision is superseded: {p.get('reason', '')}"


@dataclass(frozen=True)
class AccessRefused(Event):
    """Someone tried an action their role may not take; nothing changed (no version bump)."""

    kind: ClassVar[str] = "access_refused"
    action: str
    role: str | None
    detail: str = ""

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Refused: {str(p.get('action', '')).replace('_', ' ')} ({p.get('detail', '')})"


@dataclass(frozen=True)
class UserChanged(Event):
    """An admin created or changed a staff account; `changes` holds the fields set."""

    kind: ClassVar[str] = "user_changed"
    email: str
    changes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportCompleted(Event):
    """A CSV import finished: how many rows it read, inserted and skipped."""

    kind: ClassVar[str] = "import_completed"
    file_name: str
    kind_of_rows: str
    rows: int
    inserted: int
    skipped: int


@dataclass(frozen=True)
class PolicyDrafted(Event):
    """A draft policy version was started from `based_on`."""

    kind: ClassVar[str] = "policy_drafted"
    version_id: int
    name: str
    based_on: str
    effective_from: str


@dataclass(frozen=True)
class PolicyDraftSaved(Event):
    """A draft policy version was saved (`revision` counts the saves; `content_hash` its text)."""

    kind: ClassVar[str] = "policy_draft_saved"
    version_id: int
    name: str
    revision: int
    content_hash: str


@dataclass(frozen=True)
class PolicyDraftDiscarded(Event):
    """A draft policy version was thrown away before publishing."""

    kind: ClassVar[str] = "policy_draft_discarded"
    version_id: int
    name: str


@dataclass(frozen=True)
class PolicyPublished(Event):
    """A policy version was published; cases requested from `effective_from` on follow it."""

    kind: ClassVar[str] = "policy_published"
    version_id: int
    name: str
    effective_from: str
    content_hash: str
    author_id: int | None


@dataclass(frozen=True)
class PolicyWithdrawn(Event):
    """A published policy version that had not taken effect yet was withdrawn."""

    kind: ClassVar[str] = "policy_withdrawn"
    version_id: int
    name: str
    effective_from: str
    note: str = ""


@dataclass(frozen=True)
class DocumentAdded(Event):
    """A document (receipt, screenshot, email) was attached to the case."""

    kind: ClassVar[str] = "document_added"
    bumps_version: ClassVar[bool] = True
    document_id: int
    file_name: str
    media_type: str
    size_bytes: int
    sha256: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Document added: {p.get('file_name', '')} ({p.get('media_type', '')}, {p.get('size_bytes', 0):,} bytes)"


@dataclass(frozen=True)
class DocumentRemoved(Event):
    """A document was removed from the case view; its row and bytes are kept for the audit."""

    kind: ClassVar[str] = "document_removed"
    bumps_version: ClassVar[bool] = True
    document_id: int
    file_name: str
    reason: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Document removed (kept for the audit): {p.get('file_name', '')} — {p.get('reason', '')}"


@dataclass(frozen=True)
class ReplyTemplateSaved(Event):
    """An admin saved a new version of the customer reply template for an outcome."""

    kind: ClassVar[str] = "reply_template_saved"
    outcome: str
    version: int
    body: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Reply template for {p.get('outcome', '')} saved as version {p.get('version', '')}"


@dataclass(frozen=True)
class ReplyQueued(Event):
    """The reviewer sent the reply: it is in the outbox (kind reply_queued) or kept to send by hand."""

    kind: ClassVar[str] = "reply_queued"
    outbox_id: int
    to: str
    subject: str
    by_hand: bool = False

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        how = "saved to send by hand (no mail server configured)" if p.get("by_hand") else "queued for sending"
        return f"Reply to the customer {how}: {p.get('subject', '')}"


@dataclass(frozen=True)
class OutboxDelivered(Event):
    """The outbox delivered a message (`what` says which) after `attempts` tries."""

    kind: ClassVar[str] = "outbox_sent"
    outbox_id: int
    what: str
    attempts: int

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Sent: {p.get('what', '')} (attempt {p.get('attempts', '?')})"


@dataclass(frozen=True)
class OutboxAttemptFailed(Event):
    """A delivery attempt failed; `final` when the outbox gave up, else it retries at `retry_at`."""

    kind: ClassVar[str] = "outbox_failed"
    outbox_id: int
    what: str
    attempts: int
    error: str
    final: bool
    retry_at: str | None = None

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        then = "gave up: " if p.get("final") else f"will retry at {p.get('retry_at', '?')} UTC: "
        return f"Delivery failed: {p.get('what', '')}, attempt {p.get('attempts', '?')}; {then}{p.get('error', '')}"


@dataclass(frozen=True)
class OutboxRetried(Event):
    """An admin asked the outbox to try a failed delivery again."""

    kind: ClassVar[str] = "outbox_retried"
    outbox_id: int
    what: str

    @classmethod
    def describe(cls, p: Mapping[str, Any], ctx: Context) -> str:
        return f"Delivery retried by an admin: {p.get('what', '')}"


def _subclasses(cls: type[Event]) -> list[type[Event]]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


EVENTS: dict[str, type[Event]] = {cls.kind: cls for cls in _subclasses(Event)}
# The event kinds that go with a version bump (case_opened is version 1; refusals change nothing).
VERSIONED_KINDS = tuple(kind for kind, cls in EVENTS.items() if cls.bumps_version)


def describe_event(
    kind: str,
    payload: Mapping[str, Any] | None,
    names: Mapping[str, str] | None = None,
    currency: str = DEFAULT_CURRENCY,
) -> str:
    """One plain sentence for a stored audit event, by its class's `describe`. Amounts are shown in the
    payload's currency, or else in `currency` (the case's: events older than the currency field)."""
    ctx = Context(names or {}, currency)
    cls = EVENTS.get(kind)
    if cls is None:
        return kind.replace("_", " ").capitalize()
    return cls.describe(dict(payload or {}), ctx)


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
