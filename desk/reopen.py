"""Reopen: a manager reopens a closed case with a reason. The decision that closed it is superseded — kept, never
deleted — so the analytics (which count only effective decisions: not superseded, approval not required or
approved; the rollup triggers follow the `superseded` column) count only the decision made after reopening.
The case goes back to the queue (open), and the reopening is audited with the reason, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from data.db import Database
from data.models import Case, CaseEvent, Decision
from desk import audit, status
from desk.auth import authorize
from desk.changes import record_change
from desk.errors import InvalidInput, NotFound

MIN_REASON = 10
MAX_REASON = 4000


@dataclass(frozen=True)
class Reopened:
    case_id: int
    case_version: int
    superseded_decision_id: int
    replayed: bool = False

    @property
    def message(self) -> str:
        return (
            f"Case #{self.case_id} is open again; the earlier decision is kept as superseded. It is back in "
            "the queue for a new decision."
        )


def reopen_case(
    db: Database, manager_id: int, case_id: int, reason: str, seen_version: int, idempotency_key: str | None = None
) -> Reopened:
    actor = authorize(db, manager_id, "approve_exception", case_id=case_id)  # managers, as for approvals
    reason = " ".join((reason or "").split())
    if len(reason) < MIN_REASON:
        raise InvalidInput(f"Say why the case is reopened (at least {MIN_REASON} characters).", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"Keep the reason under {MAX_REASON:,} characters.", field="reason")
    with db.write.begin() as s:
        if idempotency_key:
            seen = s.scalar(select(CaseEvent.payload).where(CaseEvent.idempotency_key == idempotency_key))
            if seen is not None:
                version = s.scalar(select(Case.version).where(Case.id == case_id)) or 0
                return Reopened(case_id, version, int(seen.get("decision_id", 0)), replayed=True)
        case = s.get(Case, case_id)
        if case is None:
            raise NotFound(f"Case #{case_id} does not exist.")
        if not status.allows("reopen", case.status):
            raise InvalidInput(f"Only a closed case can be reopened; this one is still {status.words(case.status)}.")
        decision_id = s.scalar(
            select(Decision.id)
            .where(Decision.case_id == case_id, Decision.superseded.is_(False))
            .order_by(Decision.decided_at.desc(), Decision.id.desc())
            .limit(1)
        )
        if decision_id is None:
            raise InvalidInput("This case has no decision to reopen.")
        event = audit.CaseReopened(decision_id=decision_id, reason=reason)
        version, _ = record_change(
            s,
            case_id,
            seen_version,
            event,
            actor,
            None,
            idempotency_key,
            status=status.target("reopen"),
            decided_on=None,
        )
        s.execute(
            update(Decision)
            .where(Decision.id == decision_id)
            .values(superseded=True)
            .execution_options(synchronize_session=False)
        )
    return Reopened(case_id, version, decision_id)
