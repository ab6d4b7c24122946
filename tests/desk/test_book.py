"""One policy book for every entry point: under a configured policy directory ($REFUND_DESK_POLICY_DIR) the
queue, the case page, deciding, the checker, the import, the what-if replay and the analytics by version all
judge one case by the same version. On SQLite and PostgreSQL.

The configured directory holds one version, "desk-14", in force from 2026-01-01 with a 14-day window (its
text says 14 days). The case is a technical issue reported on day 10: late under the shipped 7-day policy
(row 3, deny), within under desk-14 (row 7, fix)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from desk import analytics, checker
from desk.auth import Actor
from desk.book import POLICY_DIR_ENV, PolicyBookUnusable, current_book
from desk.cases import case_detail
from desk.decisions import decide, default_book
from desk.imports import import_file
from desk.queue import QueueFilters, open_cases
from desk.replay import draft_from_version, replay
from policy import load_book
from tests.support.cases import TODAY, add_case
from tests.support.intake import ADA, MAX, RITA, add_demo_users, example


@pytest.fixture
def desk_14(tmp_path: Path, monkeypatch) -> Path:
    """A policy directory with only "desk-14" (from 2026-01-01, 14 days), configured for the desk."""
    directory = tmp_path / "policy"
    directory.mkdir()
    shipped = load_book().versions[0]
    version = shipped.with_window_days(14, version="desk-14", effective_from=TODAY.replace(month=1, day=1))
    (directory / "2026-01-01.toml").write_text(version.to_toml_text())
    monkeypatch.setenv(POLICY_DIR_ENV, str(directory))
    return directory


@pytest.fixture
def desk(db):
    add_demo_users(db)
    return db


def day_10_case(db) -> int:
    return add_case(
        db, reason="technical_issue", service_date=TODAY - timedelta(days=12), opened_on=TODAY - timedelta(days=2)
    )


def test_the_shipped_policy_finds_the_day_10_request_late(desk):
    cid = day_10_case(desk)
    verdict = case_detail(desk, cid, TODAY).verdict
    assert (verdict.policy_version, verdict.rule, verdict.recommended_outcome) == ("2024-01-01", 3, "deny")


def test_every_entry_point_judges_the_case_by_the_configured_version(desk, desk_14):
    assert current_book() is default_book() is checker.current_book()
    assert [v.version for v in current_book().versions] == ["desk-14"]
    cid = day_10_case(desk)

    # the queue: within the 14-day window
    (row,) = open_cases(desk, actor=None, filters=QueueFilters(text=f"#{cid}"), today=TODAY).rows
    assert (row.case_id, row.window) == (cid, "within")

    # the case page
    detail = case_detail(desk, cid, TODAY)
    assert (detail.verdict.policy_version, detail.verdict.rule, detail.verdict.recommended_outcome) == (
        "desk-14",
        7,
        "fix",
    )
    assert detail.window_days == 14 and "within 14 days" in detail.cited[0][1]

    # the checker, with the case's facts as the case page links them
    form, problems = checker.form_from_query(detail.checker_params, TODAY)
    assert problems == []
    checked = checker.check(form, checker.current_book())
    assert checked.verdict == detail.verdict

    # deciding: fix is what desk-14 recommends, so no exception (under the shipped book it would be one)
    result = decide(desk, RITA, cid, "fix", None, "Driver reinstalled.", detail.version, uuid.uuid4().hex, today=TODAY)
    assert (result.policy_version, result.recommended_outcome, result.is_exception) == ("desk-14", "fix", False)
    reply = case_detail(desk, cid, TODAY).decision.draft_reply
    assert "we will work to fix the issue." in reply and "days" not in reply  # row 7's sentence, not row 3's

    # the analytics by version: the decision counts under desk-14
    manager = Actor(MAX, "max@refund-desk.example", "Max", "manager")
    report = analytics.report(desk, analytics.default_filters(TODAY), manager, TODAY)
    assert list(report.by_version["policy_version"]) == ["desk-14"]

    # the what-if replay: the decision was judged by desk-14 ("was"), the draft is the what-if
    draft = draft_from_version(checker.current_book(), "desk-14", window_days=7, name="desk-7")
    replayed = replay(desk, MAX, draft, TODAY - timedelta(days=30), TODAY, book=checker.current_book())
    assert replayed.judged == 1
    (changed,) = replayed.changed
    assert (changed[0], changed[-2], changed[-1]) == (cid, "desk-14", "desk-7")


def test_the_import_judges_cases_by_the_configured_version(desk, desk_14):
    """An imported case about a 2025 service: judgeable under the shipped book, not under desk-14 (from 2026)."""
    services = example("services.csv").replace(b"2026-11-0", b"2025-11-0")
    import_file(desk, ADA, services, "services.csv", "services")
    report = import_file(desk, ADA, example("cases.csv"), "cases.csv", "cases", dry_run=True)
    assert report.errors, "desk-14 does not cover 2025"
    assert all("the earliest, 'desk-14', takes effect on 2026-01-01" in e.message for e in report.errors)
    assert (
        import_file(desk, ADA, example("cases.csv"), "cases.csv", "cases", dry_run=True, book=load_book()).errors == []
    )


@pytest.fixture
def refused_dir(tmp_path: Path, monkeypatch) -> Path:
    """A configured policy directory whose 2027 version has a 14-day window but says "within 7 days"."""
    directory = tmp_path / "refused"
    directory.mkdir()
    shipped = load_book().versions[0].to_toml_text()
    (directory / "2024-01-01.toml").write_text(shipped)
    (directory / "2027-01-01.toml").write_text(
        shipped.replace('version = "2024-01-01"', 'version = "2027-01-01"')
        .replace("effective_from = 2024-01-01", "effective_from = 2027-01-01")
        .replace("window_days = 7", "window_days = 14")
    )
    monkeypatch.setenv(POLICY_DIR_ENV, str(directory))
    return directory


def test_a_refused_version_stops_every_entry_point_with_a_message_naming_the_clause(desk, refused_dir):
    cid = day_10_case(desk)
    for attempt in (
        current_book,
        lambda: case_detail(desk, cid, TODAY),
        lambda: decide(desk, RITA, cid, "deny", None, "", 1, uuid.uuid4().hex, today=TODAY),
        lambda: open_cases(desk, actor=None, filters=QueueFilters(), today=TODAY),
    ):
        with pytest.raises(PolicyBookUnusable) as refused:
            attempt()
        assert "2027-01-01.toml: clauses.1: says '7 days'" in str(refused.value)
        assert "window_days is 14" in str(refused.value)
    assert case_detail(desk, cid, TODAY, book=load_book()).status == "open"  # nothing was decided
