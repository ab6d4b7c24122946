"""The policy checker and the what-if replay page in a real browser (headless Chromium), on the shared demo server
(both only read)."""

import pytest
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def screenshot(page, name: str) -> None:
    """The whole page (Streamlit scrolls inside the app, so make the window as tall as the content)."""
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, min(height + 100, 6000))})
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def sign_in_as(page, name: str) -> None:
    """Local mode: pick a demo user in the sidebar."""
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=name).click()
    wait_for_app(page)


def open_checker(page, url: str | None = None) -> None:
    if url:  # a new session; without it, stay in this one (the signed-in user lives in the session)
        page.goto(url)
        wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(has_text="Policy checker").click()
    wait_for_app(page)


def test_a_reviewer_fills_in_a_failed_fix_on_day_3_and_gets_a_partial_refund_citing_clause_1(browser_page, live_server):
    page = browser_page
    open_checker(page, live_server.url)
    verdict = page.get_by_test_id("stVerticalBlock").filter(has_text="Contact deadline").last
    # the request: a software update completed on 2026-11-20, the customer wrote on 2026-11-23
    page.get_by_test_id("stSelectbox").filter(has_text="Service type").click()
    page.get_by_role("option", name="Software update").click()
    wait_for_app(page)
    page.get_by_role("spinbutton", name="day, Service date (rendered or completed)").click()
    page.keyboard.type("20")
    page.keyboard.press("Tab")
    wait_for_app(page)
    page.get_by_role("spinbutton", name="day, Request date").click()
    page.keyboard.type("23")
    page.keyboard.press("Tab")
    wait_for_app(page)
    page.get_by_test_id("stSelectbox").filter(has_text="Reason").click()
    page.get_by_role("option", name="Technical issue").click()
    wait_for_app(page)
    amount = page.get_by_test_id("stNumberInput").filter(has_text="Amount paid").locator("input")
    amount.fill("59.99")
    amount.press("Enter")
    wait_for_app(page)
    page.get_by_test_id("stRadio").filter(has_text="Fix").get_by_text("Fix attempted and it failed").click()
    wait_for_app(page)

    expect(page.get_by_role("heading", name="Recommended: Partial refund")).to_be_visible()
    expect(
        page.get_by_text("Allowed under the general terms: Partial refund · Credit for future services")
    ).to_be_visible()
    expect(verdict).to_contain_text("Contact deadline: 2026-11-27 (day 3 of 7)")
    expect(verdict).to_contain_text("Partial refund: more than 0.00 and less than 59.99")
    clause = page.get_by_role("tabpanel", name="Check a request").get_by_test_id("stText")
    expect(clause).to_have_count(1)
    expect(clause).to_contain_text("Service Refunds")
    expect(clause).to_contain_text("we may offer a partial refund or credit for future services at our discretion")
    screenshot(page, "checker.png")


def test_a_manager_replays_a_14_day_window_over_past_decisions(browser_page, live_server):
    page = browser_page
    page.goto(live_server.url)
    wait_for_app(page)
    sign_in_as(page, "Max Müller · manager")
    page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(has_text="What-if replay").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="What-if replay")).to_be_visible()
    window = page.get_by_test_id("stNumberInput").filter(has_text="Contact window (days)").locator("input")
    window.fill("14")
    window.press("Enter")
    wait_for_app(page)
    expect(page.get_by_test_id("stCode").filter(has_text="+window_days: 14")).to_be_visible()
    page.get_by_role("spinbutton", name="year, Cases decided between").first.click()
    page.keyboard.type("20240101")
    page.keyboard.press("Tab")
    wait_for_app(page)
    page.get_by_role("button", name="Run the replay").click()
    wait_for_app(page)
    results = page.get_by_test_id("stMetric")
    expect(results.filter(has_text="Decided cases")).to_be_visible()
    expect(results.filter(has_text="Less generous")).to_contain_text("0")
    expect(page.get_by_text("Refund and exception rates")).to_be_visible()
    expect(page.get_by_role("button", name="Download the changed cases as CSV")).to_be_visible()
    screenshot(page, "replay.png")


def test_a_link_with_a_date_past_the_range_keeps_the_form_and_a_typed_year_past_it_gets_a_message(
    browser_page, live_server
):
    """/checker?service_date=9999-12-31 showed only an error id; a typed year past the pickers' range was
    silently dropped; a request date after today passed without a word."""
    page = browser_page
    page.goto(f"{live_server.url}/checker?service_date=9999-12-31&request_date=2026-11-28")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Policy checker")).to_be_visible()
    expect(
        page.get_by_test_id("stAlertContentWarning").filter(has_text="service_date='9999-12-31' is not valid")
    ).to_contain_text("using the default instead")
    expect(page.get_by_test_id("stAlertContentWarning").filter(has_text="is after today")).to_be_visible()
    expect(page.get_by_text("error id")).to_have_count(0)
    expect(page.get_by_role("heading", name="Recommended: Fix the issue")).to_be_visible()

    year = page.get_by_role("spinbutton", name="year, Service date (rendered or completed)")
    year.click()
    page.keyboard.type("20990101")
    page.keyboard.press("Tab")
    page.get_by_role("heading", name="The request").click()  # close the calendar: the typed date is committed
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentError").filter(has_text="Dates after 2031-11-25")).to_contain_text(
        "five years from today"
    )
    expect(page.get_by_text("No verdict yet: Service date needs attention")).to_be_visible()
    screenshot(page, "checker-date-out-of-range.png")
