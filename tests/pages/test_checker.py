"""The policy checker page in AppTest: a scenario end to end, pre-fill from a link, bad input, versions.
(The what-if replay, once a tab of this page: tests/pages/test_replay.py.)"""

import shutil
from datetime import date, timedelta

import pytest

from desk.checker import POLICY_DIR_ENV
from policy import DEFAULT_POLICY_DIR
from tests.conftest import TODAY

CASE_LINK = {
    "service_type": "software_update",
    "service_status": "completed",
    "service_date": "2026-11-20",
    "request_date": "2026-11-23",
    "reason": "our_error",
    "amount_paid": "59.99",
    "fix_attempted": "true",
    "fix_succeeded": "false",
    "documentation_provided": "true",
}


def open_checker(app, user="rita@refund-desk.example", params=None):
    at = app()
    at.session_state["local_user_email"] = user
    at.run()
    at.switch_page("pages/checker.py")
    for key, value in (params or {}).items():
        at.query_params[key] = value
    return at.run()


def markdown(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_a_failed_fix_on_day_3_recommends_a_partial_refund_with_the_text_of_clause_1(app):
    at = open_checker(app)
    assert not at.exception
    at.date_input(key="chk_service_date").set_value(TODAY - timedelta(days=3)).run()
    at.date_input(key="chk_request_date").set_value(TODAY).run()
    at.selectbox(key="chk_reason").set_value("technical_issue").run()
    at.number_input(key="chk_amount_paid").set_value(120.0).run()
    at.radio(key="chk_fix").set_value("failed").run()
    assert not at.exception
    text = markdown(at)
    assert "#### Recommended: Partial refund" in text
    assert "**Allowed under the general terms:** Partial refund · Credit for future services" in text
    assert "Request on day 3 of 7." in text
    assert "**Contact deadline:** 2026-11-30 (day 3 of 7)" in text
    assert "Partial refund: more than 0.00 and less than 120.00" in text
    clauses = [t.value for t in at.tabs[0].text]
    assert len(clauses) == 1 and clauses[0].startswith("Service Refunds") and "partial refund or credit" in clauses[0]


def test_a_request_on_day_8_is_denied_as_late_citing_sections_4_and_1(app):
    at = open_checker(app)
    at.date_input(key="chk_service_date").set_value(TODAY - timedelta(days=8)).run()
    text = markdown(at)
    assert (
        "#### Recommended: Deny the refund" in text
        and "Request on day 8 of 7: 1 day after the contact deadline." in text
    )
    assert [t.value.split("\n")[0] for t in at.tabs[0].text] == ["How to Request a Refund or Return", "Service Refunds"]


def test_a_case_link_prefills_the_form_and_the_verdict(app):
    at = open_checker(app, params=CASE_LINK)
    assert not at.exception and not at.warning
    assert at.selectbox(key="chk_service_type").value == "software_update"
    assert at.date_input(key="chk_service_date").value == date(2026, 11, 20)
    assert at.number_input(key="chk_amount_paid").value == 59.99
    assert at.radio(key="chk_fix").value == "failed"
    assert at.checkbox(key="chk_documentation_provided").value is True
    assert "#### Recommended: Partial refund" in markdown(at)
    assert "Documentation provided (section 4)." in markdown(at)


def test_a_subscription_link_shows_the_billing_cycle_fields_and_no_separate_service_date(app):
    params = {
        **CASE_LINK,
        "service_type": "subscription",
        "service_status": "in_progress",
        "reason": "billing_error",
        "cycle": "monthly",
        "cycle_start": "2026-11-20",
        "cycle_end": "2026-12-19",
        "cancelled_on": "2026-11-18",
    }
    at = open_checker(app, params=params)
    assert not at.exception
    labels = [d.label for d in at.date_input]
    assert "Start of the charged billing cycle" in labels and "End of the billing cycle" in labels
    assert "Cancelled on" in labels and not any(label.startswith("Service date") for label in labels)
    assert "#### Recommended: Full refund" in markdown(at)
    at.selectbox(key="chk_service_type").set_value("technical_support").run()
    labels = [d.label for d in at.date_input]
    assert "End of the billing cycle" not in labels and "Service date (day it was started)" in labels


def test_bad_link_parameters_get_a_clear_message_and_the_defaults(app):
    at = open_checker(app, params={"service_type": "hardware", "amount_paid": "-3", "request_date": "2026-02-30"})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 3
    assert any("service_type='hardware'" in w and "using the default" in w for w in warnings)
    assert any("amount_paid='-3'" in w for w in warnings)
    assert any("request_date='2026-02-30'" in w and "YYYY-MM-DD" in w for w in warnings)
    assert at.selectbox(key="chk_service_type").value == "technical_support"
    assert "#### Recommended: Fix the issue" in markdown(at)


def test_a_service_date_before_every_version_is_shown_plainly_next_to_the_field(app):
    at = open_checker(app)
    at.date_input(key="chk_service_date").set_value(date(2023, 6, 1)).run()
    at.date_input(key="chk_request_date").set_value(date(2023, 6, 3)).run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "No policy version is in force on 2023-06-01; the earliest, '2024-01-01', takes effect on 2024-01-01"
    ]
    assert any("No verdict yet: Service date needs attention" in i.value for i in at.info)


