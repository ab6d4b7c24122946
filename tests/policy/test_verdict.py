"""The verdict as data: its JSON shape and round trip, exceptions and the amounts a decision may carry (the cited
clause texts and the draft reply: test_reply.py)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from policy import (
    AmountBounds,
    Facts,
    PolicyError,
    Subscription,
    Verdict,
    check_amount,
    evaluate,
)


def failed_fix(amount_paid: float = 120.0, day: int = 2) -> Facts:
    """Our mistake on a completed service of 2 March 2026; the fix failed. Rule 9: partial refund or credit."""
    return Facts(
        "technical_support",
        "completed",
        date(2026, 3, 2),
        date(2026, 3, 2 + day),
        "our_error",
        amount_paid,
        True,
        False,
        True,
    )


def subscription_denied() -> Facts:
    sub = Subscription("annual", date(2026, 1, 1), date(2026, 12, 31), date(2026, 1, 5))
    return Facts(
        "subscription",
        "in_progress",
        date(2026, 1, 1),
        date(2026, 1, 6),
        "unused_subscription",
        240.0,
        subscription=sub,
    )


# --- the JSON shape -----------------------------------------------------------------------------------------


def test_to_dict_is_the_command_line_shape(book):
    d = evaluate(failed_fix(), book).to_dict()
    assert d == {
        "policy_version": "2024-01-01",
        "rule": 9,
        "recommended_outcome": "partial_refund",
        "allowed_outcomes": ["partial_refund", "credit"],
        "clauses": ["1"],
        "contact_deadline": "2026-03-09",
        "days_used": 2,
        "within_window": True,
        "amount_paid": 120.0,
        "amount_bounds": {
            "full_refund": {"min": 120.0, "max": 120.0},
            "partial_refund": {"above": 0.0, "below": 120.0},
            "credit": {"above": 0.0},
        },
        "findings": [
            {"rule": "contact_window", "ok": True, "message": "Request on day 2 of 7."},
            {"rule": "documentation", "ok": True, "message": "Documentation provided (section 4)."},
            {
                "rule": "amounts",
                "ok": True,
                "message": "Amounts: a partial refund is more than 0 and less than the amount paid; "
                "a credit is more than 0.",
            },
        ],
    }


@pytest.mark.parametrize("facts", [failed_fix(), failed_fix(day=9), failed_fix(amount_paid=0.0), subscription_denied()])
def test_to_json_is_json_dumps_of_to_dict(book, facts):
    verdict = evaluate(facts, book)
    assert verdict.to_json() == json.dumps(verdict.to_dict(), separators=(",", ":"))


@pytest.mark.parametrize("facts", [failed_fix(), subscription_denied()])
def test_a_verdict_survives_a_round_trip_through_json(book, facts):
    verdict = evaluate(facts, book)
    again = Verdict.from_dict(json.loads(json.dumps(verdict.to_dict())))
    assert again == verdict
    assert again.to_json() == verdict.to_json()


def test_a_verdict_made_by_hand_writes_the_same_json(book):
    verdict = evaluate(failed_fix(), book)
    by_hand = Verdict(**{name: getattr(verdict, name) for name in Verdict.__dataclass_fields__})
    assert by_hand == verdict and by_hand.to_json() == verdict.to_json()


@pytest.mark.parametrize(
    ("broken", "message"),
    [
        ({"rule": ...}, "missing 'rule'"),
        ({"contact_deadline": "2026-02-30"}, "verdict snapshot"),
        ({"recommended_outcome": "maybe"}, "bad recommended_outcome"),
        ({"within_window": "yes"}, "bad within_window"),
        ({"findings": [{"rule": "x"}]}, "missing 'ok'"),
        ({"findings": [{"rule": "x", "ok": 1, "message": "m"}]}, "bad findings"),
        ({"amount_paid": "120"}, "bad amount_paid"),
        ({"amount_paid": -1.0}, "bad amount_paid"),
    ],
)
def test_a_broken_snapshot_is_refused(book, broken, message):
    d = {**evaluate(failed_fix(), book).to_dict(), **broken}
    d = {k: v for k, v in d.items() if v is not ...}
    with pytest.raises(PolicyError, match=message):
        Verdict.from_dict(d)


# --- exceptions (section 5) ------------------------------------------------------------------------------


def test_an_outcome_outside_the_allowed_ones_is_an_exception(book):
    verdict = evaluate(subscription_denied(), book)
    assert not verdict.is_exception("deny")
    assert verdict.is_exception("credit") and verdict.is_exception("full_refund")


# --- amounts ---------------------------------------------------------------------------------------------

AMOUNTS = [
    # (outcome, amount, None or words of the error)
    ("full_refund", 120.0, None),
    ("full_refund", 120, None),
    ("full_refund", 119.99, "a full refund is the amount paid, 120.00; got 119.99"),
    ("full_refund", 120.01, "a full refund is the amount paid"),
    ("full_refund", None, "needs an amount"),
    ("partial_refund", 0.01, None),
    ("partial_refund", 119.99, None),
    ("partial_refund", 0.0, "a partial refund must be more than 0.00; got 0.00"),
    ("partial_refund", 0.004, "must be more than 0.00"),
    ("partial_refund", 120.0, "must be less than 120.00 (the amount paid; for all of it choose a full refund)"),
    ("partial_refund", -5.0, "must be more than 0.00"),
    ("credit", 0.01, None),
    ("credit", 500.0, None),
    ("credit", 0.0, "a credit for future services must be more than 0.00"),
    ("deny", None, None),
    ("deny", 0.0, None),
    ("deny", 10.0, "'deny the refund' carries no amount"),
    ("fix", 5.0, "'fix the issue' carries no amount"),
    ("credit", float("nan"), "expected a finite number"),
    ("credit", "10", "expected a finite number"),
    ("credit", True, "expected a finite number"),
    ("credit", 10**400, "expected a finite number"),
    ("refund_twice", 10.0, "outcome: unknown value 'refund_twice'"),
]


@pytest.mark.parametrize(("outcome", "amount", "error"), AMOUNTS)
def test_check_amount_names_the_bound_an_amount_breaks(book, outcome, amount, error):
    problem = check_amount(evaluate(failed_fix(), book), outcome, amount)
    if error is None:
        assert problem is None
    else:
        assert problem is not None and error in problem


def test_check_amount_compares_whole_cents():
    verdict = Verdict("v", 4, "full_refund", ("full_refund",), ("2",), date(2026, 1, 8), 1, True, (), 0.3)
    assert check_amount(verdict, "full_refund", 0.1 + 0.2) is None


def test_check_amount_applies_to_exceptions_too(book):
    """A credit on a denied request is an exception, but its amount still has to make sense."""
    verdict = evaluate(subscription_denied(), book)
    assert verdict.is_exception("credit")
    assert check_amount(verdict, "credit", 50.0) is None
    assert check_amount(verdict, "partial_refund", 240.0) is not None


def test_amount_bounds_describe_themselves():
    bounds = AmountBounds(80.0)
    assert bounds.full_refund.describe() == "exactly 80.00"
    assert bounds.partial_refund.describe() == "more than 0.00 and less than 80.00"
    assert bounds.credit.describe() == "more than 0.00"
    assert bounds.for_outcome("deny") is None
    assert bounds.for_outcome("credit").admits(1000.0)
