"""Pages under a configured policy directory: the case page judges by it like the checker (a day-10 request
is within a 14-day version's window, the page says which version judged it, the draft reply greets the
customer), and a refused version is a message naming the clause on every page, not an error id."""

from __future__ import annotations

from datetime import timedelta

import pytest

from desk.book import POLICY_DIR_ENV
from policy import load_book
from tests.conftest import make_demo
from tests.pages.test_case_page import button, open_case
from tests.pages.test_checker import open_checker
from tests.support.apptest import shows
from tests.support.cases import TODAY, add_case


@pytest.fixture
def desk_14(tmp_path, monkeypatch):
    """A private demo desk, and a policy directory with only "desk-14" (from 2026-01-01, a 14-day window)."""
    directory = tmp_path / "policy"
    directory.mkdir()
    version = (
        load_book().versions[0].with_window_days(14, version="desk-14", effective_from=TODAY.replace(month=1, day=1))
    )
    (directory / "2026-01-01.toml").write_text(version.to_toml_text())
    monkeypatch.setenv(POLICY_DIR_ENV, str(directory))
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url)
    yield url, db
    db.dispose()


def test_the_case_page_judges_and_decides_by_the_configured_version(app, desk_14):
    url, db = desk_14
    cid = add_case(
        db,
        reason="technical_issue",
        service_date=TODAY - timedelta(days=12),
        opened_on=TODAY - timedelta(days=2),
        customer_name="Zoë Example",
    )
    at = open_case(app(url), cid)
    assert any(
        c.value.startswith("Policy version desk-14 (in force on the service date) · rule 7 · request on day 10")
        for c in at.caption
    )
    assert at.radio(key=f"decide_outcome_{cid}_7").value == "fix"  # the 14-day version's recommendation
    at.text_area(key=f"decide_rationale_{cid}").set_value("Driver reinstalled remotely.")
    button(at, "Record decision").click().run()
    assert not at.exception
    assert shows(at.success, "Decision saved: Fix the issue")  # not an exception awaiting approval
    reply = next(t for t in at.text_area if t.label == "Reply").value  # the reply form starts from the draft
    assert reply.startswith("Dear Zoë Example,") and "we will work to fix the issue." in reply


def test_a_refused_version_is_shown_as_a_message_naming_the_clause(app, tmp_path, monkeypatch):
    shipped = load_book().versions[0].to_toml_text()
    (tmp_path / "2024-01-01.toml").write_text(shipped.replace("window_days = 7", "window_days = 14"))
    monkeypatch.setenv(POLICY_DIR_ENV, str(tmp_path))
    at = open_checker(app)
    assert not at.exception
    assert shows(at.error, "a policy version was refused")
    assert shows(at.error, "2024-01-01.toml: clauses.1: says '7 days'")
    at = open_case(app(), 1)
    assert shows(at.error, "2024-01-01.toml: clauses.1: says '7 days'")
