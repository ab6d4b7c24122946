"""Deciding a case: the one place that turns a case row into policy facts, evaluates, and writes the decision
with its audit event.

    facts = facts_for_case(case, service)          # also used by the queue (window status) and the case page
    result = decide(db, actor_id, case_id, "partial_refund", 4000, "Fix failed; half the session was lost.",
                    seen_version=3, idempotency_key=key, today=today)
    approve_exception(db, manager_id, result.decision_id, "Agreed: long-standing customer.", today=today)

Every write: `authorize` first (re-reads the role; audits a refusal), then one `BEGIN IMMEDIATE` transaction that
bumps the case version only if it is still the one the user saw (else StaleCase, with what changed), and writes
the decision and its event together. An idempotency key seen before returns the earlier result instead of
writing again (a double click writes one decision and one event).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import Database, rowcount
from data.models import Case, CaseEvent, Decision, Service, User
from desk import audit, status
from desk.auth import authorize
from desk.book import current_book
from desk.changes import case_currency, event_at, record_change, stale_case
from desk.errors import InvalidInput, NotAllowed, NotFound, StaleCase
from desk.facts import SERVICE_FACT_COLUMNS, facts_for_objects
from desk.facts import service_date_of as _service_date_of_row
from desk.limits import limit_for
from desk.money import DEFAULT_CURRENCY, MoneyError, format_money, parse_amount
from desk.outbox import enqueue_billing
from desk.rows import must_get
from policy import (
    MONEY_OUTCOMES,
    OUTCOME_LABELS,
    OUTCOMES,
    Facts,
    PolicyBook,
    PolicyError,
    Verdict,
    check_amount,
    evaluate,
)

MIN_EXCEPTION_RATIONALE = 30
MAX_TEXT = 4000
# A rationale may open with this phrase (the form does not pre-fill it); it does not count towards the
# substance an exception needs.
RATIONALE_TEMPLATE = "Exception because "


def default_book(db: Database | None = None) -> PolicyBook:
    """The book deciding judges by: ``desk.book.current_book(db)``, the one loader of every entry point (the
    versions published in the case database; without a database, those of the configured directory)."""
    return current_book(db)


# ---- case row -> policy facts ------------------------------------------------------------------------------


def service_date_of(service: Any) -> date | None:
    """The policy's service date (see policy.Facts) of a service loaded with the ORM; desk.facts decides it
    (None: a service not started with neither a schedule nor a purchase day)."""
    row = {name: getattr(service, "status" if name == "service_status" else name) for name in SERVICE_FACT_COLUMNS}
    return _service_date_of_row(row)


def documentation_items(case: Any) -> list:
    docs = case.documentation
    if isinstance(docs, str):  # a JSON column read through a raw driver
        docs = json.loads(docs or "[]")
    return list(docs or [])


def facts_for_case(case: Any, service: Any) -> Facts:
    """The policy facts of a case and its service (ORM rows or anything with the same attribute names).

    Delegates to desk.facts, the one mapping shared with the replay and the importer. Raises
    policy.InvalidFacts when the stored data cannot be judged (e.g. a completed service with no completion day).
    """
    return facts_for_objects(case, service)


def verdict_for(case: Any, service: Any, book: PolicyBook | None = None) -> Verdict:
    """The policy verdict for a case (PolicyError if its facts cannot be judged)."""
    return evaluate(facts_for_case(case, service), book or default_book())


# ---- results -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionResult:
    decision_id: int
    case_id: int
    outcome: str
    amount_cents: int
    is_exception: bool
    approval_status: str
    case_status: str
    case_version: int
    policy_version: str
    recommended_outcome: str
    replayed: bool = False  # True: this idempotency key was seen before; nothing new was written
    currency: str = DEFAULT_CURRENCY  # of the case's service: amount_cents is in its minor units
    over_limit: bool = False  # above the approval limit of its currency: a manager approves it

    @property
    def message(self) -> str:
        label = OUTCOME_LABELS[self.outcome]
        amount = f" of {format_money(self.amount_cents, self.currency)}" if self.outcome in MONEY_OUTCOMES else ""
        if self.approval_status == "pending" and self.over_limit and not self.is_exception:
            return f"Decision saved: {label}{amount}. It is above the approval limit: a manager must approve it."
        if self.approval_status == "pending":
            return f"Decision saved: {label}{amount}. It is a discretionary exception: a manager must approve it."
        if self.approval_status == "approved" and self.over_limit and not self.is_exception:
            return f"Approved above the limit: {label}{amount}. The case is closed."
        if self.approval_status == "approved":
            return f"Exception approved: {label}{amount}. The case is closed."
        if self.approval_status == "rejected":
            return "Exception rejected. The case is back in the queue for a new decision."
        return f"Decision saved: {label}{amount}. The case is closed."


def _result(s: Session, d: Decision, replayed: bool) -> DecisionResult:
    status, version = s.execute(select(Case.status, Case.version).where(Case.id == d.case_id)).one()
    return DecisionResult(
        decision_id=d.id,
        case_id=d.case_id,
        outcome=d.outcome,
        amount_cents=d.amount_cents,
        is_exception=d.is_exception,
        approval_status=d.approval_status,
        case_status=status,
        case_version=version,
        policy_version=d.policy_version,
        recommended_outcome=d.recommended_outcome,
        replayed=replayed,
        currency=case_currency(s, d.case_id),
        over_limit=bool(d.over_limit),
    )


def _check_text(value: str | None, field: str, *, required: bool, label: str) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(f"Write {label}.", field=field)
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"Keep {label} under {MAX_TEXT:,} characters (it has {len(text):,}).", field=field)
    return text


def exception_rationale_problem(rationale: str) -> str | None:
    """None if a rationale is substantial enough for a discretionary exception, else what is missing."""
    text = " ".join((rationale or "").split())
    template = RATIONALE_TEMPLATE.strip()
    substance = text[len(template) :].strip() if text.lower().startswith(template.lower()) else text
    if len(substance) < MIN_EXCEPTION_RATIONALE:
        return (
            f"An exception needs a rationale of substance: at least {MIN_EXCEPTION_RATIONALE} characters saying why "
            f"this case goes outside the policy (section 5)."
        )
    return None


# ---- deciding ----------------------------------------------------------------------------------------------


def _replay(s: Session, key: str | None, case_id: int) -> Decision | None:
    """The decision an idempotency key already wrote, if any (a cheap indexed lookup when there is none)."""
    if not key:
        return None
    found = s.execute(select(Decision.id, Decision.case_id).where(Decision.idempotency_key == key)).one_or_none()
    if found is None:
        return None
    if found.case_id != case_id:
        raise InvalidInput("This form was already used for another case; reload the page.")
    return s.get(Decision, found.id)


@dataclass(frozen=True)
class _Judged:
    """What step 1 of `decide` read about the case, outside the write lock."""

    verdict: Verdict
    service_type: str
    reason: str
    currency: str
    limit: int | None  # the approval limit of the currency, in minor units (None: no limit)


@dataclass(frozen=True)
class _Plan:
    """What `decide` will write, once the form is checked against the verdict."""

    amount_cents: int
    is_exception: bool
    over_limit: bool

    @property
    def needs_approval(self) -> bool:
        return self.is_exception or self.over_limit

    @property
    def new_status(self) -> str:
        action = "decide_for_approval" if self.needs_approval else "decide"
        return status.target(action) or status.OPEN

    @property
    def approval_status(self) -> str:
        return "pending" if self.needs_approval else "not_required"


def _check_form(outcome: str, amount: Any, rationale: str) -> tuple[int | str | Decimal | None, str]:
    """The form's own checks, before anything is read: (the amount as given, the rationale stripped)."""
    if outcome not in OUTCOMES:
        raise InvalidInput(f"Choose an outcome ({', '.join(OUTCOMES)}).", field="outcome")
    rationale = _check_text(rationale, "rationale", required=False, label="the rationale")
    if isinstance(amount, str) and not amount.strip():
        amount = None
    if isinstance(amount, bool) or (amount is not None and not isinstance(amount, (int, str, Decimal))):
        raise InvalidInput("Give the amount as typed (text) or in whole cents.", field="amount")
    if isinstance(amount, int) and amount < 0:
        raise InvalidInput("The amount must be zero or more, in whole cents.", field="amount")
    return amount, rationale


