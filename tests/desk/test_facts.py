"""desk.facts.facts_from_row: the one mapping from a case and its service to the policy's facts."""

from datetime import date

import pytest
from sqlalchemy import select

from data import importer
from data.models import Case, Decision, Service
from desk import facts as desk_facts
from desk.facts import facts_from_row
from policy import InvalidFacts, Subscription, evaluate, load_book


def row(**changes):
    """A completed technical support session (completed 2026-03-03) and a case opened 2026-03-05."""
    base = {
        "opened_on": date(2026, 3, 5),
        "reason": "technical_issue",
        "fix_attempted": False,
        "fix_succeeded": None,
        "documentation": [],
        "service_type": "technical_support",
        "service_status": "completed",
        "price_cents": 12999,
        "purchased_on": date(2026, 3, 1),
        "scheduled_on": date(2026, 3, 2),
        "initiated_on": date(2026, 3, 2),
        "completed_on": date(2026, 3, 3),
        "cycle": None,
        "cycle_start": None,
        "cycle_end": None,
        "cancelled_on": None,
    }
    base.update(changes)
    return base


def test_a_completed_service_counts_from_the_day_it_was_completed_and_the_price_is_what_was_paid():
    f = facts_from_row(row())
    assert (f.service_date, f.request_date, f.amount_paid) == (date(2026, 3, 3), date(2026, 3, 5), 129.99)
    assert (f.service_type, f.service_status, f.reason) == ("technical_support", "completed", "technical_issue")


def test_a_service_in_progress_counts_from_the_day_it_was_initiated():
    assert facts_from_row(row(service_status="in_progress", completed_on=None)).service_date == date(2026, 3, 2)


def test_a_service_not_started_counts_from_its_scheduled_day_or_else_its_purchase():
    assert facts_from_row(row(service_status="not_started")).service_date == date(2026, 3, 2)
    unscheduled = row(service_status="not_started", scheduled_on=None, initiated_on=None, completed_on=None)
    assert facts_from_row(unscheduled).service_date == date(2026, 3, 1)


def test_a_subscription_counts_from_the_start_of_the_charged_cycle():
    f = facts_from_row(
        row(
            service_type="subscription",
            service_status="in_progress",
            cycle="monthly",
            cycle_start=date(2026, 3, 1),
            cycle_end=date(2026, 3, 30),
            cancelled_on=date(2026, 2, 25),
            completed_on=None,
        )
    )
    assert f.service_date == date(2026, 3, 1)
    assert f.subscription == Subscription("monthly", date(2026, 3, 1), date(2026, 3, 30), date(2026, 2, 25))


@pytest.mark.parametrize(
    ("documentation", "provided"),
    [([], False), ([{"kind": "email", "name": "x", "note": ""}], True), ("[]", False), ('[{"kind": "other"}]', True)],
)
def test_documentation_is_provided_when_the_case_lists_any_document(documentation, provided):
    assert facts_from_row(row(documentation=documentation)).documentation_provided is provided


def test_a_precomputed_documentation_flag_wins_over_the_list():
    assert facts_from_row(row(documentation=None, documentation_provided=1)).documentation_provided is True


def test_iso_date_strings_read_from_raw_sqlite_work_like_dates():
    f = facts_from_row(row(opened_on="2026-03-05", completed_on="2026-03-03"))
    assert (f.service_date, f.request_date) == (date(2026, 3, 3), date(2026, 3, 5))


def test_a_fix_result_without_a_fix_attempt_is_ignored():
    assert facts_from_row(row(fix_attempted=False, fix_succeeded=True)).fix_succeeded is None
    assert facts_from_row(row(fix_attempted=1, fix_succeeded=0)).fix_succeeded is False


def test_a_completed_service_without_a_completion_date_cannot_be_judged_and_says_why():
    with pytest.raises(InvalidFacts) as exc:
        facts_from_row(row(completed_on=None))
    assert exc.value.field == "service_date"
    assert "completed_on" in exc.value.message


def test_the_importer_counts_from_the_same_date_columns():
    assert importer.SERVICE_DATE_COLUMN == desk_facts.SERVICE_DATE_COLUMN


def test_every_demo_decision_is_reproduced_from_its_case_row(demo_db):
    """The demo generator decided with the policy; re-judging each closed case from its row gives the verdict
    it stored, so the mapping is the one decisions are made with."""
    book = load_book()
    columns = [getattr(Case, c) for c in desk_facts.CASE_FACT_COLUMNS] + [
        Service.status.label("service_status") if c == "service_status" else getattr(Service, c)
        for c in desk_facts.SERVICE_FACT_COLUMNS
    ]
    stmt = (
        select(Decision.verdict, *columns)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(Case.status == "closed")
    )
    with demo_db.read() as s:
        rows = s.execute(stmt).all()
    assert len(rows) > 300
    for r in rows:
        v = evaluate(facts_from_row(r._mapping), book)
        stored = r.verdict
        assert (v.rule, v.recommended_outcome, list(v.allowed_outcomes)) == (
            stored["rule"],
            stored["recommended_outcome"],
            stored["allowed_outcomes"],
        )


def test_orm_objects_map_like_their_rows(demo_db):
    """What desk.decisions.facts_for_case(case, service) delegates to gives the same facts as the row."""
    with demo_db.read() as s:
        pairs = s.execute(select(Case, Service).join(Service, Service.id == Case.service_id).limit(60)).all()
        for case, service in pairs:
            row = desk_facts.fact_row(case, service)
            assert desk_facts.facts_for_objects(case, service) == facts_from_row(row)
            assert row["service_status"] == service.status and row["opened_on"] == case.opened_on
