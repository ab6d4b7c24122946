"""Acting on many cases: each judged on its own, left out where the outcome would be an exception, one decision
and one audit event per case, nothing half-written; managers approve several pending decisions but never their
own. SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest

from desk.bulk_actions import approve_many, decide_many, pending_decisions
from desk.decisions import decide
from desk.errors import DeskError
from desk.limits import set_limit
from tests.support.cases import TODAY, add_case, counts, user_id


def test_bulk_decide_judges_each_case_and_leaves_out_exceptions(demo_db):
    db = demo_db
    rita = user_id(db, "rita")
    billing = [add_case(db, reason="billing_error", price_cents=c) for c in (4_000, 6_000)]
    ours = add_case(db, reason="our_error")  # a full refund would be an exception: a fix comes first
    seen: list[tuple[int, int]] = []
    results = decide_many(
        db,
        rita,
        [(c, 1) for c in [billing[0], ours, billing[1]]],
        "full_refund",
        today=TODAY,
        progress=lambda n, total: seen.append((n, total)),
    )
    assert [(r.case_id, r.ok) for r in results] == [(billing[0], True), (ours, False), (billing[1], True)]
    assert "discretionary exception" in results[1].message
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert [counts(db, c)[:2] for c in billing] == [(1, 2), (1, 2)]  # one decision and one audit event each
    assert counts(db, ours) == (0, 1, 1)  # untouched
    stale = decide_many(db, rita, [(billing[0], 1)], "deny", today=TODAY)
    assert not stale[0].ok
    with pytest.raises(DeskError, match="needs an amount"):
        decide_many(db, rita, [(ours, 1)], "credit", today=TODAY)


def test_bulk_approve_settles_pending_decisions_but_never_the_managers_own(demo_db):
    db = demo_db
    set_limit(db, user_id(db, "ada"), "USD", 1_000)
    max_, rita = user_id(db, "max"), user_id(db, "rita")
    a, b = (add_case(db, reason="billing_error", price_cents=5_000) for _ in range(2))
    decide(db, rita, a, "full_refund", 5_000, "", 1, uuid.uuid4().hex, today=TODAY)
    decide(db, max_, b, "full_refund", 5_000, "", 1, uuid.uuid4().hex, today=TODAY)
    pending = pending_decisions(db, [a, b])
    assert set(pending) == {a, b}
    results = approve_many(db, max_, [pending[a][0], pending[b][0]], "Invoices checked.", today=TODAY)
    assert [(r.case_id, r.ok) for r in results] == [(a, True), (b, False)]
    assert "four eyes" in results[1].message
