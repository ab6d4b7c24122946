"""The reviewers' golden paths in a real browser (headless Chromium), each on its own server and fresh demo
database because they write: filter -> open -> failed fix -> partial refund -> gone from the queue; an exception
approved by a different manager; a stale decision refused; customer text shown inert."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from data.models import Case, Decision
from desk.cases import add_note
from desk.decisions import decide
from tests.conftest import make_demo
from tests.support.browser import ARTIFACTS, select_row, settle, wait_for_app
from tests.support.cases import TODAY, add_case, user_id

pytestmark = pytest.mark.browser
EVIL = "http://127.0.0.1:9/evil.png"


@pytest.fixture
def desk(tmp_path, server_factory):
    """A fresh SQLite demo desk and a private server on it: (Database, server)."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url)
    server = server_factory(url)
    yield db, server
    db.dispose()


def start(page, server, path: str = "") -> None:
    """Open the app at its root first (a fresh server's first request must not be a page URL: see
    STREAMLIT-NOTES, the pages/ trap), then go to `path`."""
    page.goto(server.url)
    wait_for_app(page)
    if path:
        page.goto(server.url + path)
        wait_for_app(page)


def click(page, locator) -> None:
    locator.click()
    wait_for_app(page)


def test_a_reviewer_filters_opens_records_a_failed_fix_refunds_part_and_the_case_leaves_the_queue(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="technical_issue", price_cents=9_000, customer_name="Golda Pathfinder")
    start(page, server, "/queue")
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Open cases")

    search = page.get_by_role("textbox", name="Search")
    search.fill("pathfinder")
    search.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("open case match")).to_contain_text("1")
    table = page.get_by_test_id("stDataFrame").first
    table.click(position={"x": 115, "y": 1 * 35 + 17})  # the row's take button (after the marker and Case)
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Case #{cid} is now assigned to you")
    select_row(table)
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    expect(page).to_have_url(f"{server.url}/case?case={cid}")

    click(page, page.get_by_role("tab", name="Fix, note, assign"))
    click(page, page.get_by_role("tab", name="Fix attempt"))
    page.get_by_test_id("stForm").filter(has_text="Result of the fix attempt").get_by_text("Failed").click()
    page.get_by_label("What was tried (internal)").fill("Reinstalled twice; still crashes on start.")
    click(page, page.get_by_role("button", name="Record fix attempt"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Fix attempt recorded: failed")

    # the decision form sits beside the verdict, above the tabs: no tab to open
    expect(page.get_by_text("Partial refund (recommended)")).to_be_visible()
    page.get_by_role("textbox", name="Amount (USD)").fill("35")
    page.get_by_label("Rationale (optional)").fill("Fix failed; refund for the lost half of the session.")
    click(page, page.get_by_role("button", name="Record decision"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Decision saved: Partial refund of $35.00")
    # one reply box: the editable reply, which starts from the policy's draft (no read-only copy above it)
    reply = page.get_by_role("textbox", name="Reply", exact=True)
    expect(reply).to_have_value(re.compile(re.escape("We will refund $35.00 of the $90.00 you paid.")))
    expect(page.get_by_test_id("stCode")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "case-decided.png"), full_page=True)

    click(page, page.get_by_role("link", name="Back to the queue"))
    expect(page.get_by_role("textbox", name="Search")).to_have_value(
        "pathfinder"
    )  # the filters survived the round trip
    expect(page.get_by_text("No open cases match these filters.")).to_be_visible()
    with db.read() as s:
        case = s.get(Case, cid)
        d = s.scalar(select(Decision).where(Decision.case_id == cid))
    assert (case.status, case.assignee_id) == ("closed", user_id(db, "rita"))
    assert (d.outcome, d.amount_cents, d.decided_by_id) == ("partial_refund", 3_500, user_id(db, "rita"))


def test_an_exception_goes_to_a_manager_and_is_approved_by_a_different_user(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, service_date=TODAY - timedelta(days=25), opened_on=TODAY - timedelta(days=2))  # late
    start(page, server, f"/case?case={cid}")
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    click(page, page.get_by_text("Credit for future services (exception)"))
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("discretionary exception")
    page.get_by_role("textbox", name="Amount (USD)").fill("20")
    page.get_by_label("Rationale (required for an exception)").fill(
        "Customer was in hospital for the whole window; the clinic's letter is attached."
    )
    click(page, page.get_by_role("button", name="Submit exception for approval"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("a manager must approve it")
    expect(page.get_by_text("Awaiting a manager's approval")).to_be_visible()

    sidebar = page.get_by_test_id("stSidebar")
    click(page, sidebar.get_by_role("combobox", name="Signed in as (local mode)"))
    click(page, page.get_by_role("option", name="Max Müller · manager"))
    expect(sidebar).to_contain_text("Max Müller · manager")
    page.get_by_label("Note for the reviewer and the audit trail").fill("Agreed: documented hospital stay.")
    click(page, page.get_by_role("button", name="Approve", exact=True))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Exception approved")
    with db.read() as s:
        d = s.scalar(select(Decision).where(Decision.case_id == cid))
        assert s.get(Case, cid).status == "closed"
    assert (d.decided_by_id, d.approver_id, d.approval_status) == (user_id(db, "rita"), user_id(db, "max"), "approved")


def test_a_stale_decision_is_refused(desk, browser_page):
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server, f"/case?case={cid}")
    expect(page.get_by_role("button", name="Record decision")).to_be_visible()
    # another reviewer decides between the render and the submit
    decide(db, user_id(db, "omar"), cid, "fix", None, "Fixed by phone.", 1, uuid.uuid4().hex, today=TODAY)
    click(page, page.get_by_role("button", name="Record decision"))
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text("This case changed since you opened it")
    expect(page.get_by_text("Omar Haddad", exact=False).first).to_be_visible()
    with db.read() as s:
        decisions = list(s.scalars(select(Decision).where(Decision.case_id == cid)))
    assert [d.decided_by_id for d in decisions] == [user_id(db, "omar")]


def no_element_and_no_request(page, requests: list[str]) -> None:
    assert page.locator("img[src*='127.0.0.1:9']").count() == 0, "an <img> was built from customer text"
    assert page.locator("script", has_text="__pwned").count() == 0, "a <script> was built from customer text"
    assert page.evaluate("window.__pwned") is None
    assert not [u for u in requests if u.startswith("http://127.0.0.1:9/")], "a URL from customer text was fetched"


def test_customer_text_with_html_markdown_images_and_script_is_shown_inert(desk, browser_page):
    db, server = desk
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    hostile = f'<b>bold</b> <img src="{EVIL}?tag"> ![x]({EVIL}) <script>window.__pwned = 1</script>'
    cid = add_case(
        db,
        customer_name=f"Eve ![n]({EVIL}?name) <script>window.__pwned = 2</script>",
        description=hostile,
        documentation=[{"kind": "other", "name": f"![d]({EVIL}?doc)", "note": hostile}],
    )
    add_note(db, user_id(db, "rita"), cid, hostile, 1)
    start(page, server, "/queue")
    page.get_by_role("textbox", name="Search").fill("Eve ![n]")
    page.get_by_role("textbox", name="Search").press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("open case match")).to_contain_text("1")
    page.goto(f"{server.url}/case?case={cid}")
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    click(page, page.get_by_role("tab", name="Documents"))
    click(page, page.get_by_role("tab", name="Timeline"))
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()  # the timeline, rendered last
    settle(page)
    no_element_and_no_request(page, requests)
    expect(page.get_by_text(hostile, exact=True).first).to_be_visible()  # shown as the text it is

    page.goto(f"{server.url}/case?case=![x]({EVIL}?link)")
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("does not name a case")
    settle(page)
    no_element_and_no_request(page, requests)
    assert any(u.startswith(server.url) for u in requests)  # the listener did see the page's own requests