def _judge(s: Session, case_id: int, seen_version: int, book: PolicyBook) -> _Judged:
    """The verdict for the case as the user saw it (StaleCase if it moved on; InvalidInput if it is not open)."""
    case = s.get(Case, case_id)
    if case is None:
        raise NotFound(f"Case #{case_id} does not exist.")
    if case.version != seen_version:
        raise stale_case(s, case_id, seen_version)
    if not status.allows("decide", case.status):
        raise InvalidInput(f"This case is {status.words(case.status)}.")
    try:
        verdict = verdict_for(case, s.get(Service, case.service_id), book)
    except PolicyError as exc:
        raise InvalidInput(f"The policy engine cannot judge this case's facts: {exc}") from None
    currency = s.scalar(select(Service.currency).where(Service.id == case.service_id)) or DEFAULT_CURRENCY
    return _Judged(verdict, case.service_type, case.reason, currency, limit_for(s, currency))


def _plan(judged: _Judged, outcome: str, amount: int | str | Decimal | None, rationale: str) -> _Plan:
    """Check the amount and the rationale against the verdict; decide whether a manager must approve."""
    try:
        cents = amount if isinstance(amount, int) or amount is None else parse_amount(amount, judged.currency)
    except MoneyError as exc:
        raise InvalidInput(f"The amount is not valid: {exc}.", field="amount") from None
    if outcome not in MONEY_OUTCOMES and cents == 0:
        cents = None
    problem = check_amount(judged.verdict, outcome, None if cents is None else cents / 100)
    if problem:
        problem = problem.removeprefix("amount: ")
        raise InvalidInput(problem[:1].upper() + problem[1:], field="amount")
    is_exception = judged.verdict.is_exception(outcome)
    if is_exception:
        why_not = exception_rationale_problem(rationale)
        if why_not:
            raise InvalidInput(why_not, field="rationale")
    # above the approval limit of its currency: a manager approves it, as an exception (desk.limits)
    over_limit = outcome in MONEY_OUTCOMES and judged.limit is not None and (cents or 0) > judged.limit
    return _Plan(cents or 0, is_exception, over_limit)


