"""The person who acts is the person picked (local mode), on every path into a case page, in a real browser.

Each test picks someone other than the default demo user (Rita), goes into a case page one way — a queue row
(st.switch_page), a page link, a deep link typed into the address bar, an Analytics case link (a new tab), a
reload — and acts at once; the test then reads who the database recorded in `decisions` and `case_events`.
A new tab or a reload is a new Streamlit session: it continues as the person last picked on this server
(local mode is loopback-only: one computer) and the banner says so.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from data.db import open_database
from data.models import CaseEvent, Decision
from desk.decisions import decide
from tests.conftest import make_demo
from tests.support.browser import select_row, wait_for_app
from tests.support.cases import TODAY, add_case, user_id

pytestmark = pytest.mark.browser

PRIYA = "Priya Nair · manager"
OMAR = "Omar Haddad · reviewer"


@pytest.fixture(scope="module")
def demo_template(tmp_path_factory) -> str:
    """One demo database per module, copied for each test (each test writes)."""
    path = tmp_path_factory.mktemp("identity") / "template.db"
    make_demo(f"sqlite:///{path}").dispose()
    return str(path)


@pytest.fixture
def desk(tmp_path, demo_template, server_factory):
    """A fresh copy of the demo desk and a private server on it: (Database, server)."""
    path = tmp_path / "desk.db"
    shutil.copy(demo_template, path)
    url = f"sqlite:///{path}"
    db = open_database(url)
    server = server_factory(url)
    yield db, server
    db.dispose()


def click(page, locator) -> None:
    locator.click()
    wait_for_app(page)


def start(page, server) -> None:
    """Open the app at its root (a fresh server's first request is tested in test_fresh_server_browser.py)."""
    page.goto(server.url)
    wait_for_app(page)


def pick(page, label: str) -> None:
    """Choose who I am in the sidebar picker."""
    sidebar = page.get_by_test_id("stSidebar")
    click(page, sidebar.get_by_role("combobox", name="Signed in as (local mode)"))
    click(page, page.get_by_role("option", name=label))
    expect_acting(page, label)


def expect_acting(page, label: str, banner: str | None = None) -> None:
    """The picker, the caption under it and the banner all name `label` (and the banner says `banner`)."""
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("combobox", name="Signed in as (local mode)")).to_have_value(label)
    expect(sidebar.get_by_test_id("stCaptionContainer").first).to_contain_text(label)
    info = page.get_by_test_id("stAlertContentInfo").first
    expect(info).to_contain_text(f"as {label}")
    if banner:
        expect(info).to_contain_text(banner)


def menu(page, title: str) -> None:
    click(page, page.get_by_test_id("stSidebar").get_by_role("link", name=title))


def open_row(page, case_id: int) -> None:
    """In the queue: find the case by its number and open it by selecting its row (the st.switch_page path)."""
    search = page.get_by_role("textbox", name="Search")
    search.fill(str(case_id))
    search.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("open case match")).to_contain_text("1")
    select_row(page.get_by_test_id("stDataFrame").first)
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{case_id}")


