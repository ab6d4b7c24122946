"""The queue page in AppTest: the count follows the filters, presets from links, keyset paging, taking cases."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from data.db import open_database
from data.models import Case
from tests.conftest import make_demo
from tests.support.apptest import shows
from tests.support.cases import user_id

QUEUE = "pages/queue.py"


def open_queue(at):
    at.run()
    at.switch_page(QUEUE).run()
    assert not at.exception, at.exception
    return at


def summary(at) -> str:
    return next(m.value for m in at.markdown if "open case" in m.value)


def shown_count(at) -> int:
    return int(re.search(r"\*\*([\d,]+)\*\* open case", summary(at)).group(1).replace(",", ""))


def db_count(url: str, *where) -> int:
    db = open_database(url)
    try:
        with db.read() as s:
            return s.scalar(select(func.count()).select_from(Case).where(Case.status != "closed", *where))
    finally:
        db.dispose()


def test_the_queue_lists_the_open_cases_with_their_count(app, sqlite_demo_url):
    at = open_queue(app())
    assert at.title[0].value == "Open cases"
    n = db_count(sqlite_demo_url)
    assert shown_count(at) == n
    table = at.dataframe[0].value
    assert len(table) == min(n, 50)
    assert {
        "Case",
        "Customer",
        "Service",
        "Reason",
        "Requested",
        "Age (days)",
        "Days left",
        "Window",
        "Assignee",
        "Status",
    } <= set(table.columns)
    assert list(table["Days left"]) == sorted(table["Days left"]), "overdue first"


def test_a_filter_changes_the_count(app, sqlite_demo_url):
    at = open_queue(app())
    everything = shown_count(at)
    at.multiselect(key="qf_reasons").set_value(["our_error", "technical_issue"]).run()
    assert not at.exception
    expected = db_count(sqlite_demo_url, Case.reason.in_(("our_error", "technical_issue")))
    assert shown_count(at) == expected < everything
    assert set(at.dataframe[0].value["Reason"]) <= {"Our mistake", "Technical issue"}
    at.selectbox(key="qf_assignee").set_value("unassigned").run()
    expected = db_count(sqlite_demo_url, Case.reason.in_(("our_error", "technical_issue")), Case.assignee_id.is_(None))
    assert shown_count(at) == expected
    next(b for b in at.button if b.label == "Clear filters").click().run()
    assert shown_count(at) == everything


def test_a_case_number_search_shows_that_case(app, sqlite_demo_url):
    at = open_queue(app())
    first = int(at.dataframe[0].value["Case"].iloc[3])
    at.text_input(key="qf_text").set_value(str(first)).run()
    assert shown_count(at) == 1
    assert list(at.dataframe[0].value["Case"]) == [first]
    at.text_input(key="qf_text").set_value("no such customer anywhere").run()
    assert shown_count(at) == 0
    assert shows(at.info, "No open cases match")


def test_a_link_with_status_awaiting_approval_shows_the_pending_exceptions(app, sqlite_demo_url):
    at = app()
    at.query_params["status"] = "awaiting_approval"
    at.session_state["local_user_email"] = "max@refund-desk.example"
    open_queue(at)
    expected = db_count(sqlite_demo_url, Case.status == "awaiting_approval")
    assert expected > 0 and shown_count(at) == expected
    assert at.selectbox(key="qf_status").value == "awaiting_approval"


def test_an_admin_sees_the_queue_but_no_take_buttons(app):
    at = app()
    at.session_state["local_user_email"] = "ada@refund-desk.example"
    open_queue(at)
    assert "Take" not in at.dataframe[0].value.columns
    reviewer = open_queue(app())
    assert "Take" in reviewer.dataframe[0].value.columns


@pytest.fixture
def big_queue_url(tmp_path_factory) -> str:
    """A private SQLite demo desk with 60 open cases: more than one page."""
    path = tmp_path_factory.mktemp("queue-page") / "desk.db"
    url = f"sqlite:///{path}"
    make_demo(url, cases=1000).dispose()
    return url


def test_next_and_previous_page_through_the_queue_by_keyset(app, big_queue_url):
    at = open_queue(app(big_queue_url))
    total = shown_count(at)
    assert total > 50
    first_page = list(at.dataframe[0].value["Case"])
    next(b for b in at.button if b.label == "Next").click().run()
    second_page = list(at.dataframe[0].value["Case"])
    assert len(second_page) == total - 50
    assert not set(first_page) & set(second_page)
    assert "showing 51–" in summary(at)
    next(b for b in at.button if b.label == "Previous").click().run()
    assert list(at.dataframe[0].value["Case"]) == first_page


def test_assign_to_me_from_the_queue(app, big_queue_url):
    at = open_queue(app(big_queue_url))
    db = open_database(big_queue_url)
    rita = user_id(db, "rita")
    at.selectbox(key="qf_assignee").set_value("unassigned").run()
    unassigned = shown_count(at)
    chosen = list(at.dataframe[0].value["Case"])[:2]
    at.multiselect(key="queue_take").set_value(chosen).run()
    at.button(key="queue_take_submit").click().run()
    assert not at.exception
    assert shows(at.success, "Assigned 2 cases to you")
    assert shown_count(at) == unassigned - 2  # the cache was cleared: the count is current
    with db.read() as s:
        assert set(s.scalars(select(Case.assignee_id).where(Case.id.in_(chosen)))) == {rita}
    db.dispose()


def test_an_amount_range_typed_backwards_is_swapped_with_a_message(app, sqlite_demo_url):
    at = open_queue(app())
    at.number_input(key="qf_min").set_value(500.0)
    at.number_input(key="qf_max").set_value(10.0).run()
    assert not at.exception
    assert shows(
        at.info,
        "The amount range was from $500.00 to $10.00, which matches nothing; showing cases from $10.00 to $500.00.",
    )
    expected = db_count(sqlite_demo_url, Case.amount_requested_cents.between(1_000, 50_000))
    assert expected > 0 and shown_count(at) == expected


def test_a_backwards_amount_range_never_reaches_the_queue_query():
    from desk.queue import QueueFilters, ordered_amount_range

    assert ordered_amount_range(50_000, 1_000) == (1_000, 50_000, True)
    assert ordered_amount_range(1_000, None) == (1_000, None, False)
    with pytest.raises(ValueError, match="amount range"):
        QueueFilters(amount_min_cents=50_000, amount_max_cents=1_000)


def test_a_link_opens_its_view_and_the_address_bar_follows_the_filters(app, sqlite_demo_url):
    at = app()
    at.query_params["sort"] = "amount_desc"
    at.query_params["reason"] = "our_error,billing_error"
    open_queue(at)
    assert at.selectbox(key="qf_sort").value == "amount_desc"
    assert at.multiselect(key="qf_reasons").value == ["our_error", "billing_error"]
    # each amount is shown in its own currency; the sort is by the number (no conversion between currencies)
    amounts = [float(re.sub(r"[^0-9.]", "", a)) for a in at.dataframe[0].value["Requested"]]
    assert amounts == sorted(amounts, reverse=True)
    assert shown_count(at) == db_count(sqlite_demo_url, Case.reason.in_(("our_error", "billing_error")))
    at.selectbox(key="qf_sort").set_value("customer").run()
    assert at.query_params["sort"] == "customer" and at.query_params["reason"] == "our_error,billing_error"
    names = list(at.dataframe[0].value["Customer"])
    assert names == sorted(names)


def test_a_link_with_an_unknown_sort_says_so_and_sorts_by_due_date(app):
    at = app()
    at.query_params["sort"] = "nonsense"
    open_queue(at)
    assert shows(at.warning, "The link's sort 'nonsense' is not known")
    assert at.selectbox(key="qf_sort").value == "due"


def test_a_saved_view_is_kept_per_person_and_opens_again(app, big_queue_url):
    at = open_queue(app(big_queue_url))
    at.multiselect(key="qf_reasons").set_value(["dissatisfied"])
    at.selectbox(key="qf_sort").set_value("age").run()
    at.text_input(key="queue_view_name").set_value("Oldest dissatisfied").run()
    at.button(key="queue_view_save").click().run()
    assert shows(at.success, "Saved the view “Oldest dissatisfied”.")
    next(b for b in at.button if b.label == "Clear filters").click().run()
    assert at.selectbox(key="qf_sort").value == "due"
    next(b for b in at.button if b.label == "Oldest dissatisfied").click().run()
    assert at.selectbox(key="qf_sort").value == "age"
    assert at.multiselect(key="qf_reasons").value == ["dissatisfied"]
    other = app(big_queue_url)
    other.session_state["local_user_email"] = "omar@refund-desk.example"
    open_queue(other)
    assert not [b for b in other.button if b.label == "Oldest dissatisfied"]
