"""Deciding cases in desk/: outcomes and amount bounds, discretionary exceptions and the four-eyes rule, the audit
event in the same transaction, idempotent submits and stale versions. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from data.models import Case, CaseEvent, Decision, Service
from desk import audit
from desk import decisions as decisions_module
from desk.cases import assign, case_detail
from desk.decisions import approve_exception, decide, facts_for_case, reject_exception, verdict_for
from desk.errors import InvalidInput, NotAllowed, NotFound, StaleCase
from policy import Verdict
from tests.support.cases import TODAY, add_case, counts, user_id

FAILED_FIX = dict(reason="technical_issue", fix_attempted=True, fix_succeeded=False)  # partial_refund or credit
BILLING = dict(reason="billing_error")  # full_refund, partial_refund or credit
LATE = dict(opened_on=TODAY - timedelta(days=1), service_date=TODAY - timedelta(days=20))  # deny only
PENDING_FIX = dict(reason="our_error")  # fix only
EXCEPTION_WHY = "Long-standing customer; our outage overlapped the window, goodwill credit agreed with the lead."


def key() -> str:
    return uuid.uuid4().hex


def test_facts_for_case_reproduces_the_verdict_stored_with_every_demo_decision(demo_db):
    """The generator judged its demo decisions with the engine; the desk's case -> facts mapping must agree."""
    with demo_db.read() as s:
        rows = s.execute(
            select(Case, Service, Decision.verdict)
            .join(Service, Service.id == Case.service_id)
            .join(Decision, Decision.case_id == Case.id)
            .where(Case.status == "closed")
        ).all()
        assert len(rows) > 300
        for case, service, snapshot in rows:
            assert verdict_for(case, service).to_dict() == snapshot, case.id


def test_a_subscription_case_is_judged_on_its_charged_cycle(db_with_users):
    db = db_with_users
    cid = add_case(db, service_type="subscription", reason="billing_error", service_date=TODAY - timedelta(days=3))
    with db.read() as s:
        case = s.get(Case, cid)
        facts = facts_for_case(case, s.get(Service, case.service_id))
    assert facts.subscription is not None
    assert facts.service_date == facts.subscription.cycle_start == TODAY - timedelta(days=3)


@pytest.fixture
def db_with_users(demo_db):
    """The demo database (users, cases) to which tests add their own cases with exact facts."""
    return demo_db


@pytest.mark.parametrize(
    ("facts", "outcome", "amount"),
    [
        (PENDING_FIX, "fix", None),
        (BILLING, "full_refund", 12_000),
        (BILLING, "partial_refund", 4_000),
        (FAILED_FIX, "partial_refund", 11_999),
        (FAILED_FIX, "credit", 1),
        (LATE, "deny", None),
    ],
)
def test_an_allowed_outcome_closes_the_case_with_a_verdict_snapshot(db_with_users, facts, outcome, amount):
    db = db_with_users
    rita = user_id(db, "rita")
    cid = add_case(db, **facts)
    result = decide(db, rita, cid, outcome, amount, "Per policy.", 1, key(), today=TODAY)
    assert (result.case_status, result.approval_status, result.is_exception) == ("closed", "not_required", False)
    assert result.case_version == 2
    with db.read() as s:
        d = s.get(Decision, result.decision_id)
        case = s.get(Case, cid)
        assert (d.outcome, d.amount_cents, d.decided_by_id, d.decided_on) == (outcome, amount or 0, rita, TODAY)
        assert (d.service_type, d.reason) == (case.service_type, case.reason)
        snapshot = Verdict.from_dict(d.verdict)
        assert d.policy_version == snapshot.policy_version == "2024-01-01"
        assert d.recommended_outcome == snapshot.recommended_outcome
        assert outcome in snapshot.allowed_outcomes
        assert (case.status, case.decided_on, case.version) == ("closed", TODAY, 2)


@pytest.mark.parametrize(
    ("facts", "outcome", "amount", "says"),
    [
        (FAILED_FIX, "partial_refund", 12_000, "less than"),
        (FAILED_FIX, "partial_refund", 0, "more than"),
        (FAILED_FIX, "partial_refund", None, "needs an amount"),
        (BILLING, "full_refund", 11_000, "the amount paid"),
        (FAILED_FIX, "credit", 0, "more than"),
        (PENDING_FIX, "fix", 500, "carries no amount"),
        (LATE, "deny", 100, "carries no amount"),
    ],
)
def test_an_amount_outside_the_bounds_is_refused_next_to_the_amount_field(db_with_users, facts, outcome, amount, says):
    db = db_with_users
    cid = add_case(db, **facts)
    before = counts(db, cid)
    with pytest.raises(InvalidInput, match=says) as err:
        decide(db, user_id(db, "rita"), cid, outcome, amount, EXCEPTION_WHY, 1, key(), today=TODAY)
    assert err.value.field == "amount"
    assert counts(db, cid) == before


