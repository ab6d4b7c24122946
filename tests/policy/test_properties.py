"""Properties that hold for every valid request, checked on generated facts (hypothesis)."""

from __future__ import annotations

import json
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import (
    CYCLES,
    MONEY_OUTCOMES,
    REASONS,
    SERVICE_STATUSES,
    SERVICE_TYPES,
    Facts,
    PolicyError,
    Subscription,
    Verdict,
    check_amount,
    evaluate,
    facts_from_dict,
    facts_to_dict,
    load_book,
)
from policy.__main__ import answer_lines

BOOK = load_book()  # read once: hypothesis runs each test many times
WINDOW = BOOK.versions[0].window_days
FIRST_DAY = BOOK.versions[0].effective_from


@st.composite
def valid_facts(draw, started: bool | None = None, min_days: int = 0, max_days: int = 60) -> Facts:
    """Any facts the rules can judge, with the request ``min_days``..``max_days`` after the service date
    (a service not started may also be asked about before its scheduled day)."""
    service_type = draw(st.sampled_from(SERVICE_TYPES))
    statuses = {True: SERVICE_STATUSES[1:], False: SERVICE_STATUSES[:1], None: SERVICE_STATUSES}[started]
    status = draw(st.sampled_from(statuses))
    service_date = draw(st.dates(min_value=FIRST_DAY, max_value=date(2030, 12, 31)))
    low = -30 if status == "not_started" else min_days
    request_date = service_date + timedelta(days=draw(st.integers(low, max(low, max_days))))
    reasons = REASONS if service_type == "subscription" else [r for r in REASONS if r != "unused_subscription"]
    fix_attempted = draw(st.booleans())
    subscription = None
    if service_type == "subscription":
        cycle = draw(st.sampled_from(CYCLES))
        cycle_end = service_date + timedelta(days=draw(st.integers(0, 366)))
        cancelled = draw(
            st.none()
            | st.dates(min_value=service_date - timedelta(days=60), max_value=service_date + timedelta(days=60))
        )
        subscription = Subscription(cycle, service_date, cycle_end, cancelled)
    return Facts(
        service_type,
        status,
        service_date,
        request_date,
        draw(st.sampled_from(reasons)),
        draw(st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.integers(0, 10_000)),
        fix_attempted,
        draw(st.none() | st.booleans()) if fix_attempted else None,
        draw(st.booleans()),
        subscription,
    )


@given(valid_facts())
def test_the_recommendation_is_always_among_the_allowed_outcomes(facts):
    verdict = evaluate(facts, BOOK)
    assert verdict.recommended_outcome in verdict.allowed_outcomes
    assert not verdict.is_exception(verdict.recommended_outcome)


@given(valid_facts(started=True, min_days=WINDOW + 1, max_days=800))
def test_a_late_request_about_a_started_service_is_never_allowed_money(facts):
    verdict = evaluate(facts, BOOK)
    assert not set(verdict.allowed_outcomes) & set(MONEY_OUTCOMES)
    assert (verdict.rule, verdict.recommended_outcome, verdict.within_window) == (3, "deny", False)


@given(valid_facts(started=True, max_days=WINDOW))
def test_a_request_within_the_window_is_never_denied_as_late(facts):
    verdict = evaluate(facts, BOOK)
    assert verdict.rule != 3 and verdict.within_window


@given(valid_facts(max_days=3000))
def test_evaluate_never_raises_for_valid_facts_with_the_request_on_or_after_the_service(facts):
    verdict = evaluate(facts, BOOK)
    assert verdict.contact_deadline == facts.service_date + timedelta(days=WINDOW)
    assert verdict.days_used == (facts.request_date - facts.service_date).days
    assert set(verdict.clauses) <= set(BOOK.versions[0].clauses)
    assert verdict.findings[0].rule == "contact_window" and verdict.findings[-1].rule == "amounts"


@given(valid_facts())
def test_facts_survive_a_round_trip_through_json(facts):
    assert facts_from_dict(json.loads(json.dumps(facts_to_dict(facts)))) == facts


@given(valid_facts())
def test_a_verdict_survives_a_round_trip_and_its_fast_json_is_the_plain_json(facts):
    verdict = evaluate(facts, BOOK)
    assert Verdict.from_dict(json.loads(verdict.to_json())) == verdict
    assert verdict.to_json() == json.dumps(verdict.to_dict(), separators=(",", ":"))


@given(valid_facts(), st.integers(1, 10**8))
def test_any_amount_strictly_between_nothing_and_everything_is_a_valid_partial_refund(facts, cents):
    verdict = evaluate(facts, BOOK)
    paid_cents = round(verdict.amount_paid * 100)
    problem = check_amount(verdict, "partial_refund", cents / 100)
    assert (problem is None) == (cents < paid_cents)


@given(st.lists(valid_facts(), max_size=5))
def test_the_command_line_answers_valid_lines_as_evaluate_does(facts_list):
    lines = [json.dumps(facts_to_dict(f)) + "\n" for f in facts_list]
    answers, errors = answer_lines(lines, BOOK)
    assert errors == 0
    assert answers == [evaluate(f, BOOK).to_json() for f in facts_list]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


def mangled(facts: Facts, key: str, value) -> dict:
    d = facts_to_dict(facts)
    d[key] = value
    return d


@settings(max_examples=300)
@given(
    valid_facts(max_days=20),
    st.sampled_from(
        sorted(
            facts_to_dict(
                Facts(
                    "subscription",
                    "completed",
                    date(2026, 1, 1),
                    date(2026, 1, 1),
                    "dissatisfied",
                    0.0,
                    subscription=Subscription("monthly", date(2026, 1, 1), date(2026, 1, 31), None),
                )
            )
        )
        + ["extra"]
    ),
    JSON,
)
def test_a_mangled_field_is_either_judged_or_refused_naming_a_field_never_a_crash(facts, key, value):
    d = mangled(facts, key, value)
    try:
        evaluate(facts_from_dict(d), BOOK)
    except PolicyError as exc:
        assert str(exc)


@given(st.lists(st.text(max_size=40) | JSON.map(json.dumps), max_size=6))
def test_the_command_line_answers_every_line_whatever_it_holds(lines):
    lines = [ln.replace("\n", " ") + "\n" for ln in lines]
    answers, errors = answer_lines(lines, BOOK)
    assert len(answers) == len(lines)
    parsed = [json.loads(answer) for answer in answers]
    assert all(isinstance(p, dict) for p in parsed)
    assert errors == sum("error" in p for p in parsed)