def decide_now(page) -> None:
    """Accept the recommendation at once: the fastest path, the one that was misattributed."""
    click(page, page.get_by_role("button", name="Record decision"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Decision saved")


def approve_now(page) -> None:
    page.get_by_label("Note for the reviewer and the audit trail").fill("Agreed: documented hospital stay.")
    click(page, page.get_by_role("button", name="Approve", exact=True))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Exception approved")


def pending_exception(db) -> int:
    """A late case on which Rita (the default user) asked for a discretionary credit: a manager must approve."""
    cid = add_case(db, service_date=TODAY - timedelta(days=25), opened_on=TODAY - timedelta(days=2))
    decide(
        db,
        user_id(db, "rita"),
        cid,
        "credit",
        2_000,
        "Customer was in hospital for the whole window; the clinic's letter is attached.",
        1,
        uuid.uuid4().hex,
        today=TODAY,
    )
    return cid


def recorded(db, case_id: int, kind: str) -> tuple[int, int, str]:
    """(decided_by or approver in `decisions`, actor_id and actor of the `kind` event in `case_events`)."""
    with db.read() as s:
        d = s.scalars(select(Decision).where(Decision.case_id == case_id)).one()
        ev = s.scalars(select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)).one()
    who = d.approver_id if kind == "exception_approved" else d.decided_by_id
    return who, ev.actor_id, ev.actor


def assert_recorded_as(db, case_id: int, kind: str, email_prefix: str) -> None:
    uid = user_id(db, email_prefix)
    assert recorded(db, case_id, kind) == (uid, uid, f"{email_prefix}@refund-desk.example")


def test_a_case_opened_from_a_queue_row_and_decided_at_once_is_recorded_under_the_person_picked(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server)
    pick(page, OMAR)
    menu(page, "Queue")
    open_row(page, cid)
    expect_acting(page, OMAR)
    decide_now(page)
    assert_recorded_as(db, cid, "decision_recorded", "omar")


def test_a_manager_who_picked_herself_opens_an_awaiting_approval_row_and_approves(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = pending_exception(db)
    start(page, server)
    pick(page, PRIYA)
    menu(page, "Queue")
    click(page, page.get_by_role("button", name="Awaiting approval"))
    open_row(page, cid)
    expect_acting(page, PRIYA)
    expect(page.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    approve_now(page)
    assert_recorded_as(db, cid, "exception_approved", "priya")
    with db.read() as s:
        assert s.scalars(select(Decision).where(Decision.case_id == cid)).one().decided_by_id == user_id(db, "rita")


def test_page_links_keep_the_person_picked_home_to_queue_to_case_and_back(desk, browser_page):
    db, server = desk
    page = browser_page
    first, second = pending_exception(db), pending_exception(db)
    start(page, server)
    pick(page, PRIYA)
    click(page, page.get_by_role("link", name="Approve exceptions"))  # Home's page link, preset to approvals
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Open cases")
    open_row(page, first)
    approve_now(page)
    click(page, page.get_by_role("link", name="Back to the queue"))  # the case page's page link
    open_row(page, second)
    expect_acting(page, PRIYA)
    approve_now(page)
    assert_recorded_as(db, first, "exception_approved", "priya")
    assert_recorded_as(db, second, "exception_approved", "priya")


def test_a_deep_link_in_a_new_session_continues_as_the_person_last_picked_and_says_so(desk, chromium, browser_page):
    db, server = desk
    cid = add_case(db, reason="our_error")
    start(browser_page, server)
    pick(browser_page, OMAR)
    # a link typed into another browser window: a new session with nothing of the first one
    other = chromium.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = other.new_page()
        page.set_default_timeout(30_000)
        page.goto(f"{server.url}/case?case={cid}")
        wait_for_app(page)
        expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
        expect_acting(page, OMAR, banner="continues as")
        expect(page.get_by_test_id("stAlertContentInfo").first).to_contain_text(
            "the person last picked on this computer"
        )
        decide_now(page)
    finally:
        other.close()
    assert_recorded_as(db, cid, "decision_recorded", "omar")


def test_a_reload_of_a_case_page_keeps_the_person_picked(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server)
    pick(page, OMAR)
    menu(page, "Queue")
    open_row(page, cid)
    page.reload()
    wait_for_app(page)
    expect(page).to_have_url(f"{server.url}/case?case={cid}")
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    expect_acting(page, OMAR, banner="continues as")
    decide_now(page)
    assert_recorded_as(db, cid, "decision_recorded", "omar")


def test_an_analytics_case_link_opens_a_new_tab_that_acts_as_the_same_manager(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = pending_exception(db)  # decided today: the newest row of the exception list
    start(page, server)
    pick(page, PRIYA)
    menu(page, "Analytics")
    click(page, page.get_by_role("tab", name="Exceptions"))
    grid = page.get_by_test_id("stDataFrame").filter(visible=True).last  # the list is the tab's last table
    grid.scroll_into_view_if_needed()
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box is not None
    link = (box["x"] + 14, box["y"] + 35 + 17)  # first data row below the 35 px header, on the Case link text
    page.mouse.move(*link)
    with page.context.expect_page() as opened:
        page.mouse.click(*link)
    tab = opened.value
    tab.set_default_timeout(30_000)
    tab.wait_for_load_state()
    wait_for_app(tab)
    expect(tab).to_have_url(f"{server.url}/case?case={cid}")
    expect(tab.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    expect_acting(tab, PRIYA, banner="continues as")
    expect(tab.get_by_role("button", name="Approve", exact=True)).to_be_visible()
    approve_now(tab)
    assert_recorded_as(db, cid, "exception_approved", "priya")


def test_a_second_tab_picking_someone_else_does_not_change_who_the_first_tab_acts_as(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server)
    pick(page, OMAR)
    page.goto(f"{server.url}/case?case={cid}")
    wait_for_app(page)
    expect_acting(page, OMAR)
    second = page.context.new_page()
    second.set_default_timeout(30_000)
    start(second, server)
    pick(second, PRIYA)  # now the last person picked on this computer
    page.bring_to_front()
    decide_now(page)  # the first tab's session still acts as Omar
    expect_acting(page, OMAR)
    assert_recorded_as(db, cid, "decision_recorded", "omar")