def test_an_unknown_outcome_is_refused(db_with_users):
    db = db_with_users
    cid = add_case(db)
    with pytest.raises(InvalidInput) as err:
        decide(db, user_id(db, "rita"), cid, "bribe", None, "", 1, key(), today=TODAY)
    assert err.value.field == "outcome"


def test_an_unknown_case_is_not_found(db_with_users):
    with pytest.raises(NotFound):
        decide(db_with_users, user_id(db_with_users, "rita"), 10**9, "deny", None, "", 1, key(), today=TODAY)


# ---- discretionary exceptions --------------------------------------------------------------------------------


def _pending_exception(db) -> tuple[int, int]:
    """A late case credited anyway by Omar: (case id, decision id), awaiting approval."""
    cid = add_case(db, **LATE)
    result = decide(db, user_id(db, "omar"), cid, "credit", 2_500, EXCEPTION_WHY, 1, key(), today=TODAY)
    assert (result.is_exception, result.approval_status, result.case_status) == (True, "pending", "awaiting_approval")
    return cid, result.decision_id


@pytest.mark.parametrize("rationale", ["", "Goodwill.", "Exception because ", "Exception because we like them."])
def test_an_exception_needs_a_rationale_of_substance(db_with_users, rationale):
    db = db_with_users
    cid = add_case(db, **LATE)
    with pytest.raises(InvalidInput, match="rationale of substance") as err:
        decide(db, user_id(db, "omar"), cid, "credit", 2_500, rationale, 1, key(), today=TODAY)
    assert err.value.field == "rationale"


def test_an_exception_waits_for_a_manager_and_an_approval_by_another_manager_closes_it(db_with_users):
    db = db_with_users
    cid, did = _pending_exception(db)
    with db.read() as s:
        case = s.get(Case, cid)
        assert (case.status, case.decided_on) == ("awaiting_approval", None)
    result = approve_exception(db, user_id(db, "max"), did, "Agreed: documented outage.", today=TODAY)
    assert (result.approval_status, result.case_status) == ("approved", "closed")
    with db.read() as s:
        d = s.get(Decision, did)
        case = s.get(Case, cid)
        assert (d.approver_id, d.approval_note, d.superseded) == (
            user_id(db, "max"),
            "Agreed: documented outage.",
            False,
        )
        assert d.approved_at is not None
        assert (case.status, case.decided_on, case.version) == ("closed", TODAY, 3)
        kinds = [e.kind for e in audit.timeline(s, cid)]
    assert kinds[:2] == ["exception_approved", "decision_recorded"]


def test_a_rejected_exception_is_superseded_and_the_case_returns_to_the_queue(db_with_users):
    db = db_with_users
    cid, did = _pending_exception(db)
    result = reject_exception(db, user_id(db, "priya"), did, "No: the window is there for a reason.", today=TODAY)
    assert (result.approval_status, result.case_status) == ("rejected", "open")
    with db.read() as s:
        d = s.get(Decision, did)
        assert (d.approval_status, d.superseded, d.approver_id) == ("rejected", True, user_id(db, "priya"))
        assert s.get(Case, cid).status == "open"
    # the next decision is the current one
    again = decide(
        db, user_id(db, "omar"), cid, "deny", None, "Denied after review.", result.case_version, key(), today=TODAY
    )
    assert again.case_status == "closed"
    detail = case_detail(db, cid, TODAY)
    assert detail.decision is not None and detail.decision.id == again.decision_id


def test_the_decider_cannot_approve_their_own_exception_and_the_refusal_is_audited(db_with_users):
    db = db_with_users
    max_id = user_id(db, "max")
    cid = add_case(db, **LATE)
    did = decide(db, max_id, cid, "credit", 2_500, EXCEPTION_WHY, 1, key(), today=TODAY).decision_id
    with pytest.raises(NotAllowed, match="four eyes"):
        approve_exception(db, max_id, did, "Looks fine to me.", today=TODAY)
    with db.read() as s:
        assert s.get(Decision, did).approval_status == "pending"
        refusal = s.scalar(select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.kind == "access_refused"))
    assert refusal is not None and refusal.actor_id == max_id


def test_the_database_refuses_an_approver_who_is_the_decider(db_with_users):
    db = db_with_users
    _, did = _pending_exception(db)
    with pytest.raises(IntegrityError), db.write.begin() as s:
        s.execute(text("UPDATE decisions SET approver_id = decided_by_id WHERE id = :id"), {"id": did})


