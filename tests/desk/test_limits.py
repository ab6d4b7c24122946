"""Approval above a limit: a refund or credit above the admin's limit for its currency waits for a manager
(another than the decider), even when the policy allows it; enforced in desk/ and by a database trigger.
SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.exc import DBAPIError

from data.models import Case, Decision, Service
from desk.decisions import approve_exception, decide
from desk.errors import InvalidInput, NotAllowed
from desk.limits import list_limits, set_limit
from tests.support.cases import TODAY, add_case, user_id


def _full_refund_case(db, cents: int, currency: str = "USD") -> int:
    cid = add_case(db, reason="billing_error", price_cents=cents)  # a billing error: a full refund is allowed
    with db.write.begin() as s:
        s.execute(
            update(Service)
            .where(Service.id == select(Case.service_id).where(Case.id == cid).scalar_subquery())
            .values(currency=currency)
        )
    return cid


def test_a_refund_above_the_limit_of_its_currency_waits_for_another_manager(demo_db):
    db = demo_db
    ada, rita, max_, omar = (user_id(db, u) for u in ("ada", "rita", "max", "omar"))
    set_limit(db, ada, "usd", 50_000)
    set_limit(db, ada, "EUR", 100_000)
    assert [(x.currency, x.text) for x in list_limits(db)] == [("EUR", "€1,000.00"), ("USD", "$500.00")]
    under, over, euro = (
        _full_refund_case(db, 50_000),
        _full_refund_case(db, 50_001),
        _full_refund_case(db, 60_000, "EUR"),
    )
    r_under = decide(db, rita, under, "full_refund", 50_000, "", 1, uuid.uuid4().hex, today=TODAY)
    r_over = decide(db, rita, over, "full_refund", 50_001, "", 1, uuid.uuid4().hex, today=TODAY)
    r_euro = decide(db, rita, euro, "full_refund", 60_000, "", 1, uuid.uuid4().hex, today=TODAY)
    assert (r_under.case_status, r_euro.case_status) == ("closed", "closed")  # at the limit / under EUR's
    assert (r_over.case_status, r_over.approval_status, r_over.over_limit) == ("awaiting_approval", "pending", True)
    assert "above the approval limit" in r_over.message and not r_over.is_exception
    with pytest.raises(NotAllowed):  # four eyes: never the decider (here a reviewer; a manager deciding neither)
        approve_exception(db, rita, r_over.decision_id, "ok", today=TODAY)
    done = approve_exception(db, max_, r_over.decision_id, "Checked the invoice.", today=TODAY)
    assert (done.case_status, done.approval_status) == ("closed", "approved")
    assert done.message.startswith("Approved above the limit")
    with pytest.raises(NotAllowed):
        set_limit(db, omar, "USD", 1)
    for bad in (("XYZ", 1), ("USD", -1), ("USD", 1.5)):
        with pytest.raises(InvalidInput):
            set_limit(db, ada, *bad)
    set_limit(db, ada, "EUR", None)
    assert [x.currency for x in list_limits(db)] == ["USD"]


def test_the_database_refuses_a_decision_above_the_limit_that_skips_approval(demo_db):
    db = demo_db
    set_limit(db, user_id(db, "ada"), "USD", 10_000)
    cid = _full_refund_case(db, 20_000)
    row = dict(
        case_id=cid,
        outcome="full_refund",
        amount_cents=20_000,
        rationale="",
        decided_by_id=user_id(db, "rita"),
        decided_at=datetime(2026, 11, 26),
        decided_on=TODAY,
        service_type="technical_support",
        reason="billing_error",
        policy_version="2024-01-01",
        recommended_outcome="full_refund",
        verdict={},
        approval_status="not_required",
    )
    with pytest.raises(DBAPIError, match="approval limit"), db.write.begin() as s:
        s.execute(insert(Decision).values(**row))
    with db.write.begin() as s:  # waiting for approval is allowed
        did = s.execute(
            insert(Decision).values(**{**row, "approval_status": "pending"}).returning(Decision.id)
        ).scalar()
    # and it cannot be waved through afterwards
    with pytest.raises(DBAPIError, match="approval limit"), db.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == did).values(approval_status="not_required"))
    with db.write.begin() as s:  # a small one needs nothing
        s.execute(insert(Decision).values(**{**row, "amount_cents": 9_000}))
