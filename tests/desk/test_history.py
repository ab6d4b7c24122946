"""The customer's history on the case page: other cases latest first with their effective decisions, refunds
and credits of the last 12 months per currency (never summed across currencies), the frequent-requester flag
above the admin's threshold, and the index that serves it. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from data.models import Case, Customer, Decision, Service
from desk.errors import InvalidInput, NotAllowed
from desk.history import customer_history
from desk.settings import (
    DEFAULT_FREQUENT_REQUESTER,
    read_frequent_requester_threshold,
    set_frequent_requester_threshold,
)
from tests.support.cases import TODAY, add_case, user_id
from tests.support.sql import statements_sent


def _same_customer(db, case_ids: list[int]) -> int:
    """Move the cases to the first one's customer (as a returning customer's requests)."""
    with db.write.begin() as s:
        customer = s.scalar(select(Case.customer_id).where(Case.id == case_ids[0]))
        s.execute(update(Case).where(Case.id.in_(case_ids)).values(customer_id=customer))
        s.execute(
            update(Service)
            .where(Service.id.in_(select(Case.service_id).where(Case.id.in_(case_ids))))
            .values(customer_id=customer)
        )
    return customer


def _decision(db, case_id: int, outcome: str, cents: int, decided_on: date, **kw) -> None:
    with db.write.begin() as s:
        c = s.get(Case, case_id)
        s.add(
            Decision(
                case_id=case_id,
                outcome=outcome,
                amount_cents=cents,
                rationale="",
                decided_by_id=user_id(db, "rita"),
                decided_at=datetime.combine(decided_on, datetime.min.time()),
                decided_on=decided_on,
                service_type=c.service_type,
                reason=c.reason,
                policy_version="2024-01-01",
                recommended_outcome=outcome,
                verdict={},
                **kw,
            )
        )
        c.status = "closed"


def test_other_cases_latest_first_with_money_per_currency_and_the_flag(demo_db):
    db = demo_db
    ids = [add_case(db, opened_on=TODAY - timedelta(days=d)) for d in (1, 30, 60, 400, 10)]
    customer = _same_customer(db, ids)
    with db.write.begin() as s:  # one of the services was paid in euros
        s.execute(
            update(Service)
            .where(Service.id == select(Case.service_id).where(Case.id == ids[2]).scalar_subquery())
            .values(currency="EUR")
        )
    _decision(db, ids[1], "full_refund", 12_000, TODAY - timedelta(days=20))
    _decision(db, ids[2], "credit", 5_000, TODAY - timedelta(days=50))
    _decision(db, ids[3], "partial_refund", 7_000, TODAY - timedelta(days=390))  # over 12 months ago
    _decision(db, ids[4], "credit", 999, TODAY - timedelta(days=5), superseded=True)  # not the effective one
    _decision(db, ids[4], "deny", 0, TODAY - timedelta(days=4))

    h = customer_history(db, customer, ids[0], TODAY)
    assert [c.case_id for c in h.cases] == [ids[4], ids[1], ids[2], ids[3]]  # latest first, this case left out
    assert [c.outcome for c in h.cases] == ["deny", "full_refund", "credit", "partial_refund"]
    assert h.paid_last_12_months == {"USD": 12_000, "EUR": 5_000}
    assert h.other_cases == 4 and h.requests_last_12_months == 4
    assert h.threshold == DEFAULT_FREQUENT_REQUESTER and h.frequent  # 4 > 3

    set_frequent_requester_threshold(db, user_id(db, "ada"), 4)
    assert not customer_history(db, customer, ids[0], TODAY).frequent
    assert customer_history(db, customer, ids[0], TODAY, limit=2).cases[-1].case_id == ids[1]


def test_only_an_admin_sets_the_threshold_and_only_to_a_sensible_number(demo_db):
    db = demo_db
    with pytest.raises(NotAllowed):
        set_frequent_requester_threshold(db, user_id(db, "max"), 5)
    for bad in (0, -1, 1001, True, "5", 2.5):
        with pytest.raises(InvalidInput):
            set_frequent_requester_threshold(db, user_id(db, "ada"), bad)
    assert read_frequent_requester_threshold(db) == DEFAULT_FREQUENT_REQUESTER
    set_frequent_requester_threshold(db, user_id(db, "ada"), 7)
    set_frequent_requester_threshold(db, user_id(db, "ada"), 8)
    assert read_frequent_requester_threshold(db) == 8


def test_the_history_reads_one_customer_through_its_index_on_sqlite(demo_db):
    if demo_db.backend != "sqlite":
        pytest.skip("PostgreSQL plans small test tables with sequential scans")
    with demo_db.read() as s:
        customer = s.scalar(select(Customer.id).limit(1))
    with statements_sent(demo_db.engine, "customer_id") as statements:
        customer_history(demo_db, customer, 0, TODAY)
    assert len(statements) >= 3
    for sql, params in statements:
        with demo_db.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert "ix_cases_customer" in plan and "SCAN cases" not in plan, plan
