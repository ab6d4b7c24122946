"""The reviewer's workbench in a real browser (headless Chromium, 1400x900): decide and open next through three
cases of a sorted queue view, and a decision made with the keyboard alone (J / K / Ctrl+Enter)."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect
from sqlalchemy import select

from data.models import Decision
from desk.queue import QueueFilters, neighbours
from tests.browser.test_reviewer_flow import click, desk, start  # noqa: F401  (desk is a fixture)
from tests.support.browser import rerun_by, select_row, wait_for_app
from tests.support.cases import add_case, user_id

pytestmark = pytest.mark.browser


def heading(page):
    return page.get_by_test_id("stHeading").filter(has_text="Case #").first


def test_decide_and_open_next_walks_three_cases_of_the_sorted_queue_view(desk, browser_page):  # noqa: F811
    db, server = desk
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    # the three largest requests of the desk: the top of "Amount — largest first"; "our mistake" recommends a fix
    cases = [
        add_case(db, reason="our_error", price_cents=cents, customer_name=f"Walker {i}")
        for i, cents in enumerate((9_900_000, 9_800_000, 9_700_000))
    ]
    start(page, server, "/queue")
    click(page, page.get_by_role("combobox", name="Sort by"))
    click(page, page.get_by_role("option", name="Amount — largest first"))
    expect(page).to_have_url(f"{server.url}/queue?sort=amount_desc")  # the view is in the address bar
    select_row(page.get_by_test_id("stDataFrame").first)
    wait_for_app(page)
    expect(heading(page)).to_contain_text(f"Case #{cases[0]}")
    expect(page.get_by_text("Queue view: amount — largest first")).to_be_visible()
    submit = page.get_by_role("button", name="Decide and open next")
    expect(submit).to_be_in_viewport()  # above the fold at 1400x900
    for current, following in zip(cases, [*cases[1:], None], strict=True):
        expect(heading(page)).to_contain_text(f"Case #{current}")
        click(page, page.get_by_role("button", name="Decide and open next"))
        if following is not None:
            expect(heading(page)).to_contain_text(f"Case #{following}")
            expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
                f"Case #{current}: Decision saved: Fix the issue"
            )
            expect(page).to_have_url(f"{server.url}/case?case={following}")
    # the third decision opened the case after it in the same view: the largest remaining request
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Case #{cases[2]}: Decision saved")
    with db.read() as s:
        decided = {d.case_id: d for d in s.scalars(select(Decision).where(Decision.case_id.in_(cases)))}
    assert set(decided) == set(cases)
    assert {d.outcome for d in decided.values()} == {"fix"}
    assert {d.decided_by_id for d in decided.values()} == {user_id(db, "rita")}


def press(page, key: str, button) -> None:
    """Press a button's shortcut once the button is on the page and enabled: Streamlit binds a shortcut when the
    button's component mounts (its code is loaded lazily), so a key pressed before that reaches no one — on a busy
    machine the heading can be drawn well before the buttons under it."""
    wait_for_app(page)
    expect(button).to_be_enabled()
    rerun_by(page, lambda: page.keyboard.press(key))
    wait_for_app(page)


def test_a_decision_with_the_keyboard_alone(desk, browser_page):  # noqa: F811
    db, server = desk
    page = browser_page
    first = add_case(db, reason="our_error")
    # a link opened in a new tab: the queue view is the default one, every open case overdue first
    second = neighbours(db, actor=None, filters=QueueFilters(), case_id=first).next
    start(page, server, f"/case?case={first}")
    expect(heading(page)).to_contain_text(f"Case #{first}")
    expect(page.get_by_text("Queue view: due date — overdue first")).to_be_visible()
    press(page, "j", page.get_by_role("button", name="Next case"))
    expect(heading(page)).to_contain_text(f"Case #{second}")
    press(page, "k", page.get_by_role("button", name="Previous case"))
    expect(heading(page)).to_contain_text(f"Case #{first}")
    press(page, "Control+Enter", page.get_by_role("button", name="Record decision"))  # the recommended outcome
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Decision saved: Fix the issue")
    with db.read() as s:
        assert s.scalar(select(Decision.outcome).where(Decision.case_id == first)) == "fix"
        assert s.scalar(select(Decision.id).where(Decision.case_id == second)) is None


def test_d_moves_the_keyboard_focus_to_the_decision_form(desk, browser_page):  # noqa: F811
    """Streamlit has no focus API: "D" is the page's own listener (ui.workbench.focus_shortcut), bound once
    the st.html script has run; it leaves text fields alone."""
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server, f"/case?case={cid}")
    expect(heading(page)).to_contain_text(f"Case #{cid}")
    expect(page.get_by_role("button", name="Record decision")).to_be_enabled()
    page.wait_for_function("window.__refundDeskFocusKey === true")
    outcome = page.locator('[class*="st-key-decide_outcome_"] input:checked')
    expect(outcome).not_to_be_focused()
    page.keyboard.press("d")
    expect(outcome).to_be_focused()
    rationale = page.get_by_label("Rationale (optional)")
    rationale.click()
    page.keyboard.type("dd")  # in a text field "d" is a letter
    expect(rationale).to_have_value("dd")
    expect(rationale).to_be_focused()
    expect(page.get_by_text("go to the decision form")).to_have_count(0)  # listed in the shortcuts popover
    click(page, page.get_by_role("button", name="Keyboard shortcuts"))
    expect(page.get_by_text("go to the decision form")).to_be_visible()


def switch_user(page, label: str) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    click(page, sidebar.get_by_role("combobox", name="Signed in as (local mode)"))
    click(page, page.get_by_role("option", name=label))
    expect(sidebar).to_contain_text(label)


def test_a_refund_above_the_limit_waits_for_a_manager_who_approves_it(desk, browser_page):  # noqa: F811
    from desk.limits import set_limit

    db, server = desk
    page = browser_page
    set_limit(db, user_id(db, "ada"), "USD", 50_000)
    cid = add_case(db, reason="billing_error", price_cents=75_000)  # the policy allows a full refund
    start(page, server, f"/case?case={cid}")
    expect(page.get_by_text("Full refund (recommended)")).to_be_visible()
    expect(page.get_by_text("Refunds and credits above $500.00 need a manager's approval")).to_be_visible()
    click(page, page.get_by_role("button", name="Record decision"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("above the approval limit")
    expect(page.get_by_text("Awaiting a manager's approval")).to_be_visible()
    switch_user(page, "Max Müller · manager")
    page.get_by_label("Note for the reviewer and the audit trail").fill("Invoice checked: double billing.")
    click(page, page.get_by_role("button", name="Approve", exact=True))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Approved above the limit")
    with db.read() as s:
        d = s.scalar(select(Decision).where(Decision.case_id == cid))
    assert (d.over_limit, d.approval_status, d.approver_id) == (True, "approved", user_id(db, "max"))


def test_a_manager_reopens_a_closed_case_and_it_is_decided_again(desk, browser_page):  # noqa: F811
    import uuid

    from desk.decisions import decide
    from tests.support.cases import TODAY

    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    decide(db, user_id(db, "rita"), cid, "fix", None, "Fixed on the phone.", 1, uuid.uuid4().hex, today=TODAY)
    start(page, server, f"/case?case={cid}")
    switch_user(page, "Max Müller · manager")
    click(page, page.get_by_text("Reopen this case (managers)"))
    page.get_by_label("Why the case is reopened (for the audit trail)").fill(
        "The fix did not hold; customer wrote again."
    )
    click(page, page.get_by_role("button", name="Reopen"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(f"Case #{cid} is open again")
    expect(page.get_by_role("button", name="Record decision")).to_be_visible()
    click(page, page.get_by_role("tab", name="Timeline"))
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()
    with db.read() as s:
        decisions = list(s.scalars(select(Decision).where(Decision.case_id == cid)))
    assert [d.superseded for d in decisions] == [True]


def pick(page, box, option) -> None:
    """Open a multiselect's list and pick `option`. On a busy machine the rerun after the last pick can close
    a list that a click had just opened (or a click can close one still open): open it again until the option
    shows, then pick it."""
    for _ in range(5):
        if not option.is_visible():
            box.click()
        try:
            option.wait_for(state="visible", timeout=10_000)
            break
        except PlaywrightTimeout:
            wait_for_app(page)
    click(page, option)


def test_bulk_decide_with_one_case_refused(desk, browser_page):  # noqa: F811
    db, server = desk
    page = browser_page
    billing = [add_case(db, reason="billing_error", customer_name=f"Bulkington {i}") for i in (1, 2)]
    ours = add_case(db, reason="our_error", customer_name="Bulkington 3")  # a full refund would be an exception
    start(page, server, "/queue")
    search = page.get_by_role("textbox", name="Search")
    search.fill("bulkington")
    search.press("Enter")
    wait_for_app(page)
    expect(page.get_by_text("open cases match")).to_contain_text("3")
    click(page, page.get_by_text("Act on several cases"))
    picker = page.get_by_role("combobox", name="Cases on this page")
    for cid in (*billing, ours):
        pick(page, picker, page.get_by_role("option", name=f"#{cid} ·"))
    page.keyboard.press("Escape")  # close the picker's list
    wait_for_app(page)
    click(page, page.get_by_test_id("stRadio").filter(has_text="Outcome for each").get_by_text("Full refund"))
    click(page, page.get_by_role("button", name="Decide selected"))
    expect(page.get_by_test_id("stAlertContentWarning").first).to_contain_text(
        "Full refund: 2 of 3 cases done, 1 left out or refused"
    )
    expect(page.get_by_text("open case match")).to_contain_text("1")  # the two refunded left the queue
    with db.read() as s:
        outcomes = dict(
            s.execute(select(Decision.case_id, Decision.outcome).where(Decision.case_id.in_([*billing, ours]))).all()
        )
    assert outcomes == {billing[0]: "full_refund", billing[1]: "full_refund"}


def test_a_note_typed_and_not_sent_survives_opening_another_tab(desk, browser_page):  # noqa: F811
    """Only the open tab's content is built on a rerun; the actions tab is built always, since a form's text lives
    only in the browser until it is sent."""
    db, server = desk
    page = browser_page
    cid = add_case(db, reason="our_error")
    start(page, server, f"/case?case={cid}")
    click(page, page.get_by_role("tab", name="Fix, note, assign"))
    click(page, page.get_by_role("tab", name="Note", exact=True))
    note = page.get_by_label("Internal note (never sent to the customer)")
    note.fill("Called the customer; waiting for the invoice.")
    click(page, page.get_by_role("tab", name="Timeline"))
    expect(page.get_by_test_id("stDataFrame").last).to_be_visible()
    click(page, page.get_by_role("tab", name="Fix, note, assign"))
    expect(note).to_have_value("Called the customer; waiting for the invoice.")