def _insert_decision(
    s: Session, case_id: int, outcome: str, rationale: str, judged: _Judged, plan: _Plan, **who: Any
) -> int:
    """The decision row (Core: the ORM's unit of work costs more than the statement, under the write lock)."""
    decisions = cast(Table, Decision.__table__)
    verdict = judged.verdict
    stmt = insert(decisions).values(
        case_id=case_id,
        outcome=outcome,
        amount_cents=plan.amount_cents,
        rationale=rationale,
        service_type=judged.service_type,
        reason=judged.reason,
        policy_version=verdict.policy_version,
        recommended_outcome=verdict.recommended_outcome,
        verdict=verdict.to_dict(),
        is_exception=plan.is_exception,
        approval_status=plan.approval_status,
        superseded=False,
        over_limit=plan.over_limit,
        **who,
    )
    return s.connection().execute(stmt.returning(decisions.c.id)).scalar_one()


def decide(
    db: Database,
    actor_id: int,
    case_id: int,
    outcome: str,
    amount: int | str | Decimal | None,
    rationale: str,
    seen_version: int,
    idempotency_key: str | None,
    *,
    today: date,
    now: datetime | None = None,
    book: PolicyBook | None = None,
) -> DecisionResult:
    """Decide an open case. An outcome outside the verdict's allowed outcomes is a discretionary exception:
    it needs a rationale of substance and the case waits for a manager's approval instead of closing.

    `amount` is in the case's currency (its service's): an int is whole minor units (cents); a str or
    Decimal is an amount as typed ("12.50"), refused if it has more decimals than the currency has
    ("12.345" for EUR) — never rounded. A float is refused: it cannot say exactly what was typed.

    The skeleton of desk.cases' writes (authorize -> one transaction: idempotency, version, change, audit
    event), with the judging done before the transaction: SQLite has one writer at a time, so the write lock
    is held only for the statements of step 2, which write only if the case is still the version judged."""
    actor = authorize(db, actor_id, "act_on_case", case_id=case_id)
    amount, rationale = _check_form(outcome, amount, rationale)
    book = book or default_book(db)
    at = event_at(now) or audit.utcnow()
    # 1. Judge the case as the user saw it, outside the write lock.
    with db.read() as s:
        earlier = _replay(s, idempotency_key, case_id)
        if earlier is not None:
            return _result(s, earlier, replayed=True)
        judged = _judge(s, case_id, seen_version, book)
    plan = _plan(judged, outcome, amount, rationale)
    verdict = judged.verdict
    # 2. Write only if the case is still the version judged above: then its facts are the ones judged.
    try:
        with db.write.begin() as s:
            earlier = _replay(s, idempotency_key, case_id)
            if earlier is not None:
                return _result(s, earlier, replayed=True)
            decided_on = None if plan.needs_approval else today
            event = audit.DecisionRecorded(
                outcome=outcome,
                amount_cents=plan.amount_cents,
                currency=judged.currency,
                exception=plan.is_exception,
                policy_version=verdict.policy_version,
                recommended_outcome=verdict.recommended_outcome,
            )
            new_version, _ = record_change(
                s,
                case_id,
                seen_version,
                event,
                actor,
                at,
                idempotency_key,
                status=plan.new_status,
                decided_on=decided_on,
            )
            who = {"decided_by_id": actor.id, "decided_at": at, "decided_on": today, "idempotency_key": idempotency_key}
            decision_id = _insert_decision(s, case_id, outcome, rationale, judged, plan, **who)
            s.flush()
            if not plan.needs_approval:  # final now: the billing webhook goes with it (issue 13)
                enqueue_billing(s, decision_id, actor=actor.email, at=at)
            return DecisionResult(
                decision_id=decision_id,
                case_id=case_id,
                outcome=outcome,
                amount_cents=plan.amount_cents,
                is_exception=plan.is_exception,
                approval_status=plan.approval_status,
                case_status=plan.new_status,
                case_version=new_version,
                policy_version=verdict.policy_version,
                recommended_outcome=verdict.recommended_outcome,
                currency=judged.currency,
                over_limit=plan.over_limit,
            )
    except (StaleCase, IntegrityError):
        # The same key committed by a concurrent submit (PostgreSQL lets both reach the UPDATE): answer with it.
        if idempotency_key:
            with db.read() as s:
                earlier = _replay(s, idempotency_key, case_id)
                if earlier is not None:
                    return _result(s, earlier, replayed=True)
        raise


