"""A version's text agrees with its numbers, and its quotes are sentences of its clauses: a version whose
window_days is 14 while a clause still says "within 7 days" is refused at load, naming the clause."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from policy import DEFAULT_POLICY_DIR, Facts, PolicyError, PolicyVersion, evaluate, load_book
from policy.book import Quote, day_counts

SHIPPED = DEFAULT_POLICY_DIR / "2024-01-01.toml"


def version_2027(window: int, text_days: str) -> str:
    """TOML of a version effective 2027-01-01 with a ``window``-day window whose clauses say
    ``within <text_days>``."""
    return (
        SHIPPED.read_text()
        .replace('version = "2024-01-01"', 'version = "2027-01-01"')
        .replace("effective_from = 2024-01-01", "effective_from = 2027-01-01")
        .replace("window_days = 7", f"window_days = {window}")
        .replace("within 7 days", f"within {text_days}")
    )


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    (tmp_path / "2024-01-01.toml").write_text(SHIPPED.read_text())
    return tmp_path


# --- the window the text states ----------------------------------------------------------------------------


def test_a_14_day_version_whose_clauses_still_say_within_7_days_is_refused_naming_the_file_and_clause(policy_dir):
    (policy_dir / "2027-01-01.toml").write_text(version_2027(14, "7 days"))
    with pytest.raises(PolicyError) as refused:
        load_book(policy_dir)
    message = str(refused.value)
    assert "2027-01-01.toml: clauses.1: says '7 days'" in message
    assert "please contact us within 7 days of the service date" in message  # the sentence, to find it
    assert "window_days is 14" in message


def test_a_14_day_version_with_only_section_4_left_at_7_days_is_refused_naming_section_4(policy_dir):
    text = version_2027(14, "14 days").replace("within 14 days of receiving", "within 7 days of receiving")
    (policy_dir / "2027-01-01.toml").write_text(text)
    with pytest.raises(PolicyError, match=r"clauses\.4: says '7 days' \('- Contact Us"):
        load_book(policy_dir)


@pytest.fixture
def two_weeks(policy_dir: Path) -> Path:
    """The shipped version and, from 2027-01-01, one with a 14-day window that says so."""
    (policy_dir / "2027-01-01.toml").write_text(version_2027(14, "14 days"))
    return policy_dir


def our_mistake(service_date: date, day: int) -> Facts:
    return Facts(
        "online_service", "completed", service_date, date.fromordinal(service_date.toordinal() + day), "our_error", 80.0
    )


def test_a_14_day_version_that_says_14_days_loads_and_a_request_on_day_14_is_within(two_weeks):
    verdict = evaluate(our_mistake(date(2027, 1, 1), 14), load_book(two_weeks))
    assert (verdict.policy_version, verdict.rule, verdict.within_window) == ("2027-01-01", 7, True)


def test_under_the_14_day_version_a_request_on_day_15_is_denied_as_late(two_weeks):
    verdict = evaluate(our_mistake(date(2027, 1, 1), 15), load_book(two_weeks))
    assert (verdict.policy_version, verdict.rule, verdict.contact_deadline) == ("2027-01-01", 3, date(2027, 1, 15))


def test_a_service_on_the_day_before_the_14_day_version_keeps_the_7_day_text_and_window(two_weeks):
    book = load_book(two_weeks)
    verdict = evaluate(our_mistake(date(2026, 12, 31), 8), book)
    assert (verdict.policy_version, verdict.rule) == ("2024-01-01", 3)
    assert "within 7 days" in book.get(verdict.policy_version).clauses["1"]


@pytest.mark.parametrize(
    ("says", "window", "ok"),
    [
        ("seven days", 7, True),
        ("seven days", 14, False),
        ("a week", 7, True),
        ("two weeks", 14, True),
        ("one week", 14, False),
        ("14 calendar days", 14, True),
        ("14 Days", 7, False),
    ],
)
def test_counts_of_days_in_words_or_weeks_must_equal_the_window(says, window, ok):
    text = version_2027(window, says)
    if ok:
        assert PolicyVersion.from_toml_text(text).window_days == window
    else:
        with pytest.raises(PolicyError, match=f"clauses.1: says '{says.split()[0]}"):
            PolicyVersion.from_toml_text(text)


def test_a_7_day_window_stated_as_a_hyphenated_count_is_checked_too():
    version = load_book().versions[0]
    clauses = {**version.clauses, "7": "Window\nWe answer within a 10-day window."}
    with pytest.raises(PolicyError, match="clauses.7: says '10-day'"):
        replace(version, clauses=clauses)


def test_business_days_are_refused_because_the_window_counts_calendar_days():
    with pytest.raises(PolicyError, match="clauses.1: says '7 business days'.*counts calendar days"):
        PolicyVersion.from_toml_text(version_2027(7, "7 business days"))


def test_day_counts_lists_each_count_the_text_states():
    assert day_counts("within 7 days, a 7-day window, seven days, two weeks, 3 working days") == [
        ("7 days", 7, None),
        ("7-day", 7, None),
        ("seven days", 7, None),
        ("two weeks", 14, None),
        ("3 working days", 3, "working"),
    ]


def test_with_window_days_makes_a_draft_whose_clauses_and_quotes_say_the_new_window():
    draft = load_book().versions[0].with_window_days(14, version="draft")
    assert (draft.version, draft.window_days) == ("draft", 14)
    assert "within 14 days of the service date" in draft.clauses["1"]
    assert "within 14 days of receiving the service" in draft.clauses["4"]
    assert any("within 14 days" in q.text for q in draft.quotes)
    assert not any("7 days" in t for t in draft.clauses.values())


def test_changing_only_window_days_is_refused():
    with pytest.raises(PolicyError, match="clauses.1: says '7 days'"):
        replace(load_book().versions[0], window_days=14)


# --- quotes: verbatim sentences, tagged with the rows they support --------------------------------------------


def shipped_with_quotes(quotes: tuple[Quote, ...]) -> PolicyVersion:
    return replace(load_book().versions[0], quotes=quotes)


def test_a_quote_that_is_not_verbatim_in_its_clause_is_refused():
    version = load_book().versions[0]
    quotes = (Quote("1", "Refunds are always granted.", ("rule 6",)), *version.quotes)
    with pytest.raises(PolicyError, match=r"quotes\[0\]\.text: not a verbatim sentence of section 1"):
        shipped_with_quotes(quotes)


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("rule 99", "unknown tag 'rule 99'"),
        ("rule 2", "unknown tag 'rule 2'"),  # row 2 is an input error: no reply
        ("findings", "unknown tag 'findings'"),
        ("rule 4", "rule 4 never cites section 1"),
        ("exception", "an exception is quoted from section 5, not 1"),
    ],
)
def test_a_quote_tag_that_names_no_row_citing_its_section_is_refused(tag, message):
    version = load_book().versions[0]
    first = version.quotes[0]
    quotes = (replace(first, supports=(tag,)), *version.quotes[1:])
    with pytest.raises(PolicyError, match=rf"quotes\[0\]\.supports: {message}"):
        shipped_with_quotes(quotes)


def test_a_section_a_row_cites_with_no_sentence_for_that_row_is_refused():
    version = load_book().versions[0]
    quotes = tuple(q for q in version.quotes if "rule 6" not in q.supports)
    with pytest.raises(PolicyError, match='no sentence of section 1 supports rule 6.*supports = \\["rule 6"\\]'):
        shipped_with_quotes(quotes)


def test_a_version_without_exception_sentences_is_refused():
    version = load_book().versions[0]
    quotes = tuple(q for q in version.quotes if q.clause != "5")
    with pytest.raises(PolicyError, match="no sentence of section 5 supports an exception"):
        shipped_with_quotes(quotes)


def test_a_version_file_without_quotes_is_refused_saying_what_they_are():
    text = SHIPPED.read_text()
    with pytest.raises(PolicyError, match="quotes: missing; a version lists"):
        PolicyVersion.from_toml_text(text[: text.index("\n[[quotes]]")])


def test_a_quote_with_an_unknown_key_is_refused():
    text = SHIPPED.read_text().replace('supports = ["rule 3"]', 'supports = ["rule 3"]\nrule = 3', 1)
    with pytest.raises(PolicyError, match=r"quotes\[0\]\.rule: unknown key"):
        PolicyVersion.from_toml_text(text)


def test_the_diff_of_two_versions_shows_a_retagged_quote():
    from policy import diff_versions

    version = load_book().versions[0]
    first = version.quotes[0]
    retagged = replace(version, quotes=(replace(first, supports=(*first.supports, "rule 6")), *version.quotes[1:]))
    assert "+section 1 (rule 3, rule 6): However" in diff_versions(version, retagged)
