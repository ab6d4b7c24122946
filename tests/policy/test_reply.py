"""The cited clause texts and the draft reply (policy/reply.py), for verdicts of the shipped book."""

from __future__ import annotations

import pytest

from policy import PolicyError, Verdict, cited_texts, draft_reply, evaluate
from tests.policy.test_verdict import failed_fix, subscription_denied


def test_cited_texts_are_the_clauses_of_the_version_that_judged(book):
    verdict = evaluate(failed_fix(day=9), book)
    texts = cited_texts(verdict, book)
    assert [n for n, _ in texts] == ["4", "1"]
    assert texts[0][1].startswith("How to Request a Refund or Return\n")
    assert book.cited_texts(verdict) == texts


def euros(amount: float) -> str:
    """A money formatter as desk/ passes one in (policy/ itself knows no currencies)."""
    return f"€{amount:,.2f}"


def reply(verdict: Verdict, outcome: str, amount: float | None, book, name: str | None = "Zoë Example") -> str:
    return draft_reply(verdict, outcome, amount, book, customer_name=name, money=euros)


def test_draft_reply_addresses_the_customer_by_name_and_states_amounts_with_the_formatter(book):
    text = reply(evaluate(failed_fix(), book), "partial_refund", 40.0, book)
    assert text.startswith("Dear Zoë Example,\n\n")
    assert "We will refund €40.00 of the €120.00 you paid." in text
    assert "40.00" not in text.replace("€40.00", "")  # no amount without its currency


@pytest.mark.parametrize(
    ("name", "greeting"),
    [
        (None, "Dear customer,"),
        ("  ", "Dear customer,"),
        ("Ana\nMaria\tLópez", "Dear Ana Maria López,"),  # customer data cannot add lines to the reply
    ],
)
def test_draft_reply_salutation_is_one_line_or_the_generic_one(book, name, greeting):
    assert reply(evaluate(failed_fix(), book), "credit", 40.0, book, name=name).splitlines()[0] == greeting


def test_draft_reply_for_a_failed_fix_quotes_only_the_sentences_of_section_1_that_apply(book):
    text = reply(evaluate(failed_fix(), book), "partial_refund", 40.0, book)
    assert (
        'Section 1 (Service Refunds): "If you are dissatisfied with the service due to a mistake or technical '
        'issue on our part, we will work to fix the issue." "If we are unable to resolve the problem, we may '
        'offer a partial refund or credit for future services at our discretion."'
    ) in text
    assert "Refunds will not be granted" not in text  # row 6's sentence, same section
    assert "within 7 days" not in text  # row 3's sentence, same section
    assert "Section 5" not in text and "Section 4" not in text


def test_draft_reply_for_an_exception_quotes_section_5_and_the_rows_sentences(book):
    verdict = evaluate(subscription_denied(), book)
    assert (verdict.rule, verdict.clauses) == (10, ("2",))
    text = reply(verdict, "credit", 50.0, book)
    assert "made an exception" in text and "credit of €50.00" in text
    assert 'Section 2 (Subscription and Recurring Payments): "Refunds for unused portions of subscriptions' in text
    assert "error in billing" not in text  # a sentence of section 2 for rows 4 and 9
    assert (
        'Section 5 (Exceptions): "In certain situations, we may offer a refund or credit outside the general '
        'terms mentioned above, at our discretion." "These exceptions will be reviewed on a case-by-case '
        'basis."'
    ) in text


def test_draft_reply_for_a_request_on_day_10_names_the_deadline_and_quotes_the_window_sentences(book):
    verdict = evaluate(failed_fix(day=10), book)
    assert verdict.rule == 3
    text = reply(verdict, "deny", None, book)
    assert "on day 10, after the deadline of 2026-03-09" in text
    sections = [ln.split(" (")[0] for ln in text.splitlines() if ln.startswith("Section ")]
    assert sections == ["Section 4", "Section 1"]  # in the order the verdict cites them
    assert (
        '"Contact Us: Reach out to our customer support team by email or phone within 7 days of receiving '
        'the service."' in text
    )
    assert "Provide Documentation" not in text and "Review Process" not in text


def test_draft_reply_quotes_follow_the_versions_tags(book):
    """Selection is data: retagging a sentence in the version changes what the reply quotes."""
    from dataclasses import replace

    version = book.versions[0]
    quotes = [
        replace(q, supports=(*q.supports, "rule 9")) if q.text.startswith("Refunds will not") else q
        for q in version.quotes
    ]
    retagged = type(book)([replace(version, quotes=tuple(quotes))])
    text = reply(evaluate(failed_fix(), retagged), "partial_refund", 40.0, retagged)
    assert "Refunds will not be granted" in text


def test_every_verdict_of_the_shipped_book_gets_at_least_one_quoted_sentence_per_cited_section(book):
    from policy.rules import CITATION_SETS

    version = book.versions[0]
    for rule, sets in CITATION_SETS.items():
        for cited in sets:
            quoted = version.quoted_sentences(rule, cited, exception=False)
            assert [n for n, _ in quoted] == list(cited), (rule, cited)


def test_draft_reply_refuses_an_amount_outside_its_bounds(book):
    with pytest.raises(PolicyError, match="must be less than 120.00"):
        reply(evaluate(failed_fix(), book), "partial_refund", 120.0, book)