# ---- four eyes: approving or rejecting an exception ---------------------------------------------------------


def _pending_decision(db: Database, decision_id: int) -> Decision:
    with db.read() as s:
        d = s.get(Decision, decision_id)
        if d is None:
            raise NotFound(f"Decision #{decision_id} does not exist.")
        return d


def _refuse_own(db: Database, actor, decision: Decision, action: str) -> None:
    with db.write.begin() as s:
        audit.record(
            s,
            audit.AccessRefused(action=action, role=actor.role, detail="own exception (four eyes)"),
            actor=actor.email,
            actor_id=actor.id,
            case_id=decision.case_id,
        )
    raise NotAllowed("You decided this exception yourself; another manager must approve or reject it (four eyes).")


def _already_settled(s: Session, d: Decision) -> StaleCase:
    who = s.scalar(select(User.display_name).where(User.id == d.approver_id)) if d.approver_id else None
    state = "superseded by a newer decision" if d.superseded and d.approval_status != "rejected" else d.approval_status
    by = f" by {who}" if who else ""
    return StaleCase(
        "This exception is no longer waiting for approval.", [f"It was {state}{by}." if state else "It changed."]
    )


def _settle(
    db: Database,
    manager_id: int,
    decision_id: int,
    note: str,
    *,
    approve: bool,
    today: date,
    seen_version: int | None,
    idempotency_key: str | None,
    now: datetime | None,
) -> DecisionResult:
    d0 = _pending_decision(db, decision_id)
    actor = authorize(db, manager_id, "approve_exception", case_id=d0.case_id)
    action = "approve_exception" if approve else "reject_exception"
    if d0.decided_by_id == actor.id:
        _refuse_own(db, actor, d0, action)
    note = _check_text(note, "note", required=True, label="a note for the reviewer and the audit trail")
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        if idempotency_key:
            seen = s.scalar(select(CaseEvent.id).where(CaseEvent.idempotency_key == idempotency_key))
            if seen is not None:
                return _result(s, must_get(s, Decision, decision_id), replayed=True)
        d = must_get(s, Decision, decision_id)
        if d.approval_status != "pending" or d.superseded or not (d.is_exception or d.over_limit):
            raise _already_settled(s, d)
        values: dict[str, Any] = {
            "approval_status": "approved" if approve else "rejected",
            "approver_id": actor.id,
            "approved_at": at,
            "approval_note": note,
        }
        if not approve:
            values["superseded"] = True
        changed = rowcount(
            s.execute(
                update(Decision)
                .where(Decision.id == decision_id, Decision.approval_status == "pending")
                .values(**values)
                .execution_options(synchronize_session=False)
            )
        )
        if changed != 1:
            raise _already_settled(s, d)
        move = "approve" if approve else "reject"
        case_status = s.scalar(select(Case.status).where(Case.id == d.case_id))
        if case_status is None or not status.allows(move, case_status):
            raise stale_case(s, d.case_id, seen_version if seen_version is not None else 0)
        event = (
            audit.ExceptionApproved(decision_id=decision_id, note=note)
            if approve
            else audit.ExceptionRejected(decision_id=decision_id, note=note)
        )
        decided_on = today if approve else None
        record_change(
            s,
            d.case_id,
            seen_version,
            event,
            actor,
            at,
            idempotency_key,
            status=status.target(move),
            decided_on=decided_on,
        )
        s.flush()
        s.refresh(d)
        if approve:  # the exception is final now: the billing webhook goes with the approval (issue 13)
            enqueue_billing(s, decision_id, actor=actor.email, at=at)
        return _result(s, d, replayed=False)


def approve_exception(
    db: Database,
    manager_id: int,
    decision_id: int,
    note: str,
    *,
    today: date,
    seen_version: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> DecisionResult:
    """A manager other than the decider approves a pending exception: the case closes."""
    return _settle(
        db,
        manager_id,
        decision_id,
        note,
        approve=True,
        today=today,
        seen_version=seen_version,
        idempotency_key=idempotency_key,
        now=now,
    )


def reject_exception(
    db: Database,
    manager_id: int,
    decision_id: int,
    note: str,
    *,
    today: date,
    seen_version: int | None = None,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> DecisionResult:
    """A manager other than the decider rejects a pending exception: the decision is superseded and the case
    goes back to the queue (status open) for a new decision."""
    return _settle(
        db,
        manager_id,
        decision_id,
        note,
        approve=False,
        today=today,
        seen_version=seen_version,
        idempotency_key=idempotency_key,
        now=now,
    )