def test_a_reviewer_may_not_approve_and_an_admin_may_not_decide(db_with_users):
    db = db_with_users
    _, did = _pending_exception(db)
    with pytest.raises(NotAllowed):
        approve_exception(db, user_id(db, "rita"), did, "I approve.", today=TODAY)
    cid = add_case(db)
    with pytest.raises(NotAllowed):
        decide(db, user_id(db, "ada"), cid, "fix", None, "", 1, key(), today=TODAY)
    with pytest.raises(NotAllowed):  # inactive user
        decide(db, user_id(db, "victor"), cid, "fix", None, "", 1, key(), today=TODAY)
    assert counts(db, cid)[0] == 0


def test_an_exception_settled_once_cannot_be_settled_again(db_with_users):
    db = db_with_users
    _, did = _pending_exception(db)
    approve_exception(db, user_id(db, "max"), did, "Yes.", today=TODAY)
    with pytest.raises(StaleCase) as err:
        reject_exception(db, user_id(db, "priya"), did, "No.", today=TODAY)
    assert "approved by Max Müller" in err.value.changes[0]


def test_approving_needs_a_note(db_with_users):
    db = db_with_users
    _, did = _pending_exception(db)
    with pytest.raises(InvalidInput) as err:
        approve_exception(db, user_id(db, "max"), did, "  ", today=TODAY)
    assert err.value.field == "note"


def test_a_case_awaiting_approval_or_closed_cannot_be_decided_again(db_with_users):
    db = db_with_users
    cid, _ = _pending_exception(db)
    with pytest.raises(InvalidInput, match="awaiting"):
        decide(db, user_id(db, "rita"), cid, "deny", None, "", 2, key(), today=TODAY)
    cid2 = add_case(db, **LATE)
    decide(db, user_id(db, "rita"), cid2, "deny", None, "", 1, key(), today=TODAY)
    with pytest.raises(InvalidInput, match="closed"):
        decide(db, user_id(db, "rita"), cid2, "deny", None, "", 2, key(), today=TODAY)


# ---- one audit event, in the same transaction -------------------------------------------------------------


def test_each_decision_writes_exactly_one_audit_event(db_with_users):
    db = db_with_users
    cid = add_case(db, **FAILED_FIX)
    decisions0, events0, _ = counts(db, cid)
    decide(db, user_id(db, "rita"), cid, "partial_refund", 6_000, "Half of it.", 1, key(), today=TODAY)
    assert counts(db, cid) == (decisions0 + 1, events0 + 1, 2)
    with db.read() as s:
        ev = s.scalar(select(CaseEvent).where(CaseEvent.case_id == cid).order_by(CaseEvent.id.desc()).limit(1))
    assert ev.kind == "decision_recorded"
    assert ev.payload["outcome"] == "partial_refund" and ev.payload["amount_cents"] == 6_000


def test_a_failure_after_the_event_is_added_writes_nothing(db_with_users, monkeypatch):
    db = db_with_users
    cid = add_case(db, **FAILED_FIX)
    before = counts(db, cid)
    real_record = audit.record

    def record_then_fail(session, event, **kw):
        real_record(session, event, **kw)
        session.flush()  # the event and the decision are in the database's transaction now...
        raise RuntimeError("disk full")  # ...and then the transaction fails

    monkeypatch.setattr(decisions_module.audit, "record", record_then_fail)
    with pytest.raises(RuntimeError, match="disk full"):
        decide(db, user_id(db, "rita"), cid, "partial_refund", 6_000, "Half.", 1, key(), today=TODAY)
    monkeypatch.setattr(decisions_module.audit, "record", real_record)
    assert counts(db, cid) == before
    with db.read() as s:
        assert s.get(Case, cid).status == "open"


def test_a_failed_approval_leaves_the_exception_pending(db_with_users, monkeypatch):
    db = db_with_users
    cid, did = _pending_exception(db)
    before = counts(db, cid)

    def fail(session, event, **kw):
        raise RuntimeError("connection lost")

    monkeypatch.setattr(decisions_module.audit, "record", fail)
    with pytest.raises(RuntimeError):
        approve_exception(db, user_id(db, "max"), did, "Yes.", today=TODAY)
    monkeypatch.undo()
    assert counts(db, cid) == before
    with db.read() as s:
        assert s.get(Decision, did).approval_status == "pending"
        assert s.get(Case, cid).status == "awaiting_approval"


# ---- idempotency and stale versions ------------------------------------------------------------------------


def test_a_double_submit_with_the_same_key_writes_one_decision_and_one_event(db_with_users):
    db = db_with_users
    cid = add_case(db, **FAILED_FIX)
    k = key()
    first = decide(db, user_id(db, "rita"), cid, "credit", 3_000, "Credit.", 1, k, today=TODAY)
    second = decide(db, user_id(db, "rita"), cid, "credit", 3_000, "Credit.", 1, k, today=TODAY)
    third = decide(db, user_id(db, "rita"), cid, "credit", 3_000, "Credit.", 1, k, today=TODAY)
    assert (first.replayed, second.replayed, third.replayed) == (False, True, True)
    assert first.decision_id == second.decision_id == third.decision_id
    decisions_n, events_n, version = counts(db, cid)
    assert (decisions_n, events_n, version) == (1, 2, 2)  # case_opened + decision_recorded


