"""Policy versions as dated data: the shipped version, loading and validating TOML, choosing the version in
force on a service date (section 6), drafts, and the diff between two versions."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from policy import (
    DEFAULT_POLICY_DIR,
    Facts,
    NoPolicyInForce,
    PolicyBook,
    PolicyError,
    PolicyVersion,
    diff_versions,
    evaluate,
    load_book,
)

REPO = Path(__file__).resolve().parents[2]
SHIPPED = DEFAULT_POLICY_DIR / "2024-01-01.toml"


def toml_with(**changes: str) -> str:
    """The shipped version's TOML with top-level lines replaced, e.g. window_days="window_days = 14". A new
    window of N days is also what its clauses and quotes say ("within N days"), as the loader requires."""
    text = SHIPPED.read_text()
    window = changes.get("window_days", "").partition(" = ")[2]
    if window.isdigit():
        text = text.replace("within 7 days", f"within {window} days")
    lines = text.splitlines()
    for key, line in changes.items():
        lines = [line if ln.split(" = ")[0] == key else ln for ln in lines]
    return "\n".join(lines) + "\n"


def with_clause_line(line: str) -> str:
    """The shipped TOML with one more line in its [clauses] table."""
    return SHIPPED.read_text().replace("\n[[quotes]]", f"\n{line}\n\n[[quotes]]", 1)


def without_sections(first: str) -> str:
    """The shipped TOML without clause ``first`` and those after it (its quotes kept)."""
    text = SHIPPED.read_text()
    return text.split(f'"{first}" = ')[0] + text[text.index("\n[[quotes]]") :]


@pytest.fixture
def two_versions(tmp_path: Path) -> Path:
    """A policy directory with the shipped version and a second one, effective 2027-01-01, whose contact
    window is 14 days."""
    (tmp_path / "2024-01-01.toml").write_text(SHIPPED.read_text())
    (tmp_path / "2027-01-01.toml").write_text(
        toml_with(
            version='version = "2027-01-01"',
            effective_from="effective_from = 2027-01-01",
            window_days="window_days = 14",
        )
    )
    return tmp_path


def late_by_old_terms(service_date: date) -> Facts:
    """Our mistake, reported on day 10: late under a 7-day window, within a 14-day one."""
    return Facts(
        "online_service", "completed", service_date, date.fromordinal(service_date.toordinal() + 10), "our_error", 80.0
    )


# --- the shipped version -----------------------------------------------------------------------------------


def test_the_shipped_book_has_the_current_policy_as_version_2024_01_01():
    book = load_book()
    (version,) = book.versions
    assert (version.version, version.effective_from, version.window_days) == ("2024-01-01", date(2024, 1, 1), 7)
    assert list(version.clauses) == ["1", "2", "3", "4", "5", "6"]


@pytest.mark.parametrize(
    ("number", "heading"),
    [
        ("1", "Service Refunds"),
        ("2", "Subscription and Recurring Payments"),
        ("3", "Digital Products"),
        ("4", "How to Request a Refund or Return"),
        ("5", "Exceptions"),
        ("6", "Changes to This Policy"),
    ],
)
def test_each_shipped_clause_starts_with_its_heading_and_keeps_its_line_breaks(number, heading):
    text = load_book().get("2024-01-01").clauses[number]
    assert text.splitlines()[0] == heading
    assert not text.endswith("\n") and "\n\n" not in text


def test_the_shipped_clauses_keep_the_policy_wording():
    clauses = load_book().get("2024-01-01").clauses
    assert "please contact us within 7 days of the service date" in clauses["1"]
    assert "- Refunds will not be granted for any dissatisfaction arising from user error" in clauses["1"]
    assert "non-refundable once the service has been initiated" in clauses["3"]
    assert "within 7 days of receiving the service" in clauses["4"]
    assert clauses["6"].endswith("the new terms will apply to all services provided after the update.")


def test_the_default_policy_dir_works_from_any_working_directory(tmp_path):
    code = "import policy; b = policy.load_book(); print(b.versions[0].version)"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(REPO)},
        check=True,
    )
    assert result.stdout.strip() == "2024-01-01"


# --- section 6: the version in force on the service date ---------------------------------------------------


def test_service_on_the_day_before_a_new_version_is_judged_by_the_old_one(two_versions):
    verdict = evaluate(late_by_old_terms(date(2026, 12, 31)), load_book(two_versions))
    assert verdict.policy_version == "2024-01-01"
    assert verdict.rule == 3 and verdict.contact_deadline == date(2027, 1, 7)


def test_service_on_the_day_a_new_version_takes_effect_is_judged_by_it(two_versions):
    verdict = evaluate(late_by_old_terms(date(2027, 1, 1)), load_book(two_versions))
    assert verdict.policy_version == "2027-01-01"
    assert verdict.rule == 7 and verdict.within_window and verdict.contact_deadline == date(2027, 1, 15)


def test_a_request_made_after_the_update_about_an_earlier_service_keeps_the_old_terms(two_versions):
    facts = Facts("online_service", "completed", date(2026, 12, 30), date(2027, 1, 9), "our_error", 80.0)
    assert evaluate(facts, load_book(two_versions)).policy_version == "2024-01-01"


def test_version_for_picks_the_latest_version_taking_effect_on_or_before_the_date(two_versions):
    book = load_book(two_versions)
    assert book.version_for(date(2024, 1, 1)).version == "2024-01-01"
    assert book.version_for(date(2026, 12, 31)).version == "2024-01-01"
    assert book.version_for(date(2027, 1, 1)).version == "2027-01-01"
    assert book.version_for(date(2099, 1, 1)).version == "2027-01-01"
    with pytest.raises(NoPolicyInForce, match="no policy version is in force on 2023-12-31"):
        book.version_for(date(2023, 12, 31))


def test_versions_are_sorted_by_effective_from(two_versions):
    assert [v.version for v in load_book(two_versions).versions] == ["2024-01-01", "2027-01-01"]


def test_get_finds_a_version_by_name_or_says_which_exist(two_versions):
    book = load_book(two_versions)
    assert book.get("2027-01-01").window_days == 14
    assert book.get("2030-01-01", None) is None
    with pytest.raises(PolicyError, match="no version named '2030-01-01'; the book has 2024-01-01, 2027-01-01"):
        book.get("2030-01-01")


# --- drafts: with_version and from_toml_text ---------------------------------------------------------------


def test_a_draft_added_with_with_version_judges_services_from_its_day():
    book = load_book()
    draft = PolicyVersion.from_toml_text(
        toml_with(
            version='version = "draft"', effective_from="effective_from = 2026-06-01", window_days="window_days = 30"
        )
    )
    what_if = book.with_version(draft)
    assert [v.version for v in what_if.versions] == ["2024-01-01", "draft"]
    assert [v.version for v in book.versions] == ["2024-01-01"]  # the original book is unchanged
    facts = late_by_old_terms(date(2026, 6, 1))
    assert evaluate(facts, book).rule == 3
    assert evaluate(facts, what_if).rule == 7


def test_a_draft_with_the_same_effective_from_replaces_that_version():
    draft = PolicyVersion.from_toml_text(
        toml_with(version='version = "2024-01-01 draft"', window_days="window_days = 10")
    )
    book = load_book().with_version(draft)
    assert [(v.version, v.window_days) for v in book.versions] == [("2024-01-01 draft", 10)]


def test_a_draft_with_the_same_name_replaces_that_version():
    draft = PolicyVersion.from_toml_text(toml_with(effective_from="effective_from = 2025-01-01"))
    book = load_book().with_version(draft)
    assert [(v.version, v.effective_from) for v in book.versions] == [("2024-01-01", date(2025, 1, 1))]


def test_an_uploaded_draft_may_be_bytes():
    assert PolicyVersion.from_toml_text(SHIPPED.read_bytes()) == load_book().versions[0]


def test_to_toml_text_reads_back_as_the_same_version():
    version = load_book().versions[0]
    assert PolicyVersion.from_toml_text(version.to_toml_text()) == version


def test_clauses_are_ordered_by_number_not_as_text():
    version = load_book().versions[0]
    extended = replace(version, clauses={"10": "Ten", **version.clauses, "7": "Seven"})
    assert list(extended.clauses) == ["1", "2", "3", "4", "5", "6", "7", "10"]


# --- malformed versions are refused with a clear message ---------------------------------------------------

BAD_TOML = [
    ("not TOML", "version = \n", "not valid TOML"),
    ("unknown key", toml_with(window_days="window_day = 7"), "window_day: unknown key"),
    ("missing key", toml_with(window_days=""), "window_days: missing"),
    ("quoted date", toml_with(effective_from='effective_from = "2024-01-01"'), "effective_from: expected a TOML date"),
    (
        "date-time",
        toml_with(effective_from="effective_from = 2024-01-01T00:00:00"),
        "effective_from: expected a TOML date",
    ),
    ("negative window", toml_with(window_days="window_days = -1"), "window_days: expected a whole number"),
    ("fractional window", toml_with(window_days="window_days = 7.5"), "window_days: expected a whole number"),
    ("boolean window", toml_with(window_days="window_days = true"), "window_days: expected a whole number"),
    ("empty name", toml_with(version='version = " "'), "version: expected a non-empty name"),
    ("missing clause", without_sections("5"), "clauses: missing section 5, 6"),
    ("empty clause", with_clause_line('"7" = ""'), "clauses.7: expected the section's text"),
    ("clause not numbered", with_clause_line('"A" = "text"'), "section numbers are digits"),
    ("not UTF-8", b'version = "\xff"', "not UTF-8"),
]


@pytest.mark.parametrize(("text", "message"), [row[1:] for row in BAD_TOML], ids=[row[0] for row in BAD_TOML])
def test_a_malformed_version_is_refused_with_a_message_naming_the_problem(text, message):
    with pytest.raises(PolicyError, match=message):
        PolicyVersion.from_toml_text(text)


def test_a_malformed_file_is_refused_naming_the_file(tmp_path):
    (tmp_path / "2024-01-01.toml").write_text(SHIPPED.read_text().replace("window_days = 7", "window_days = "))
    with pytest.raises(PolicyError, match=r"2024-01-01\.toml: not valid TOML"):
        load_book(tmp_path)


def test_a_file_must_be_named_after_its_effective_from(tmp_path):
    (tmp_path / "current.toml").write_text(SHIPPED.read_text())
    with pytest.raises(PolicyError, match=r"current\.toml: .* expected 2024-01-01\.toml"):
        load_book(tmp_path)


def test_two_versions_may_not_share_a_name(tmp_path):
    (tmp_path / "2024-01-01.toml").write_text(SHIPPED.read_text())
    (tmp_path / "2025-01-01.toml").write_text(toml_with(effective_from="effective_from = 2025-01-01"))
    with pytest.raises(PolicyError, match="two versions are named '2024-01-01'"):
        load_book(tmp_path)


def test_two_versions_may_not_take_effect_on_the_same_day():
    version = load_book().versions[0]
    twin = replace(version, version="twin")
    with pytest.raises(PolicyError, match="both take effect on 2024-01-01"):
        PolicyBook([version, twin])


def test_an_empty_policy_dir_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="no policy versions"):
        load_book(tmp_path)


def test_a_missing_policy_dir_is_refused(tmp_path):
    with pytest.raises(PolicyError, match="does not exist"):
        load_book(tmp_path / "nowhere")


# --- the diff between two versions -------------------------------------------------------------------------


def test_diff_of_a_version_with_itself_is_empty():
    version = load_book().versions[0]
    assert diff_versions(version, version) == ""


def test_diff_shows_a_changed_window_and_a_changed_clause(two_versions):
    old, new = load_book(two_versions).versions
    diff = diff_versions(old, new)
    lines = diff.splitlines()
    assert lines[0] == "--- 2024-01-01 (effective 2024-01-01)"
    assert lines[1] == "+++ 2027-01-01 (effective 2027-01-01)"
    assert "-window_days: 7" in lines and "+window_days: 14" in lines
    assert "-effective_from: 2024-01-01" in lines and "+effective_from: 2027-01-01" in lines
    assert any(ln.startswith("-Our services") and "within 7 days" in ln for ln in lines)
    assert any(ln.startswith("+Our services") and "within 14 days" in ln for ln in lines)
    assert not any(ln.startswith(("-Digital", "+Digital")) for ln in lines)  # section 3 did not change


def test_diff_shows_an_added_section():
    old = load_book().versions[0]
    new = replace(
        old,
        version="next",
        effective_from=date(2027, 1, 1),
        clauses={**old.clauses, "7": "Gift Cards\nNot refundable."},
    )
    assert "+Section 7:\n+Gift Cards\n+Not refundable." in diff_versions(old, new)
