"""desk.replay: what-if replays of a draft policy over past decisions, counted by hand on a small desk."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from data.models import Case, Customer, Decision, Service
from desk.errors import InvalidInput, NotAllowed
from desk.replay import draft_book, draft_from_toml, draft_from_version, replaced_version, replay
from tests.support.intake import MAX, PRIYA, RITA, TABLES, checksum, counts

SERVICE_DAY = date(2026, 3, 1)  # every service of the fixture was completed on this day
IN_RANGE = date(2026, 3, 20)
START, END = date(2026, 3, 1), date(2026, 3, 31)

# The fixture, one line per case: (name, day of the request after the service, reason, fix result,
# decisions as (outcome, is_exception, approval_status, superseded, decided_on)).
# Under the shipped policy (7-day window) and a draft with a 14-day window:
#   A  day 10, technical issue, no fix      now: deny (late)   draft: fix        -> more generous; would decide fix
#   B  day 10, billing error                now: deny (late)   draft: full refund-> more generous; would refund
#   C  day 3,  technical issue, fix failed  partial refund under both, decided partial refund
#   D  day 20, dissatisfied, credit granted as an approved exception; late under both -> stays an exception
#   E  day 9,  user error                   deny under both (row 3 now, row 6 under the draft: same verdict)
#   F  day 12, our error, fix failed, partial refund granted as an exception; the draft allows it -> no exception
#   G  day 6,  technical issue, fix failed  partial refund under both, decided credit (allowed)
#   I  day 2,  technical issue, no fix: an exception (credit) was refused and superseded; the current decision is fix
#   H  decided outside the range                        -> not counted
#   J  still open, no decision                          -> not counted
#   K  an exception waiting for approval in the range   -> not counted
FIXTURE = [
    ("A", 10, "technical_issue", None, [("deny", False, "not_required", False, IN_RANGE)]),
    ("B", 10, "billing_error", None, [("deny", False, "not_required", False, IN_RANGE)]),
    ("C", 3, "technical_issue", False, [("partial_refund", False, "not_required", False, IN_RANGE)]),
    ("D", 20, "dissatisfied", None, [("credit", True, "approved", False, IN_RANGE)]),
    ("E", 9, "user_error", None, [("deny", False, "not_required", False, IN_RANGE)]),
    ("F", 12, "our_error", False, [("partial_refund", True, "approved", False, IN_RANGE)]),
    ("G", 6, "technical_issue", False, [("credit", False, "not_required", False, IN_RANGE)]),
    (
        "I",
        2,
        "technical_issue",
        None,
        [("credit", True, "rejected", True, IN_RANGE), ("fix", False, "not_required", False, IN_RANGE)],
    ),
    ("H", 10, "billing_error", None, [("deny", False, "not_required", False, date(2026, 5, 1))]),
    ("J", 1, "technical_issue", None, []),
    ("K", 20, "dissatisfied", None, [("credit", True, "pending", False, IN_RANGE)]),
]


@pytest.fixture
def small_desk(staff_db):
    """Eleven technical support cases about services completed on 2026-03-01 (see FIXTURE)."""
    db = staff_db
    with db.write.begin() as s:
        customer = Customer(name="Ann Example", email="ann@example.com", created_at=datetime(2026, 1, 1))
        s.add(customer)
        s.flush()
        for name, day, reason, fix_ok, decisions in FIXTURE:
            service = Service(
                external_id=f"S-{name}",
                customer_id=customer.id,
                service_type="technical_support",
                price_cents=10000,
                status="completed",
                purchased_on=SERVICE_DAY - timedelta(days=2),
                scheduled_on=SERVICE_DAY - timedelta(days=1),
                initiated_on=SERVICE_DAY - timedelta(days=1),
                completed_on=SERVICE_DAY,
            )
            s.add(service)
            s.flush()
            opened = SERVICE_DAY + timedelta(days=day)
            case = Case(
                external_id=f"C-{name}",
                service_id=service.id,
                customer_id=customer.id,
                service_type="technical_support",
                opened_on=opened,
                channel="email",
                reason=reason,
                description="",
                amount_requested_cents=10000,
                documentation=[],
                fix_attempted=fix_ok is not None,
                fix_succeeded=fix_ok,
                status="closed" if decisions else "open",
                due_on=opened + timedelta(days=14),
                decided_on=decisions[-1][4] if decisions else None,
                version=1,
                created_at=datetime(2026, 3, 1),
            )
            s.add(case)
            s.flush()
            for outcome, exception, approval, superseded, decided_on in decisions:
                s.add(
                    Decision(
                        case_id=case.id,
                        outcome=outcome,
                        amount_cents=0,
                        rationale="",
                        decided_by_id=RITA,
                        decided_at=datetime.combine(decided_on, datetime.min.time()),
                        decided_on=decided_on,
                        service_type="technical_support",
                        reason=reason,
                        policy_version="2024-01-01",
                        recommended_outcome="deny",
                        verdict={},
                        is_exception=exception,
                        approval_status=approval,
                        approver_id=PRIYA if approval in ("approved", "rejected") else None,
                        superseded=superseded,
                    )
                )
    return db


def test_a_14_day_window_changes_three_verdicts_all_more_generous(small_desk, book):
    draft = draft_from_version(book, "2024-01-01", window_days=14)
    progress = []
    r = replay(small_desk, MAX, draft, START, END, book=book, progress=lambda d, t: progress.append((d, t)), chunk=3)
    assert progress == [(0, 8), (3, 8), (6, 8), (8, 8)]  # keyset pages of 3
    assert (r.cases, r.judged, r.verdicts_changed, r.more_generous, r.less_generous) == (8, 8, 3, 3, 0)
    rates = r.rates().set_index("measure")
    assert rates.loc["Refund rate"].tolist()[:2] == [4 / 8, 5 / 8]  # C D F G -> + B
    assert rates.loc["Exception rate"].tolist()[:2] == [2 / 8, 1 / 8]  # D F -> D
    changed = r.changed_frame().set_index("external_id")
    assert sorted(changed.index) == ["C-A", "C-B", "C-F"]
    assert changed.loc["C-A", ["recommended_was", "recommended_draft", "would_decide", "direction"]].tolist() == [
        "deny",
        "fix",
        "fix",
        "more generous",
    ]
    assert changed.loc["C-B", ["recommended_draft", "allowed_draft", "would_decide"]].tolist() == [
        "full_refund",
        "full_refund partial_refund credit",
        "full_refund",
    ]
    assert changed.loc["C-F", ["decided", "was_exception", "would_decide", "exception_under_draft"]].tolist() == [
        "partial_refund",
        True,
        "partial_refund",
        False,
    ]
    by_reason = r.by_reason_frame().set_index("reason")
    assert by_reason.loc["Technical issue", ["cases", "changed", "more generous"]].tolist() == [4, 1, 1]  # A C G I
    assert by_reason.loc["Billing error", "refund rate (draft)"] == 1.0
    assert r.by_service_type_frame()["cases"].tolist() == [8]
    rows = list(csv.reader(io.StringIO(r.changed_csv().decode())))
    assert rows[0][:3] == ["case_id", "external_id", "decided_on"] and len(rows) == 4


def test_a_5_day_window_changes_one_verdict_less_generous(small_desk, book):
    r = replay(small_desk, MAX, draft_from_version(book, "2024-01-01", window_days=5), START, END, book=book)
    assert (r.cases, r.verdicts_changed, r.more_generous, r.less_generous) == (8, 1, 0, 1)
    [g] = r.changed_frame().to_dict("records")
    assert (g["external_id"], g["recommended_was"], g["recommended_draft"]) == ("C-G", "partial_refund", "deny")
    assert (g["would_decide"], g["exception_under_draft"]) == ("deny", False)  # the credit is no longer allowed
    rates = r.rates().set_index("measure")
    assert rates.loc["Refund rate"].tolist()[:2] == [4 / 8, 3 / 8]
    assert rates.loc["Exception rate"].tolist()[:2] == [2 / 8, 2 / 8]


def test_the_same_policy_changes_nothing(small_desk, book):
    r = replay(small_desk, MAX, draft_from_version(book, "2024-01-01"), START, END, book=book)
    assert (r.cases, r.verdicts_changed) == (8, 0)
    assert r.rates()["change (points)"].tolist() == [0.0, 0.0]


def test_a_draft_in_force_only_for_later_services_changes_nothing_earlier(small_desk, book):
    later = draft_from_version(book, "2024-01-01", window_days=14, effective_from=date(2026, 3, 2), name="2026-03-02")
    assert replay(small_desk, MAX, later, START, END, book=book).verdicts_changed == 0


def test_a_replay_never_writes(small_desk, book):
    before = counts(small_desk), {t: checksum(small_desk, t) for t in TABLES}
    replay(small_desk, MAX, draft_from_version(book, "2024-01-01", window_days=14), START, END, book=book)
    assert (counts(small_desk), {t: checksum(small_desk, t) for t in TABLES}) == before
    with small_desk.write.begin() as s:  # the connection went back to the pool writable
        s.add(Customer(name="After", email="after@example.com", created_at=datetime(2026, 4, 1)))
    assert counts(small_desk)["customers"] == before[0]["customers"] + 1


def test_only_managers_and_admins_may_replay(small_desk, book):
    with pytest.raises(NotAllowed):
        replay(small_desk, RITA, draft_from_version(book, "2024-01-01"), START, END, book=book)


def test_an_empty_range_and_a_backwards_range(small_desk, book):
    draft = draft_from_version(book, "2024-01-01")
    assert replay(small_desk, MAX, draft, date(2020, 1, 1), date(2020, 12, 31), book=book).cases == 0
    with pytest.raises(InvalidInput):
        replay(small_desk, MAX, draft, END, START, book=book)


def test_an_uploaded_draft_is_read_from_toml_and_a_broken_one_is_explained(book):
    shipped = book.versions[0].to_toml_text()
    with pytest.raises(InvalidInput, match=r"not a valid policy version: clauses\.1: says '7 days'"):
        draft_from_toml(shipped.replace("window_days = 7", "window_days = 10"))  # its text still says 7
    text = shipped.replace("window_days = 7", "window_days = 10").replace("within 7 days", "within 10 days")
    draft = draft_from_toml(text.encode())
    assert (draft.version, draft.window_days) == ("2024-01-01", 10)
    assert replaced_version(book, draft).version == "2024-01-01"
    assert draft_book(book, draft).versions == (draft,)
    with pytest.raises(InvalidInput) as exc:
        draft_from_toml(text.replace("window_days = 10", "window_days = -1"))
    assert exc.value.field == "draft" and "window_days" in exc.value.message
    with pytest.raises(InvalidInput, match="window_days"):
        draft_from_version(book, "2024-01-01", window_days=99999)


def test_a_draft_with_another_window_says_that_window_in_its_clauses(book):
    draft = draft_from_version(book, "2024-01-01", window_days=14)
    assert draft.window_days == 14
    assert "within 14 days of the service date" in draft.clauses["1"]
    assert "within 14 days of receiving the service" in draft.clauses["4"]
