"""desk.checker: the checker page's logic -- query parameters in, form values, verdict and field errors out."""

from datetime import date, timedelta

import pytest

from desk import checker
from policy import PolicyBook, load_book
from tests.support.cases import TODAY


def form(**changes):
    f = checker.default_form(TODAY)
    f.update(changes)
    return f


def test_a_failed_fix_on_day_3_recommends_a_partial_refund_and_allows_a_credit_citing_section_1(book):
    r = checker.check(form(service_date=TODAY - timedelta(days=3), fix_attempted=True, fix_succeeded=False), book)
    assert isinstance(r, checker.CheckResult)
    assert r.recommended_label == "Partial refund"
    assert r.allowed_labels == ["Partial refund", "Credit for future services"]
    assert [n for n, _ in r.cited] == ["1"]
    assert r.cited[0][1].strip().startswith("Service Refunds")
    assert r.version.version == "2024-01-01"
    assert r.verdict.contact_deadline == TODAY + timedelta(days=4)
    assert r.in_words.startswith("Partial refund. Why: mistake or technical issue on our side")
    assert ("Partial refund", "more than 0.00 and less than 100.00") in r.amount_limits


def test_a_request_on_day_8_is_denied_as_late_citing_sections_4_and_1(book):
    r = checker.check(form(service_date=TODAY - timedelta(days=8)), book)
    assert r.verdict.recommended_outcome == "deny"
    assert [n for n, _ in r.cited] == ["4", "1"]


def test_a_service_date_before_every_version_is_an_error_on_the_service_date_in_plain_words(book):
    r = checker.check(form(service_date=date(2023, 12, 31), request_date=date(2024, 1, 2)), book)
    assert r == checker.FieldError(
        "service_date",
        "No policy version is in force on 2023-12-31; the earliest, '2024-01-01', takes effect on 2024-01-01",
    )


def test_a_request_before_a_started_service_is_an_error_on_the_request_date(book):
    r = checker.check(form(request_date=TODAY - timedelta(days=5)), book)
    assert isinstance(r, checker.FieldError) and r.field == "request_date"
    assert r.message.startswith(str(TODAY - timedelta(days=5)))


def test_a_subscription_is_judged_from_its_cycle_fields_and_errors_land_on_them(book):
    sub = form(
        service_type="subscription",
        reason="unused_subscription",
        cycle_start=TODAY - timedelta(days=2),
        cycle_end=TODAY + timedelta(days=27),
    )
    r = checker.check(sub, book)
    assert r.verdict.recommended_outcome == "deny" and r.verdict.clauses == ("2",)
    bad = checker.check({**sub, "cycle_end": TODAY - timedelta(days=10)}, book)
    assert isinstance(bad, checker.FieldError) and bad.field == "cycle_end"


def test_the_query_parameters_of_a_case_link_prefill_every_field():
    params = {
        "service_type": "subscription",
        "service_status": "in_progress",
        "service_date": "2026-11-01",
        "request_date": "2026-11-04",
        "reason": "billing_error",
        "amount_paid": "29.99",
        "fix_attempted": "true",
        "fix_succeeded": "false",
        "documentation_provided": "1",
        "cycle": "monthly",
        "cycle_start": "2026-11-01",
        "cycle_end": "2026-11-30",
        "cancelled_on": "2026-10-28",
    }
    f, problems = checker.form_from_query(params, TODAY)
    assert problems == []
    assert f == {
        "service_type": "subscription",
        "service_status": "in_progress",
        "service_date": date(2026, 11, 1),
        "request_date": date(2026, 11, 4),
        "reason": "billing_error",
        "amount_paid": 29.99,
        "fix_attempted": True,
        "fix_succeeded": False,
        "documentation_provided": True,
        "cycle": "monthly",
        "cycle_start": date(2026, 11, 1),
        "cycle_end": date(2026, 11, 30),
        "cancelled_on": date(2026, 10, 28),
    }
    assert checker.form_from_query(checker.form_to_query(f), TODAY) == (f, [])


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("service_type", "hardware", "expected one of technical_support"),
        ("service_date", "2026-02-30", "expected a date as YYYY-MM-DD"),
        ("request_date", "yesterday", "expected a date as YYYY-MM-DD"),
        ("amount_paid", "-5", "expected an amount of 0 or more"),
        ("amount_paid", "ten", "expected an amount such as 120.00"),
        ("fix_attempted", "maybe", "expected true or false"),
        ("reason", "bored", "expected one of our_error"),
        ("service_date", "9999-12-31", "dates after 2031-11-25 (five years from today) are not accepted"),
        ("cycle_end", "2031-11-26", "dates after 2031-11-25"),
        ("cancelled_on", "1999-12-31", "dates before 2000-01-01 are not accepted"),
        ("request_date", "2100-01-01", "not accepted"),
    ],
)
def test_a_bad_query_parameter_gets_a_message_naming_it_and_its_field_keeps_the_default(name, value, says):
    f, problems = checker.form_from_query({name: value}, TODAY)
    assert f[name] == checker.default_form(TODAY)[name]
    assert len(problems) == 1 and name in problems[0] and says in problems[0]


