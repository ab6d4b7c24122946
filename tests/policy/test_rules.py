"""The rule table, row by row, as dated scenarios under the shipped policy (version 2024-01-01, 7-day window).

A service rendered on Monday 2 March 2026 has its contact deadline on Monday 9 March: day 7.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from policy import (
    MONEY_OUTCOMES,
    RULES,
    Facts,
    InvalidFacts,
    NoPolicyInForce,
    Subscription,
    evaluate,
)

SERVICE_DAY = date(2026, 3, 2)
CYCLE_START = date(2026, 3, 1)
CYCLE_END = date(2026, 3, 31)


def facts(day: int = 2, **fields) -> Facts:
    """A completed technical-support service on SERVICE_DAY, 120.00 paid, asked about on ``day``."""
    values = {
        "service_type": "technical_support",
        "service_status": "completed",
        "service_date": SERVICE_DAY,
        "request_date": SERVICE_DAY + timedelta(days=day),
        "reason": "our_error",
        "amount_paid": 120.0,
    }
    values.update(fields)
    return Facts(**values)


def subscription_facts(day: int = 2, cancelled_on: date | None = None, **fields) -> Facts:
    """The monthly cycle of March 2026 was charged; the request comes on ``day`` of it."""
    return facts(
        day,
        service_type="subscription",
        service_date=CYCLE_START,
        request_date=CYCLE_START + timedelta(days=day),
        subscription=Subscription("monthly", CYCLE_START, CYCLE_END, cancelled_on),
        **fields,
    )


def finding(verdict, rule):
    matches = [f for f in verdict.findings if f.rule == rule]
    assert len(matches) <= 1
    return matches[0] if matches else None


# --- every row of the table --------------------------------------------------------------------------------

ROWS = [
    # (id, facts, rule, recommended, allowed, clauses)
    (
        "1 not started",
        facts(service_status="not_started", reason="dissatisfied"),
        1,
        "full_refund",
        ("full_refund", "credit"),
        ("3",),
    ),
    ("3 late", facts(day=8), 3, "deny", ("deny",), ("4", "1")),
    (
        "4 billing error",
        facts(reason="billing_error"),
        4,
        "full_refund",
        ("full_refund", "partial_refund", "credit"),
        ("2",),
    ),
    (
        "5 cancelled before cycle",
        subscription_facts(cancelled_on=date(2026, 2, 20), reason="dissatisfied"),
        5,
        "full_refund",
        ("full_refund", "credit"),
        ("2",),
    ),
    ("6 user error", facts(reason="user_error"), 6, "deny", ("deny",), ("1",)),
    ("6 changed requirements", facts(reason="changed_requirements"), 6, "deny", ("deny",), ("1",)),
    ("6 usage after completion", facts(reason="usage_after_completion"), 6, "deny", ("deny",), ("1",)),
    ("7 our error, no fix yet", facts(reason="our_error"), 7, "fix", ("fix",), ("1",)),
    ("7 technical issue, no fix yet", facts(reason="technical_issue"), 7, "fix", ("fix",), ("1",)),
    ("7 fix pending", facts(fix_attempted=True, fix_succeeded=None), 7, "fix", ("fix",), ("1",)),
    ("8 fix succeeded", facts(fix_attempted=True, fix_succeeded=True), 8, "fix", ("fix",), ("1",)),
    (
        "9 fix failed",
        facts(fix_attempted=True, fix_succeeded=False),
        9,
        "partial_refund",
        ("partial_refund", "credit"),
        ("1",),
    ),
    (
        "9 fix failed, subscription",
        subscription_facts(reason="technical_issue", fix_attempted=True, fix_succeeded=False),
        9,
        "partial_refund",
        ("partial_refund", "credit"),
        ("1", "2"),
    ),
    ("10 unused subscription", subscription_facts(reason="unused_subscription"), 10, "deny", ("deny",), ("2",)),
    ("10 dissatisfied subscriber", subscription_facts(reason="dissatisfied"), 10, "deny", ("deny",), ("2",)),
    ("11 dissatisfied, completed", facts(reason="dissatisfied"), 11, "deny", ("deny",), ("1",)),
    (
        "11 dissatisfied, in progress",
        facts(reason="dissatisfied", service_status="in_progress"),
        11,
        "deny",
        ("deny",),
        ("3",),
    ),
]


@pytest.mark.parametrize(
    ("scenario", "rule", "recommended", "allowed", "clauses"), [row[1:] for row in ROWS], ids=[row[0] for row in ROWS]
)
def test_each_row_of_the_rule_table(book, scenario, rule, recommended, allowed, clauses):
    verdict = evaluate(scenario, book)
    assert (verdict.rule, verdict.recommended_outcome, verdict.allowed_outcomes, verdict.clauses) == (
        rule,
        recommended,
        allowed,
        clauses,
    )
    assert verdict.policy_version == "2024-01-01"


def test_the_rule_table_is_covered_row_by_row():
    """Every row that gives a verdict (all but row 2, an input error) has a scenario above."""
    assert {row[2] for row in ROWS} == {r.number for r in RULES} - {2}


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"row {r.number}")
def test_each_row_recommends_one_of_its_allowed_outcomes(rule):
    assert rule.recommended is None or rule.recommended in rule.allowed


# --- the contact window: day 7 is in, day 8 is out ---------------------------------------------------------


def test_request_on_the_service_day_is_day_0_of_the_window(book):
    verdict = evaluate(facts(day=0), book)
    assert (verdict.days_used, verdict.within_window, verdict.rule) == (0, True, 7)
    assert finding(verdict, "contact_window").message == "Request on day 0 of 7."


def test_request_on_day_7_is_still_within_window(book):
    verdict = evaluate(facts(day=7), book)
    assert verdict.within_window and verdict.days_used == 7
    assert verdict.rule == 7 and verdict.recommended_outcome == "fix"
    assert finding(verdict, "contact_window").ok
    assert finding(verdict, "contact_window").message == "Request on day 7 of 7."


def test_request_on_day_8_is_denied_as_late(book):
    verdict = evaluate(facts(day=8), book)
    assert not verdict.within_window and verdict.days_used == 8
    assert verdict.rule == 3 and verdict.recommended_outcome == "deny"
    assert verdict.allowed_outcomes == ("deny",) and verdict.clauses == ("4", "1")
    window = finding(verdict, "contact_window")
    assert not window.ok
    assert window.message == "Request on day 8 of 7: 1 day after the contact deadline."


def test_contact_deadline_is_the_service_date_plus_the_window(book):
    verdict = evaluate(facts(day=2), book)
    assert verdict.contact_deadline == date(2026, 3, 9)


def test_late_request_about_a_failed_fix_is_denied_as_late(book):
    verdict = evaluate(facts(day=30, fix_attempted=True, fix_succeeded=False), book)
    assert verdict.rule == 3 and verdict.allowed_outcomes == ("deny",)
    assert finding(verdict, "contact_window").message.endswith("23 days after the contact deadline.")


def test_late_billing_error_is_denied_as_late_because_the_window_row_comes_first(book):
    assert evaluate(facts(day=8, reason="billing_error"), book).rule == 3


def test_late_request_for_a_subscription_cancelled_before_the_cycle_is_denied_as_late(book):
    verdict = evaluate(subscription_facts(day=8, cancelled_on=date(2026, 2, 20)), book)
    assert verdict.rule == 3


def test_late_request_for_a_service_in_progress_is_denied_as_late(book):
    verdict = evaluate(facts(day=8, service_status="in_progress"), book)
    assert verdict.rule == 3


# --- row 1: nothing started yet ----------------------------------------------------------------------------


def test_service_not_started_gets_a_full_refund_even_months_after_its_scheduled_day(book):
    verdict = evaluate(facts(day=90, service_status="not_started", reason="changed_requirements"), book)
    assert verdict.rule == 1 and verdict.recommended_outcome == "full_refund"
    assert not verdict.within_window  # reported as a fact, but the window does not apply
    window = finding(verdict, "contact_window")
    assert window.ok and "does not apply" in window.message


def test_service_not_started_may_be_cancelled_before_its_scheduled_day(book):
    verdict = evaluate(facts(day=-10, service_status="not_started"), book)
    assert verdict.rule == 1 and verdict.days_used == -10


def test_subscription_whose_cycle_has_not_started_gets_a_full_refund(book):
    verdict = evaluate(subscription_facts(day=-3, service_status="not_started", reason="unused_subscription"), book)
    assert verdict.rule == 1


# --- row 2: a request dated before a started service is an input error --------------------------------------


@pytest.mark.parametrize("status", ["completed", "in_progress"])
def test_request_the_day_before_a_started_service_is_an_input_error(book, status):
    with pytest.raises(InvalidFacts) as excinfo:
        evaluate(facts(day=-1, service_status=status), book)
    assert excinfo.value.field == "request_date"
    assert str(excinfo.value).startswith("request_date: 2026-03-01 is before the service date 2026-03-02")


# --- row 5: cancelled before the cycle and charged anyway --------------------------------------------------


def test_subscription_cancelled_the_day_before_the_cycle_and_charged_is_refunded_in_full(book):
    verdict = evaluate(subscription_facts(cancelled_on=date(2026, 2, 28), reason="unused_subscription"), book)
    assert verdict.rule == 5 and verdict.recommended_outcome == "full_refund"
    access = finding(verdict, "subscription_access")
    assert not access.ok and "should not have been charged" in access.message


def test_subscription_cancelled_on_the_first_day_of_the_cycle_is_not_refunded(book):
    verdict = evaluate(subscription_facts(cancelled_on=CYCLE_START, reason="unused_subscription"), book)
    assert verdict.rule == 10 and verdict.recommended_outcome == "deny"
    access = finding(verdict, "subscription_access")
    assert access.ok and access.message.endswith("so access continues until 2026-03-31.")


def test_billing_error_on_a_subscription_comes_before_the_cancellation_row(book):
    verdict = evaluate(subscription_facts(cancelled_on=date(2026, 2, 20), reason="billing_error"), book)
    assert verdict.rule == 4


def test_user_error_on_a_subscription_cancelled_before_the_cycle_is_still_refunded(book):
    """Row 5 comes before row 6: the charge itself was wrong, whatever else went wrong."""
    verdict = evaluate(subscription_facts(cancelled_on=date(2026, 2, 20), reason="user_error"), book)
    assert verdict.rule == 5


# --- rows 7 to 9: our mistake, and the fix ----------------------------------------------------------------


def test_fix_attempted_with_the_result_pending_still_recommends_the_fix_and_says_so(book):
    verdict = evaluate(facts(reason="technical_issue", fix_attempted=True, fix_succeeded=None), book)
    assert verdict.rule == 7 and verdict.recommended_outcome == "fix"
    pending = finding(verdict, "fix_pending")
    assert pending is not None and not pending.ok


def test_no_fix_pending_finding_when_no_fix_was_attempted(book):
    assert finding(evaluate(facts(), book), "fix_pending") is None


def test_failed_fix_allows_a_partial_refund_or_a_credit_but_not_a_full_refund(book):
    verdict = evaluate(facts(fix_attempted=True, fix_succeeded=False), book)
    assert verdict.is_exception("full_refund")
    assert not verdict.is_exception("partial_refund") and not verdict.is_exception("credit")


# --- findings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["our_error", "technical_issue", "billing_error"])
def test_missing_documentation_is_reported_for_our_side_and_billing_reasons(book, reason):
    missing = finding(evaluate(facts(reason=reason), book), "documentation")
    assert not missing.ok and "section 4" in missing.message
    provided = finding(evaluate(facts(reason=reason, documentation_provided=True), book), "documentation")
    assert provided.ok


@pytest.mark.parametrize("reason", ["user_error", "changed_requirements", "usage_after_completion", "dissatisfied"])
def test_documentation_is_not_asked_for_other_reasons(book, reason):
    assert finding(evaluate(facts(reason=reason), book), "documentation") is None


def test_missing_documentation_is_reported_even_when_the_request_is_late(book):
    verdict = evaluate(facts(day=20, reason="billing_error"), book)
    assert verdict.rule == 3 and not finding(verdict, "documentation").ok


@pytest.mark.parametrize("cancelled_on", [None, date(2026, 3, 10)])
def test_every_subscription_verdict_says_access_continues_to_the_end_of_the_cycle(book, cancelled_on):
    verdict = evaluate(subscription_facts(cancelled_on=cancelled_on, reason="dissatisfied"), book)
    access = finding(verdict, "subscription_access")
    assert access.ok
    assert "end of the monthly billing cycle" in access.message and "until 2026-03-31" in access.message


def test_no_subscription_finding_for_other_services(book):
    assert finding(evaluate(facts(), book), "subscription_access") is None


def test_amounts_finding_states_the_bounds_of_the_allowed_money_outcomes(book):
    verdict = evaluate(facts(fix_attempted=True, fix_succeeded=False), book)
    amounts = finding(verdict, "amounts")
    assert amounts.ok
    assert "a partial refund is more than 0 and less than the amount paid" in amounts.message
    assert "a credit is more than 0" in amounts.message and "full refund" not in amounts.message
    assert verdict.amount_bounds.partial_refund.describe() == "more than 0.00 and less than 120.00"


def test_amounts_finding_for_a_deny_says_money_would_be_an_exception(book):
    amounts = finding(evaluate(facts(reason="user_error"), book), "amounts")
    assert "section 5" in amounts.message


def test_nothing_paid_is_flagged_when_money_is_allowed(book):
    amounts = finding(evaluate(facts(reason="billing_error", amount_paid=0.0), book), "amounts")
    assert not amounts.ok and amounts.message.endswith("Nothing was paid.")


def test_findings_come_in_a_fixed_order(book):
    verdict = evaluate(subscription_facts(reason="technical_issue", fix_attempted=True), book)
    assert [f.rule for f in verdict.findings] == [
        "contact_window",
        "fix_pending",
        "documentation",
        "subscription_access",
        "amounts",
    ]


# --- which version judges ----------------------------------------------------------------------------------


def test_service_on_the_first_day_of_the_first_version_is_judged(book):
    verdict = evaluate(facts(service_date=date(2024, 1, 1), request_date=date(2024, 1, 3)), book)
    assert verdict.policy_version == "2024-01-01"


def test_service_the_day_before_every_version_is_an_error_that_says_so(book):
    with pytest.raises(NoPolicyInForce) as excinfo:
        evaluate(facts(service_date=date(2023, 12, 31), request_date=date(2024, 1, 2)), book)
    message = str(excinfo.value)
    assert "2023-12-31" in message and "earliest" in message and "2024-01-01" in message


def test_money_outcomes_are_the_three_that_carry_an_amount():
    assert MONEY_OUTCOMES == ("full_refund", "partial_refund", "credit")
