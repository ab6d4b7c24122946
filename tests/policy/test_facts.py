"""Facts are validated when made: facts_from_dict is strict with untrusted data and names the wrong field."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from policy import Facts, InvalidFacts, PolicyError, Subscription, facts_from_dict, facts_to_dict

GOOD = {
    "service_type": "technical_support",
    "service_status": "completed",
    "service_date": "2026-03-02",
    "request_date": "2026-03-04",
    "reason": "our_error",
    "amount_paid": 120.0,
    "fix_attempted": True,
    "fix_succeeded": False,
    "documentation_provided": True,
    "subscription": None,
}
GOOD_SUBSCRIPTION = {
    **GOOD,
    "service_type": "subscription",
    "service_date": "2026-03-01",
    "subscription": {"cycle": "monthly", "cycle_start": "2026-03-01", "cycle_end": "2026-03-31", "cancelled_on": None},
}


def changed(base: dict = GOOD, **changes) -> dict:
    d = {**base, **changes}
    return {k: v for k, v in d.items() if v is not ...}  # ... removes a field


def with_subscription(**changes) -> dict:
    return changed(GOOD_SUBSCRIPTION, subscription=changed(GOOD_SUBSCRIPTION["subscription"], **changes))


def test_good_facts_are_read_with_their_types():
    facts = facts_from_dict(GOOD)
    assert facts == Facts(
        "technical_support",
        "completed",
        date(2026, 3, 2),
        date(2026, 3, 4),
        "our_error",
        120.0,
        True,
        False,
        True,
        None,
    )


def test_optional_fields_take_their_defaults():
    facts = facts_from_dict(changed(fix_attempted=..., fix_succeeded=..., documentation_provided=..., subscription=...))
    assert (facts.fix_attempted, facts.fix_succeeded, facts.documentation_provided, facts.subscription) == (
        False,
        None,
        False,
        None,
    )


def test_a_whole_number_amount_is_read_as_a_float():
    facts = facts_from_dict(changed(amount_paid=120))
    assert facts.amount_paid == 120.0 and type(facts.amount_paid) is float
    assert (
        type(Facts("online_service", "completed", date(2026, 1, 1), date(2026, 1, 1), "our_error", 5).amount_paid)
        is float
    )


def test_a_subscription_is_read_with_its_cycle():
    facts = facts_from_dict(GOOD_SUBSCRIPTION)
    assert facts.subscription == Subscription("monthly", date(2026, 3, 1), date(2026, 3, 31), None)


def test_a_subscription_without_cancelled_on_is_not_cancelled():
    d = changed(
        GOOD_SUBSCRIPTION, subscription={"cycle": "annual", "cycle_start": "2026-03-01", "cycle_end": "2027-02-28"}
    )
    assert facts_from_dict(d).subscription.cancelled_on is None


@pytest.mark.parametrize("d", [GOOD, GOOD_SUBSCRIPTION, with_subscription(cancelled_on="2026-02-27")])
def test_facts_to_dict_reads_back_as_the_same_facts(d):
    facts = facts_from_dict(d)
    assert facts_from_dict(facts_to_dict(facts)) == facts
    assert facts_to_dict(facts) == {**d, "amount_paid": float(d["amount_paid"])}


BAD = [
    # (id, dict, field, words in the message)
    ("not an object", ["service_type"], "facts", "expected an object, got an array"),
    ("unknown service type", changed(service_type="hosting"), "service_type", "unknown value 'hosting'"),
    ("service type not a string", changed(service_type=3), "service_type", "unknown value 3"),
    ("unknown status", changed(service_status="done"), "service_status", "expected one of not_started"),
    ("unknown reason", changed(reason="bored"), "reason", "unknown value 'bored'; expected one of our_error"),
    ("impossible date", changed(service_date="2026-02-30"), "service_date", "'2026-02-30' is not a real date"),
    ("impossible request date", changed(request_date="2026-13-01"), "request_date", "not a real date"),
    ("compact date", changed(service_date="20260302"), "service_date", "expected a date as YYYY-MM-DD"),
    ("week date", changed(service_date="2026-W10-1"), "service_date", "expected a date as YYYY-MM-DD"),
    ("date and time", changed(request_date="2026-03-04T10:00"), "request_date", "YYYY-MM-DD"),
    ("date as a number", changed(service_date=20260302), "service_date", "YYYY-MM-DD, got 20260302"),
    ("missing field", changed(reason=...), "reason", "missing"),
    ("missing date", changed(service_date=...), "service_date", "missing"),
    ("unknown field", changed(fix_sucseeded=True), "fix_sucseeded", "unknown field"),
    ("negative amount", changed(amount_paid=-0.01), "amount_paid", "must not be negative"),
    ("amount as text", changed(amount_paid="120"), "amount_paid", "expected a number, got '120'"),
    ("amount as boolean", changed(amount_paid=True), "amount_paid", "expected a number, got True"),
    ("amount NaN", changed(amount_paid=math.nan), "amount_paid", "must be a finite number"),
    ("amount infinite", changed(amount_paid=math.inf), "amount_paid", "must be a finite number"),
    ("amount too large", changed(amount_paid=10**400), "amount_paid", "too large"),
    ("amount missing", changed(amount_paid=...), "amount_paid", "missing"),
    ("fix_attempted as 1", changed(fix_attempted=1), "fix_attempted", "expected true or false, got 1"),
    ("fix_attempted null", changed(fix_attempted=None, fix_succeeded=None), "fix_attempted", "true or false"),
    ("fix_succeeded as text", changed(fix_succeeded="no"), "fix_succeeded", "expected true or false"),
    (
        "fix result without a fix",
        changed(fix_attempted=False, fix_succeeded=True),
        "fix_succeeded",
        "must be null when fix_attempted is false",
    ),
    ("documentation as text", changed(documentation_provided="yes"), "documentation_provided", "true or false"),
    (
        "subscription for a one-off service",
        changed(subscription=GOOD_SUBSCRIPTION["subscription"]),
        "subscription",
        "must be null unless service_type is subscription",
    ),
    (
        "unused subscription without one",
        changed(reason="unused_subscription"),
        "reason",
        "applies only to service_type subscription",
    ),
    (
        "subscription missing",
        changed(GOOD_SUBSCRIPTION, subscription=None),
        "subscription",
        "required when service_type is subscription",
    ),
    (
        "subscription not an object",
        changed(GOOD_SUBSCRIPTION, subscription="monthly"),
        "subscription",
        "expected an object or null, got a string",
    ),
    ("unknown cycle", with_subscription(cycle="weekly"), "subscription.cycle", "expected one of monthly, annual"),
    ("cycle missing", with_subscription(cycle=...), "subscription.cycle", "missing"),
    (
        "cycle ends before it starts",
        with_subscription(cycle_end="2026-02-28"),
        "subscription.cycle_end",
        "2026-02-28 is before subscription.cycle_start 2026-03-01",
    ),
    (
        "impossible cancellation date",
        with_subscription(cancelled_on="2026-02-29"),
        "subscription.cancelled_on",
        "not a real date",
    ),
    ("unknown subscription field", with_subscription(renews=True), "subscription.renews", "unknown field"),
    (
        "service date is not the cycle start",
        changed(GOOD_SUBSCRIPTION, service_date="2026-03-05"),
        "service_date",
        "start of the charged cycle, subscription.cycle_start 2026-03-01, not 2026-03-05",
    ),
]


@pytest.mark.parametrize(("d", "field", "words"), [row[1:] for row in BAD], ids=[row[0] for row in BAD])
def test_bad_facts_are_refused_naming_the_field(d, field, words):
    with pytest.raises(InvalidFacts) as excinfo:
        facts_from_dict(d)
    assert excinfo.value.field == field
    assert str(excinfo.value).startswith(f"{field}: ")
    assert words in str(excinfo.value)


def test_invalid_facts_is_a_policy_error():
    assert issubclass(InvalidFacts, PolicyError)


def test_a_hostile_value_is_shortened_in_the_message():
    with pytest.raises(InvalidFacts) as excinfo:
        facts_from_dict(changed(reason="x" * 10_000))
    assert len(str(excinfo.value)) < 300


# --- the constructor checks too: a Facts that exists can be judged -----------------------------------------


def make(**fields) -> Facts:
    values = {
        "service_type": "online_service",
        "service_status": "completed",
        "service_date": date(2026, 3, 2),
        "request_date": date(2026, 3, 4),
        "reason": "dissatisfied",
        "amount_paid": 10.0,
    }
    return Facts(**{**values, **fields})


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"service_date": datetime(2026, 3, 2, 10, 0)}, "service_date"),
        ({"request_date": "2026-03-04"}, "request_date"),
        ({"service_type": "hosting"}, "service_type"),
        ({"amount_paid": -1}, "amount_paid"),
        ({"fix_attempted": None}, "fix_attempted"),
        ({"subscription": Subscription("monthly", date(2026, 3, 2), date(2026, 4, 1), None)}, "subscription"),
        ({"service_type": "subscription"}, "subscription"),
        ({"service_type": "subscription", "subscription": {"cycle": "monthly"}}, "subscription"),
    ],
)
def test_the_facts_constructor_refuses_what_facts_from_dict_refuses(fields, field):
    with pytest.raises(InvalidFacts) as excinfo:
        make(**fields)
    assert excinfo.value.field == field


def test_the_subscription_constructor_checks_its_dates():
    with pytest.raises(InvalidFacts) as excinfo:
        Subscription("monthly", date(2026, 3, 1), datetime(2026, 3, 31), None)
    assert excinfo.value.field == "subscription.cycle_end"


def test_facts_are_frozen():
    facts = make()
    with pytest.raises(AttributeError):
        facts.reason = "our_error"  # type: ignore[misc]
