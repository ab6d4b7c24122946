"""One case in desk/: what the case page reads, and the small writes (assign, note, fix attempt), each with its
audit event in the same transaction, idempotent and version-checked. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from data.models import Case, Service
from desk import audit
from desk import cases as cases_module
from desk.cases import add_note, assign, assign_many, case_detail, parse_case_id, record_fix
from desk.decisions import decide
from desk.errors import InvalidInput, NotAllowed, NotFound, StaleCase
from tests.support.cases import TODAY, add_case, counts, user_id

CHECKER_FIELDS = {
    "service_type",
    "service_status",
    "service_date",
    "request_date",
    "reason",
    "amount_paid",
    "fix_attempted",
    "fix_succeeded",
    "documentation_provided",
    "cycle",
    "cycle_start",
    "cycle_end",
    "cancelled_on",
}


def test_the_case_detail_has_facts_verdict_cited_clauses_and_a_timeline_newest_first(demo_db):
    db = demo_db
    cid = add_case(
        db,
        reason="our_error",
        documentation=[{"kind": "screenshot", "name": "error.png", "note": "The dialog"}],
        customer_name="Zoë Example",
    )
    assign(db, user_id(db, "rita"), cid, user_id(db, "rita"), 1)
    add_note(db, user_id(db, "rita"), cid, "Called the customer.", 2)
    d = case_detail(db, cid, TODAY)
    assert (d.id, d.version, d.status, d.customer_name) == (cid, 3, "open", "Zoë Example")
    assert d.assignee is not None and d.assignee.name == "Rita Ramos"
    assert d.documentation == [{"kind": "screenshot", "name": "error.png", "note": "The dialog"}]
    assert d.facts is not None and d.facts.documentation_provided
    assert d.verdict is not None and d.verdict.recommended_outcome == "fix"
    assert [n for n, _ in d.cited] == list(d.verdict.clauses) == ["1"]
    assert d.cited[0][1].startswith("Service Refunds")
    assert d.window_days == 7
    assert [e.kind for e in d.timeline] == ["note_added", "assigned", "case_opened"]
    assert d.timeline[0].actor == "Rita Ramos" and d.timeline[0].what == "Note: Called the customer."
    assert d.decision is None
    assert d.days_left == 12 and d.age_days == 2
    assert {p.email.split("@")[0] for p in d.assignable} >= {"rita", "omar", "max"}
    assert "ada" not in {p.email.split("@")[0] for p in d.assignable}  # admins do not work cases


def test_the_checker_link_carries_the_facts_under_the_policy_field_names(demo_db):
    db = demo_db
    cid = add_case(db, service_type="subscription", reason="billing_error", cancelled_on=TODAY - timedelta(days=9))
    params = case_detail(db, cid, TODAY).checker_params
    assert set(params) <= CHECKER_FIELDS
    assert params["service_type"] == "subscription" and params["cycle"] == "monthly"
    assert params["cancelled_on"] == (TODAY - timedelta(days=9)).isoformat()
    assert params["amount_paid"] == "120.00" and params["fix_attempted"] == "false"


def test_a_decided_case_shows_a_draft_reply_by_name_in_its_currency_quoting_the_sentences_that_apply(demo_db):
    db = demo_db
    cid = add_case(db, reason="technical_issue", fix_attempted=True, fix_succeeded=False, customer_name="Zoë Example")
    with db.write.begin() as s:
        s.execute(
            update(Service)
            .where(Service.id == select(Case.service_id).where(Case.id == cid).scalar_subquery())
            .values(currency="EUR")
        )
    decide(db, user_id(db, "rita"), cid, "partial_refund", 5_000, "Half.", 1, uuid.uuid4().hex, today=TODAY)
    d = case_detail(db, cid, TODAY)
    assert d.decision is not None and d.decision.outcome == "partial_refund"
    assert d.decision.decided_by is not None and d.decision.decided_by.name == "Rita Ramos"
    reply = d.decision.draft_reply
    assert reply.startswith("Dear Zoë Example,")
    assert "We will refund €50.00 of the €120.00 you paid." in reply
    assert "we may offer a partial refund or credit for future services at our discretion." in reply
    assert d.cited[0][1] not in reply  # the whole section is not quoted, only the sentences that apply
    assert "Refunds will not be granted" not in reply


def test_an_unknown_case_is_not_found(demo_db):
    with pytest.raises(NotFound):
        case_detail(demo_db, 10**9, TODAY)


@pytest.mark.parametrize("raw", ["", "abc", "12x", "-3", "1.5", "<script>", "9" * 40, None, "١٢"])
def test_a_case_number_that_is_not_one_is_refused(raw):
    with pytest.raises(InvalidInput):
        parse_case_id(raw)


@pytest.mark.parametrize(("raw", "number"), [("42", 42), (" 42 ", 42), ("#42", 42)])
def test_a_case_number_is_read_from_a_url(raw, number):
    assert parse_case_id(raw) == number


def test_assigning_bumps_the_version_and_writes_one_event(demo_db):
    db = demo_db
    cid = add_case(db)
    change = assign(db, user_id(db, "rita"), cid, user_id(db, "omar"), 1)
    assert change.version == 2
    assert counts(db, cid) == (0, 2, 2)
    unassigned = assign(db, user_id(db, "rita"), cid, None, 2)
    assert unassigned.version == 3
    timeline = case_detail(db, cid, TODAY).timeline
    assert timeline[0].what == "Unassigned (was Omar Haddad)"
    assert timeline[1].what == "Assigned to Omar Haddad"


def test_a_case_cannot_be_assigned_to_an_admin_or_an_inactive_user_or_twice(demo_db):
    db = demo_db
    cid = add_case(db, assignee="rita")
    for who in ("ada", "victor"):
        with pytest.raises(InvalidInput) as err:
            assign(db, user_id(db, "rita"), cid, user_id(db, who), 1)
        assert err.value.field == "assignee"
    with pytest.raises(InvalidInput, match="already assigned to Rita Ramos"):
        assign(db, user_id(db, "rita"), cid, user_id(db, "rita"), 1)
    assert counts(db, cid)[2] == 1


def test_an_admin_may_not_change_a_case(demo_db):
    db = demo_db
    cid = add_case(db)
    with pytest.raises(NotAllowed):
        add_note(db, user_id(db, "ada"), cid, "I am the admin.", 1)
    assert counts(db, cid)[2] == 1


def test_a_note_is_required_and_idempotent(demo_db):
    db = demo_db
    cid = add_case(db)
    with pytest.raises(InvalidInput) as err:
        add_note(db, user_id(db, "rita"), cid, "   ", 1)
    assert err.value.field == "note"
    k = uuid.uuid4().hex
    first = add_note(
        db, user_id(db, "rita"), cid, "<b>bold</b> ![x](http://127.0.0.1:9/evil.png)", 1, idempotency_key=k
    )
    second = add_note(
        db, user_id(db, "rita"), cid, "<b>bold</b> ![x](http://127.0.0.1:9/evil.png)", 1, idempotency_key=k
    )
    assert (first.replayed, second.replayed, first.event_id) == (False, True, second.event_id)
    assert counts(db, cid) == (0, 2, 2)
    assert case_detail(db, cid, TODAY).timeline[0].what == "Note: <b>bold</b> ![x](http://127.0.0.1:9/evil.png)"


def test_a_failed_fix_turns_the_verdict_into_a_partial_refund_or_credit(demo_db):
    db = demo_db
    cid = add_case(db, reason="our_error")
    assert case_detail(db, cid, TODAY).verdict.allowed_outcomes == ("fix",)
    record_fix(db, user_id(db, "rita"), cid, None, "Patch applied; waiting for the customer.", 1)
    d = case_detail(db, cid, TODAY)
    assert (d.fix_attempted, d.fix_succeeded, d.verdict.recommended_outcome) == (True, None, "fix")
    record_fix(db, user_id(db, "rita"), cid, False, "Still broken.", 2)
    d = case_detail(db, cid, TODAY)
    assert (d.fix_attempted, d.fix_succeeded) == (True, False)
    assert d.verdict.allowed_outcomes == ("partial_refund", "credit")
    assert d.timeline[0].what == "Fix attempt recorded: failed — Still broken."


def test_a_fix_cannot_be_recorded_on_a_closed_case(demo_db):
    db = demo_db
    cid = add_case(db, reason="our_error")
    decide(db, user_id(db, "rita"), cid, "fix", None, "", 1, uuid.uuid4().hex, today=TODAY)
    with pytest.raises(InvalidInput, match="closed"):
        record_fix(db, user_id(db, "rita"), cid, True, "", 2)


def test_a_stale_assignment_is_refused_with_what_changed(demo_db):
    db = demo_db
    cid = add_case(db)
    record_fix(db, user_id(db, "omar"), cid, True, "Fixed remotely.", 1)
    with pytest.raises(StaleCase) as err:
        assign(db, user_id(db, "rita"), cid, user_id(db, "rita"), 1)
    assert "Fix attempt recorded: succeeded" in err.value.changes[0]
    assert counts(db, cid)[2] == 2


@pytest.mark.parametrize(
    "write",
    [
        lambda db, cid: assign(db, user_id(db, "rita"), cid, user_id(db, "rita"), 1),
        lambda db, cid: add_note(db, user_id(db, "rita"), cid, "Note.", 1),
        lambda db, cid: record_fix(db, user_id(db, "rita"), cid, False, "", 1),
    ],
    ids=["assign", "note", "fix"],
)
def test_a_failure_after_the_event_is_added_leaves_the_case_unchanged(demo_db, monkeypatch, write):
    db = demo_db
    cid = add_case(db)
    before = counts(db, cid)
    real = audit.record

    def record_then_fail(session, event, **kw):
        real(session, event, **kw)
        session.flush()
        raise RuntimeError("boom")

    monkeypatch.setattr(cases_module.audit, "record", record_then_fail)
    with pytest.raises(RuntimeError, match="boom"):
        write(db, cid)
    monkeypatch.undo()
    assert counts(db, cid) == before
    d = case_detail(db, cid, TODAY)
    assert (d.assignee, d.fix_attempted) == (None, False)


def test_assigning_several_cases_skips_the_ones_that_changed(demo_db):
    db = demo_db
    a, b, c = add_case(db), add_case(db), add_case(db)
    add_note(db, user_id(db, "omar"), b, "Mine now?", 1)
    result = assign_many(db, user_id(db, "rita"), [(a, 1), (b, 1), (c, 1)], user_id(db, "rita"))
    assert result.assigned == [a, c]
    assert [cid for cid, _ in result.skipped] == [b]
    assert "Note: Mine now?" in result.skipped[0][1]
