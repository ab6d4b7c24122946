"""Acting on many cases at once: decide several with one outcome, approve several pending decisions.

Each case is judged and written on its own, through the same use case as the case page (desk.decisions), in
its own transaction with its own audit event: a failure on one case never half-writes another, and a case where
the chosen outcome would be a discretionary exception, or needs an amount the reviewer did not give (a partial
refund, a credit), is left out and listed with the reason. `progress(done, total)` is called after each case.

    results = decide_many(db, actor_id, [(case_id, version), ...], "full_refund", today=today, progress=bar)
    results = approve_many(db, manager_id, [decision_id, ...], "Checked: invoices match.", today=today)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from data.db import Database
from data.models import Case, Decision, Service
from desk.decisions import approve_exception, decide, default_book, verdict_for
from desk.errors import DeskError, StaleCase
from policy import MONEY_OUTCOMES, OUTCOME_LABELS, OUTCOMES, PolicyError

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BulkResult:
    case_id: int
    ok: bool
    message: str


def _noop(done: int, total: int) -> None:
    return None


def decide_many(
    db: Database,
    actor_id: int,
    items: Iterable[tuple[int, int]],
    outcome: str,
    *,
    today: date,
    progress: Progress = _noop,
) -> list[BulkResult]:
    """Decide each (case id, version seen) with `outcome` where that case's own verdict allows it."""
    if outcome not in OUTCOMES:
        raise DeskError(f"Choose an outcome ({', '.join(OUTCOMES)}).")
    if outcome in ("partial_refund", "credit"):
        raise DeskError(f"{OUTCOME_LABELS[outcome]} needs an amount per case: decide those on the case page.")
    items = list(items)
    book = default_book()
    results: list[BulkResult] = []
    for n, (case_id, seen) in enumerate(items, start=1):
        results.append(_decide_one(db, actor_id, case_id, seen, outcome, today, book))
        progress(n, len(items))
    return results


def _decide_one(db, actor_id, case_id, seen, outcome, today, book) -> BulkResult:
    with db.read() as s:
        case = s.get(Case, case_id)
        if case is None:
            return BulkResult(case_id, False, "does not exist")
        try:
            verdict = verdict_for(case, s.get(Service, case.service_id), book)
        except PolicyError as exc:
            return BulkResult(case_id, False, f"the policy engine cannot judge its facts ({exc})")
    if verdict.is_exception(outcome):
        allowed = ", ".join(OUTCOME_LABELS[o].lower() for o in verdict.allowed_outcomes)
        return BulkResult(
            case_id,
            False,
            f"left out: {OUTCOME_LABELS[outcome].lower()} would be a discretionary "
            f"exception here (the policy allows {allowed})",
        )
    amount = round(verdict.amount_paid * 100) if outcome in MONEY_OUTCOMES else None
    try:
        result = decide(db, actor_id, case_id, outcome, amount, "", seen, uuid.uuid4().hex, today=today, book=book)
    except StaleCase as exc:
        return BulkResult(case_id, False, "changed meanwhile: " + "; ".join(exc.changes))
    except DeskError as exc:
        return BulkResult(case_id, False, str(exc))
    return BulkResult(case_id, True, result.message)


def approve_many(
    db: Database, manager_id: int, decision_ids: Iterable[int], note: str, *, today: date, progress: Progress = _noop
) -> list[BulkResult]:
    """Approve several pending decisions (exceptions or above the limit); never one the manager decided."""
    ids = list(decision_ids)
    results: list[BulkResult] = []
    for n, decision_id in enumerate(ids, start=1):
        with db.read() as s:
            found = s.get(Decision, decision_id)
            case_id = found.case_id if found else 0
        try:
            result = approve_exception(db, manager_id, decision_id, note, today=today)
        except StaleCase as exc:
            results.append(BulkResult(case_id, False, "; ".join([str(exc), *exc.changes])))
        except DeskError as exc:
            results.append(BulkResult(case_id, False, str(exc)))
        else:
            results.append(BulkResult(case_id, True, result.message))
        progress(n, len(ids))
    return results


def pending_decisions(db: Database, case_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """{case id: (pending decision id, decided by)} of those cases that wait for a manager."""
    from sqlalchemy import select

    ids = list(case_ids)
    if not ids:
        return {}
    with db.read() as s:
        rows = s.execute(
            select(Decision.case_id, Decision.id, Decision.decided_by_id).where(
                Decision.case_id.in_(ids), Decision.approval_status == "pending", Decision.superseded.is_(False)
            )
        ).all()
    return {c: (d, by) for c, d, by in rows}