def test_a_double_approval_with_the_same_key_writes_one_event(db_with_users):
    db = db_with_users
    cid, did = _pending_exception(db)
    k = key()
    approve_exception(db, user_id(db, "max"), did, "Yes.", today=TODAY, idempotency_key=k)
    again = approve_exception(db, user_id(db, "max"), did, "Yes.", today=TODAY, idempotency_key=k)
    assert again.replayed
    with db.read() as s:
        n = s.query(CaseEvent).filter(CaseEvent.case_id == cid, CaseEvent.kind == "exception_approved").count()
    assert n == 1


def test_a_decision_on_a_stale_version_is_refused_with_what_changed(db_with_users):
    db = db_with_users
    cid = add_case(db, **FAILED_FIX)
    assign(db, user_id(db, "omar"), cid, user_id(db, "omar"), 1)
    before = counts(db, cid)
    with pytest.raises(StaleCase) as err:
        decide(db, user_id(db, "rita"), cid, "credit", 3_000, "Credit.", 1, key(), today=TODAY)
    assert "changed since you opened it" in str(err.value)
    assert len(err.value.changes) == 1
    assert "Omar Haddad" in err.value.changes[0] and "Assigned to Omar Haddad" in err.value.changes[0]
    assert counts(db, cid) == before


def test_a_stale_decision_lists_every_change_since_the_version_seen(db_with_users):
    db = db_with_users
    cid = add_case(db, **PENDING_FIX)
    from desk.cases import add_note, record_fix

    add_note(db, user_id(db, "li"), cid, "Customer called again.", 1)
    record_fix(db, user_id(db, "li"), cid, False, "Reinstall did not help.", 2)
    with pytest.raises(StaleCase) as err:
        decide(db, user_id(db, "rita"), cid, "fix", None, "", 1, key(), today=TODAY)
    changes = err.value.changes
    assert len(changes) == 2
    assert "Note: Customer called again." in changes[0]
    assert "Fix attempt recorded: failed" in changes[1]


# ---- amounts in the case's currency -------------------------------------------------------------------------


def _in_currency(db, case_id: int, currency: str) -> None:
    with db.write.begin() as s:
        service_id = s.scalar(select(Case.service_id).where(Case.id == case_id))
        s.execute(text("UPDATE services SET currency = :c WHERE id = :id"), {"c": currency, "id": service_id})


@pytest.mark.parametrize("typed", ["12.345", "0.001", "1,000.999"])
def test_a_typed_amount_with_more_decimals_than_the_currency_is_refused_not_rounded(db_with_users, typed):
    db = db_with_users
    cid = add_case(db, service_date=TODAY - timedelta(days=20), opened_on=TODAY - timedelta(days=1))  # late
    _in_currency(db, cid, "EUR")
    with pytest.raises(InvalidInput) as exc:
        decide(db, user_id(db, "omar"), cid, "credit", typed, EXCEPTION_WHY, 1, key(), today=TODAY)
    assert exc.value.field == "amount"
    assert f"EUR amounts have at most 2 decimals; {typed} has more" in exc.value.message
    assert counts(db, cid) == (0, 1, 1)  # nothing written


def test_a_float_amount_is_refused_because_it_cannot_say_what_was_typed(db_with_users):
    db = db_with_users
    cid = add_case(db, service_date=TODAY - timedelta(days=20), opened_on=TODAY - timedelta(days=1))
    with pytest.raises(InvalidInput) as exc:
        decide(db, user_id(db, "omar"), cid, "credit", 12.34, EXCEPTION_WHY, 1, key(), today=TODAY)
    assert exc.value.field == "amount"
    assert counts(db, cid) == (0, 1, 1)


def test_a_typed_amount_is_taken_exactly_in_the_case_currency_and_the_message_says_it(db_with_users):
    db = db_with_users
    cid = add_case(db, service_date=TODAY - timedelta(days=20), opened_on=TODAY - timedelta(days=1))
    _in_currency(db, cid, "GBP")
    result = decide(db, user_id(db, "omar"), cid, "credit", "25.1", EXCEPTION_WHY, 1, key(), today=TODAY)
    assert (result.amount_cents, result.currency) == (2_510, "GBP")
    assert "Credit for future services of £25.10" in result.message
    with db.read() as s:
        event = s.scalar(select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.kind == "decision_recorded"))
    assert (event.payload["amount_cents"], event.payload["currency"]) == (2_510, "GBP")
    detail = case_detail(db, cid, today=TODAY)
    assert any("£25.10" in entry.what for entry in detail.timeline)
