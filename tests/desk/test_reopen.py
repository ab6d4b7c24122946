"""Reopen: a manager reopens a closed case with a reason; the earlier decision is superseded (kept), audited, and
the analytics rollups count only the effective decision. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from data.models import Case, CaseEvent, Decision, decision_rollup
from desk.decisions import decide
from desk.errors import InvalidInput, NotAllowed, StaleCase
from desk.reopen import reopen_case
from tests.support.cases import TODAY, add_case, user_id


def _effective_in_rollup(db) -> int:
    r = decision_rollup
    with db.read() as s:
        return int(
            s.scalar(
                select(func.coalesce(func.sum(r.c.decisions), 0)).where(
                    r.c.grain == "day", r.c.superseded.is_(False), r.c.approval_status.in_(("not_required", "approved"))
                )
            )
        )


def test_a_manager_reopens_a_closed_case_and_only_the_new_decision_counts(demo_db):
    db = demo_db
    rita, max_ = user_id(db, "rita"), user_id(db, "max")
    cid = add_case(db, reason="billing_error", price_cents=8_000)
    first = decide(db, rita, cid, "full_refund", 8_000, "", 1, uuid.uuid4().hex, today=TODAY)
    effective = _effective_in_rollup(db)
    with pytest.raises(NotAllowed):
        reopen_case(db, rita, cid, "The invoice was for another account.", first.case_version)
    with pytest.raises(InvalidInput, match="Say why"):
        reopen_case(db, max_, cid, "  oops ", first.case_version)
    with pytest.raises(StaleCase):
        reopen_case(db, max_, cid, "The invoice was for another account.", first.case_version - 1)
    key = uuid.uuid4().hex
    done = reopen_case(db, max_, cid, "The invoice was for another account.", first.case_version, key)
    assert reopen_case(db, max_, cid, "The invoice was for another account.", first.case_version, key).replayed
    assert done.superseded_decision_id == first.decision_id
    with db.read() as s:
        case = s.get(Case, cid)
        assert (case.status, case.decided_on, case.version) == ("open", None, first.case_version + 1)
        kept = s.get(Decision, first.decision_id)
        assert kept is not None and kept.superseded  # kept, not deleted
        events = s.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == cid, CaseEvent.kind == "case_reopened"))
        assert list(events) == ["case_reopened"]
    assert _effective_in_rollup(db) == effective - 1
    again = decide(db, rita, cid, "partial_refund", 4_000, "", done.case_version, uuid.uuid4().hex, today=TODAY)
    assert again.case_status == "closed"
    assert _effective_in_rollup(db) == effective
    with pytest.raises(InvalidInput, match="Only a closed case"):
        reopen_case(db, max_, add_case(db), "Reopening an open case.", 1)