def test_a_fix_result_without_a_fix_attempt_in_a_link_is_dropped_with_a_message():
    f, problems = checker.form_from_query({"fix_succeeded": "true"}, TODAY)
    assert (f["fix_attempted"], f["fix_succeeded"]) == (False, None)
    assert "fix_attempted" in problems[0]


def test_versions_are_listed_newest_first_and_compared_as_a_unified_diff():
    first = load_book().versions[0]
    later = first.with_window_days(14, version="2027-01-01", effective_from=date(2027, 1, 1))
    book = PolicyBook([first, later])
    assert checker.version_names(book) == ["2027-01-01", "2024-01-01"]
    diff = checker.compare_versions(book, "2024-01-01", "2027-01-01")
    assert "-window_days: 7" in diff and "+window_days: 14" in diff
    assert checker.compare_versions(book, "2027-01-01", "2027-01-01") == ""
    assert checker.version_in_force(book, date(2026, 12, 31)) == "2024-01-01"
    assert checker.version_in_force(book, date(2027, 1, 1)) == "2027-01-01"


def test_docs_checker_md_lists_every_link_parameter():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "checker.md").read_text()
    table = doc.split("## Linking to the checker")[1].split("\n## ")[0]
    documented = {
        name.strip("` ")
        for line in table.splitlines()
        if line.startswith("| `")
        for name in line.split("|")[1].split(",")
    }
    assert documented == set(checker.FIELDS)


def test_the_last_accepted_day_is_five_years_ahead_and_the_day_after_is_refused():
    last = checker.latest_date(TODAY)
    assert last == date(2031, 11, 25)
    f, problems = checker.form_from_query({"service_date": last.isoformat()}, TODAY)
    assert (f["service_date"], problems) == (last, [])
    assert checker.date_problem(last, TODAY) is None
    assert "not accepted" in checker.date_problem(last + timedelta(days=1), TODAY)
    assert checker.date_problem(checker.EARLIEST_DATE, TODAY) is None


def test_a_typed_date_outside_the_range_is_refused_next_to_its_field(book):
    r = checker.check(form(service_date=date(2099, 1, 1), request_date=date(2099, 1, 3)), book, TODAY)
    assert r == checker.FieldError("service_date", "Dates after 2031-11-25 (five years from today) are not accepted.")
    r = checker.check(form(request_date=date(1999, 5, 1)), book, TODAY)
    assert isinstance(r, checker.FieldError) and r.field == "request_date" and "before 2000-01-01" in r.message
    sub = form(service_type="subscription", cycle_start=TODAY, cycle_end=date(2040, 1, 1), reason="unused_subscription")
    r = checker.check(sub, book, TODAY)
    assert isinstance(r, checker.FieldError) and r.field == "cycle_end"


def test_a_request_date_after_today_is_judged_with_a_word_and_today_is_not():
    assert checker.future_request_note(form(request_date=TODAY), TODAY) is None
    note = checker.future_request_note(form(request_date=TODAY + timedelta(days=1)), TODAY)
    assert note == "2026-11-27 is after today (2026-11-26): this checks a request not made yet."
