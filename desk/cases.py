"""One case: everything the case page shows (`case_detail`) and the small changes a reviewer makes to it
(assign, add a note, record a fix attempt). Deciding lives in desk/decisions.py.

Each write re-checks the actor's role in the database, then in one transaction bumps the case version (only
if it is still the version the user saw: StaleCase otherwise) and writes its audit event. An idempotency key
that was used before returns the earlier change instead of writing again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import EFFECTIVE_APPROVAL_STATUSES, Case, CaseEvent, Customer, Decision, Service, User
from desk import audit, status
from desk.auth import PERMISSIONS, Actor, authorize
from desk.changes import event_at, record_change, stale_case
from desk.decisions import default_book, documentation_items, facts_for_case, service_date_of
from desk.errors import InvalidInput, NotFound, StaleCase
from desk.money import MoneyError, format_money
from policy import MONEY_OUTCOMES, Facts, PolicyBook, PolicyError, Verdict, draft_reply, evaluate

MAX_NOTE = 4000


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    name: str
    role: str


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    actor: str
    kind: str
    what: str


@dataclass(frozen=True)
class ServiceView:
    id: int
    external_id: str | None
    service_type: str
    status: str
    price_cents: int
    currency: str
    purchased_on: date
    scheduled_on: date | None
    initiated_on: date | None
    completed_on: date | None
    service_date: date | None  # None: a service not started with neither a schedule nor a purchase day
    cycle: str | None
    cycle_start: date | None
    cycle_end: date | None
    cancelled_on: date | None


@dataclass(frozen=True)
class DecisionView:
    id: int
    outcome: str
    amount_cents: int
    rationale: str
    decided_by: Person | None
    decided_at: datetime
    decided_on: date
    is_exception: bool
    approval_status: str
    approver: Person | None
    approved_at: datetime | None
    approval_note: str | None
    policy_version: str
    recommended_outcome: str
    draft_reply: str | None
    over_limit: bool = False  # above the approval limit of its currency (a manager approves it)

    @property
    def pending(self) -> bool:
        return self.approval_status == "pending"


@dataclass(frozen=True)
class CaseDetail:
    id: int
    version: int
    status: str
    external_id: str | None
    opened_on: date
    channel: str
    reason: str
    description: str
    amount_requested_cents: int
    documentation: list[dict[str, Any]]
    fix_attempted: bool
    fix_succeeded: bool | None
    due_on: date
    decided_on: date | None
    today: date
    assignee: Person | None
    customer_name: str
    customer_email: str
    customer_external_id: str | None
    service: ServiceView
    facts: Facts | None
    facts_problem: str | None
    verdict: Verdict | None
    cited: list[tuple[str, str]]
    window_days: int | None
    timeline: list[TimelineEntry]
    decision: DecisionView | None
    assignable: list[Person] = field(default_factory=list)
    customer_id: int | None = None

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def awaiting_approval(self) -> bool:
        return self.status == "awaiting_approval"

    @property
    def days_left(self) -> int:
        """Days until the internal due date (negative: overdue)."""
        return (self.due_on - self.today).days

    @property
    def age_days(self) -> int:
        return (self.today - self.opened_on).days

    @property
    def checker_params(self) -> dict[str, str]:
        """The facts as query parameters for the policy-checker page (named like the policy's fields)."""
        f = self.facts
        if f is None:
            return {}
        params = {
            "service_type": f.service_type,
            "service_status": f.service_status,
            "service_date": f.service_date.isoformat(),
            "request_date": f.request_date.isoformat(),
            "reason": f.reason,
            "amount_paid": f"{f.amount_paid:.2f}",
            "fix_attempted": str(f.fix_attempted).lower(),
            "documentation_provided": str(f.documentation_provided).lower(),
        }
        if f.fix_succeeded is not None:
            params["fix_succeeded"] = str(f.fix_succeeded).lower()
        if f.subscription is not None:
            params["cycle"] = f.subscription.cycle
            params["cycle_start"] = f.subscription.cycle_start.isoformat()
            params["cycle_end"] = f.subscription.cycle_end.isoformat()
            if f.subscription.cancelled_on is not None:
                params["cancelled_on"] = f.subscription.cancelled_on.isoformat()
        return params


# ---- reading ------------------------------------------------------------------------------------------------


def _person(u: User | None) -> Person | None:
    return Person(u.id, u.email, u.display_name, u.role) if u is not None else None


def assignable_users(session: Session) -> list[Person]:
    """Active reviewers and managers, by name: whom a case can be assigned to."""
    rows = session.scalars(select(User).order_by(User.display_name))
    return [Person(u.id, u.email, u.display_name, u.role) for u in rows if _assignable(u)]


def parse_case_id(raw: object) -> int:
    """A case number from a URL or a form: InvalidInput if it is not one."""
    text = str(raw if raw is not None else "").strip().lstrip("#")
    if not text:
        raise InvalidInput("No case number given.", field="case")
    if not text.isdigit() or not text.isascii() or len(text) > 18:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise InvalidInput(f"{shown!r} is not a case number.", field="case")
    return int(text)


def reply_money(currency: str) -> Callable[[float], str]:
    """How the reply writes a verdict's amount (desk.facts makes it price_cents / 100): in the case's own
    currency, by desk.money."""
    return lambda amount: format_money(round(amount * 100), currency)


def _decision_view(
    s: Session, d: Decision, users: dict[int, User], book: PolicyBook, customer_name: str, currency: str
) -> DecisionView:
    reply = None
    if d.approval_status in EFFECTIVE_APPROVAL_STATUSES:  # shown for the current decision only
        try:
            verdict = Verdict.from_dict(d.verdict)
            amount = d.amount_cents / 100 if d.outcome in MONEY_OUTCOMES else None
            reply = draft_reply(
                verdict, d.outcome, amount, book, customer_name=customer_name, money=reply_money(currency)
            )
        except (PolicyError, MoneyError):
            reply = None
    return DecisionView(
        id=d.id,
        outcome=d.outcome,
        amount_cents=d.amount_cents,
        rationale=d.rationale,
        decided_by=_person(users.get(d.decided_by_id)),
        decided_at=d.decided_at,
        decided_on=d.decided_on,
        is_exception=d.is_exception,
        approval_status=d.approval_status,
        approver=_person(users.get(d.approver_id)) if d.approver_id else None,
        approved_at=d.approved_at,
        approval_note=d.approval_note,
        policy_version=d.policy_version,
        recommended_outcome=d.recommended_outcome,
        draft_reply=reply,
        over_limit=bool(d.over_limit),
    )


def case_detail(db: Database, case_id: int, today: date, *, book: PolicyBook | None = None) -> CaseDetail:
    """Everything the case page shows, read in one session. NotFound if there is no such case."""
    book = book or default_book(db)
    with db.read() as s:
        return read_case_detail(s, case_id, today, book)


def read_case_detail(s: Session, case_id: int, today: date, book: PolicyBook) -> CaseDetail:
    """`case_detail` in the caller's read session (desk.case_page reads the whole page in one): four statements —
    the case with its service and customer, the users, the timeline, the current decision."""
    found = s.execute(
        select(Case, Service, Customer)
        .outerjoin(Service, Service.id == Case.service_id)
        .outerjoin(Customer, Customer.id == Case.customer_id)
        .where(Case.id == case_id)
    ).one_or_none()
    if found is None:
        raise NotFound(f"Case #{case_id} does not exist.")
    case, service, customer = found
    if service is None:
        raise NotFound(f"Service #{case.service_id} does not exist.")
    # every user, by name: the names of the timeline and the decision, and the people a case can be assigned to
    everyone = list(s.scalars(select(User).order_by(User.display_name)))
    users = {u.id: u for u in everyone}
    names = {u.email: u.display_name for u in everyone}
    facts = verdict = None
    problem = None
    try:
        facts = facts_for_case(case, service)
        verdict = evaluate(facts, book)
    except PolicyError as exc:
        problem = str(exc)
    cited = book.cited_texts(verdict) if verdict else []
    window = book.get(verdict.policy_version).window_days if verdict else None
    timeline = [
        TimelineEntry(
            e.at,
            names.get(e.actor, e.actor),
            e.kind,
            audit.describe_event(e.kind, e.payload, names, service.currency),
        )
        for e in audit.timeline(s, case_id)
    ]
    current = s.scalar(
        select(Decision)
        .where(Decision.case_id == case_id, Decision.superseded.is_(False))
        .order_by(Decision.decided_at.desc(), Decision.id.desc())
        .limit(1)
    )
    return CaseDetail(
        id=case.id,
        version=case.version,
        status=case.status,
        external_id=case.external_id,
        opened_on=case.opened_on,
        channel=case.channel,
        reason=case.reason,
        description=case.description or "",
        amount_requested_cents=case.amount_requested_cents,
        documentation=[
            dict(item) if isinstance(item, dict) else {"name": str(item)} for item in documentation_items(case)
        ],
        fix_attempted=bool(case.fix_attempted),
        fix_succeeded=case.fix_succeeded,
        due_on=case.due_on,
        decided_on=case.decided_on,
        today=today,
        assignee=_person(users.get(case.assignee_id)) if case.assignee_id else None,
        customer_name=customer.name if customer else "",
        customer_email=customer.email if customer else "",
        customer_external_id=customer.external_id if customer else None,
        service=ServiceView(
            id=service.id,
            external_id=service.external_id,
            service_type=service.service_type,
            status=service.status,
            price_cents=service.price_cents,
            currency=service.currency,
            purchased_on=service.purchased_on,
            scheduled_on=service.scheduled_on,
            initiated_on=service.initiated_on,
            completed_on=service.completed_on,
            service_date=service_date_of(service),
            cycle=service.cycle,
            cycle_start=service.cycle_start,
            cycle_end=service.cycle_end,
            cancelled_on=service.cancelled_on,
        ),
        facts=facts,
        facts_problem=problem,
        verdict=verdict,
        cited=cited,
        window_days=window,
        timeline=timeline,
        decision=(
            _decision_view(s, current, users, book, customer.name if customer else "", service.currency)
            if current is not None
            else None
        ),
        assignable=[
            Person(u.id, u.email, u.display_name, u.role) for u in everyone if _assignable(u)
        ],  # as assignable_users: active reviewers and managers, by name
        customer_id=case.customer_id,
    )


def _assignable(u: User) -> bool:
    return bool(u.active) and u.role in PERMISSIONS["act_on_case"]


# ---- writing ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseChange:
    case_id: int
    version: int
    event_id: int
    replayed: bool = False


Prepare = Callable[[Session, Case, Actor], tuple[audit.Event, dict[str, Any]]]


def _write(
    db: Database,
    actor_id: int,
    case_id: int,
    seen_version: int | None,
    idempotency_key: str | None,
    now: datetime | None,
    prepare: Prepare,
) -> CaseChange:
    """The shape of every small case write: authorize, lock the case, check the version, validate (prepare
    returns the event and the column values), bump the version and record the event, all in one transaction."""
    actor = authorize(db, actor_id, "act_on_case", case_id=case_id)
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        if idempotency_key:
            earlier = s.execute(
                select(CaseEvent.id, CaseEvent.case_id).where(CaseEvent.idempotency_key == idempotency_key)
            ).one_or_none()
            if earlier is not None:
                if earlier.case_id != case_id:
                    raise InvalidInput("This form was already used for another case; reload the page.")
                version = s.scalar(select(Case.version).where(Case.id == case_id)) or 0
                return CaseChange(case_id, version, earlier.id, replayed=True)
        case = s.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFound(f"Case #{case_id} does not exist.")
        if seen_version is not None and case.version != seen_version:
            raise stale_case(s, case_id, seen_version)
        event, values = prepare(s, case, actor)
        version, row = record_change(s, case_id, case.version, event, actor, at, idempotency_key, **values)
        s.flush()
        return CaseChange(case_id, version, row.id)


def assign(
    db: Database,
    actor_id: int,
    case_id: int,
    assignee_id: int | None,
    seen_version: int | None,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> CaseChange:
    """Assign a case to a reviewer or manager (None: unassign)."""

    def prepare(s: Session, case: Case, actor: Actor):
        if not status.allows("assign", case.status):
            raise InvalidInput("This case is closed; there is nothing left to assign.", field="assignee")
        new = None
        if assignee_id is not None:
            new = s.get(User, assignee_id)
            if new is None or not new.active or new.role not in PERMISSIONS["act_on_case"]:
                raise InvalidInput("Choose an active reviewer or manager.", field="assignee")
        if case.assignee_id == assignee_id:
            who = new.display_name if new is not None else "nobody"
            raise InvalidInput(f"The case is already assigned to {who}.", field="assignee")
        old = s.get(User, case.assignee_id) if case.assignee_id else None
        event = audit.Assigned(assignee=new.email if new else None, previous=old.email if old else None)
        return event, {"assignee_id": assignee_id}

    return _write(db, actor_id, case_id, seen_version, idempotency_key, now, prepare)


def add_note(
    db: Database,
    actor_id: int,
    case_id: int,
    note: str,
    seen_version: int | None = None,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> CaseChange:
    """An internal note on the case (never sent to the customer). Notes are allowed on closed cases too."""
    text = (note or "").strip()
    if not text:
        raise InvalidInput("Write the note first.", field="note")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"Keep the note under {MAX_NOTE:,} characters (it has {len(text):,}).", field="note")

    def prepare(s: Session, case: Case, actor: Actor):
        return audit.NoteAdded(note=text), {}

    return _write(db, actor_id, case_id, seen_version, idempotency_key, now, prepare)


def record_fix(
    db: Database,
    actor_id: int,
    case_id: int,
    succeeded: bool | None,
    note: str,
    seen_version: int | None,
    *,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> CaseChange:
    """Record a fix attempt and its result (None: result still pending). The verdict follows the facts: a failed
    fix of our error allows a partial refund or credit (policy section 1)."""
    if succeeded not in (True, False, None):
        raise InvalidInput("Say whether the fix succeeded, failed, or is still pending.", field="succeeded")
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"Keep the note under {MAX_NOTE:,} characters (it has {len(text):,}).", field="note")

    def prepare(s: Session, case: Case, actor: Actor):
        if not status.allows("record_fix", case.status):
            state = status.words(case.status)
            raise InvalidInput(f"This case is {state}; a fix attempt can no longer change it.", field="succeeded")
        return audit.FixRecorded(succeeded=succeeded, note=text), {"fix_attempted": True, "fix_succeeded": succeeded}

    return _write(db, actor_id, case_id, seen_version, idempotency_key, now, prepare)


@dataclass(frozen=True)
class BulkAssignment:
    assigned: list[int]
    skipped: list[tuple[int, str]]  # (case id, why)


def assign_many(
    db: Database, actor_id: int, items: Iterable[tuple[int, int]], assignee_id: int | None, *, now=None
) -> BulkAssignment:
    """Assign several cases (case id, version seen) at once, each in its own transaction: a case someone else
    changed meanwhile is skipped with the reason, the others are assigned."""
    assigned: list[int] = []
    skipped: list[tuple[int, str]] = []
    for case_id, seen in items:
        try:
            assign(db, actor_id, case_id, assignee_id, seen, now=now)
        except StaleCase as exc:
            skipped.append((case_id, "changed meanwhile: " + "; ".join(exc.changes)))
        except (InvalidInput, NotFound) as exc:
            skipped.append((case_id, str(exc)))
        else:
            assigned.append(case_id)
    return BulkAssignment(assigned, skipped)