def test_a_request_before_the_service_date_is_an_error_on_the_request_date_not_a_traceback(app):
    at = open_checker(app)
    at.date_input(key="chk_request_date").set_value(TODAY - timedelta(days=10)).run()
    assert not at.exception
    assert at.error[0].value.startswith("2026-11-16 is before the service date 2026-11-23")


@pytest.fixture
def two_versions(app, app_env, sqlite_demo_url, tmp_path, monkeypatch):
    """A policy directory with the shipped version and a 2027 version with a 14-day window, over a private copy
    of the demo database (the desk stores a configured directory's versions in the database it opens)."""
    private = tmp_path / "desk.db"
    shutil.copyfile(sqlite_demo_url.removeprefix("sqlite:///"), private)
    app_env(f"sqlite:///{private}")
    shipped = (DEFAULT_POLICY_DIR / "2024-01-01.toml").read_text()
    (tmp_path / "2024-01-01.toml").write_text(shipped)
    later = shipped.replace('version = "2024-01-01"', 'version = "2027-01-01"')
    later = later.replace("effective_from = 2024-01-01", "effective_from = 2027-01-01")
    later = later.replace("window_days = 7", "window_days = 14").replace("within 7 days", "within 14 days")
    (tmp_path / "2027-01-01.toml").write_text(later)
    monkeypatch.setenv(POLICY_DIR_ENV, str(tmp_path))
    return tmp_path


def test_the_versions_tab_reads_each_version_and_shows_the_difference_of_two(app, two_versions):
    at = open_checker(app)
    assert not at.exception
    assert at.selectbox(key="chk_read_version").options == [  # a scheduled version is named with its date
        "2027-01-01 (takes effect on 2027-01-01)",
        "2024-01-01 (effective from 2024-01-01)",
    ]
    assert {m.label: m.value for m in at.metric}["Contact window"] == "14 days"
    diff = at.code[0]
    assert diff.language == "diff"
    assert "-window_days: 7" in diff.value and "+window_days: 14" in diff.value
    at.selectbox(key="chk_diff_to").set_value("2024-01-01").run()
    assert "The two versions are the same." in [i.value for i in at.info]
    # a request about a 2027 service is judged by the 2027 version
    at.date_input(key="chk_service_date").set_value(date(2027, 1, 4)).run()
    at.date_input(key="chk_request_date").set_value(date(2027, 1, 15)).run()
    assert "**Policy version:** 2027-01-01" in markdown(at) and "day 11 of 14" in markdown(at)


def test_the_checker_links_managers_and_admins_to_the_replay_page_and_an_old_replay_link_lands_there(app):
    assert [t.label for t in open_checker(app).tabs] == ["Check a request", "Policy versions"]
    assert not [p for p in open_checker(app).get("page_link") if "replay" in str(p.proto.page)]
    for user in ("max@refund-desk.example", "ada@refund-desk.example"):
        at = open_checker(app, user)
        assert [t.label for t in at.tabs] == ["Check a request", "Policy versions"]
        assert [p for p in at.get("page_link") if "replay" in str(p.proto.page)]
    at = open_checker(app, "max@refund-desk.example", params={"tab": "replay"})
    assert not at.exception and [t.value for t in at.title] == ["What-if replay"]


def test_a_link_with_a_date_past_the_range_keeps_the_form_and_says_the_value_is_not_valid(app):
    """/checker?service_date=9999-12-31 once showed only an error id: the widget refused the value."""
    at = open_checker(app, params={"service_date": "9999-12-31", "cycle_end": "12345-01-01"})
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any("service_date='9999-12-31' is not valid" in w and "using the default" in w for w in warnings)
    assert any("cycle_end='12345-01-01' is not valid" in w for w in warnings)
    assert at.date_input(key="chk_service_date").value == TODAY - timedelta(days=3)
    assert "#### Recommended: Fix the issue" in markdown(at)


def test_a_typed_year_past_the_range_gets_a_message_not_the_old_date(app):
    at = open_checker(app)
    at.date_input(key="chk_service_date").set_value(date(2099, 1, 1)).run()
    assert not at.exception
    assert at.date_input(key="chk_service_date").value == date(2099, 1, 1)
    assert [e.value for e in at.error] == ["Dates after 2031-11-25 (five years from today) are not accepted."]
    assert any("No verdict yet: Service date needs attention" in i.value for i in at.info)


def test_a_request_date_in_the_future_is_judged_with_a_warning(app):
    at = open_checker(app, params={"request_date": (TODAY + timedelta(days=2)).isoformat()})
    assert not at.exception
    assert any("is after today (2026-11-26)" in w.value for w in at.warning)
    assert "Recommended:" in markdown(at)
