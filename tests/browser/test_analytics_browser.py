"""The analytics page in a real browser (headless Chromium), as a manager: charts render, a filter changes
the numbers, a table downloads as CSV, an exception row opens its case."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from data.db import open_database
from data.models import Decision
from tests.support.browser import ARTIFACTS, select_row, wait_for_app

pytestmark = pytest.mark.browser


def open_as_manager(page, server):
    """Local mode signs in as the reviewer Rita; switch to the manager Max, then open Analytics."""
    page.goto(server.url)
    wait_for_app(page)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Max Müller · manager").click()
    wait_for_app(page)
    expect(sidebar).to_contain_text("Max Müller · manager")
    sidebar.get_by_test_id("stPageLink-NavLink").filter(has_text="Analytics").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Analytics")


def kpi(page, label: str):
    return page.get_by_test_id("stMetric").filter(has_text=label).get_by_test_id("stMetricValue")


def test_charts_render_and_a_filter_changes_the_numbers(browser_page, live_server):
    page = browser_page
    open_as_manager(page, live_server)
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
    expect(page.locator("[data-testid='stPlotlyChart'] .main-svg").first).to_be_visible()  # Plotly drew it
    before = kpi(page, "Refund rate (count)").inner_text()
    decisions_before = kpi(page, "Decisions").inner_text()

    page.get_by_test_id("stMultiSelect").filter(has_text="Service type").click()
    page.get_by_role("option", name="Subscription").click()
    page.keyboard.press("Escape")
    page.get_by_role("button", name="Apply filters").click()
    wait_for_app(page)
    expect(kpi(page, "Decisions")).not_to_have_text(decisions_before)
    expect(kpi(page, "Refund rate (count)")).not_to_have_text(before)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-filtered.png"), full_page=True)


def test_a_table_downloads_as_csv(browser_page, live_server):
    page = browser_page
    open_as_manager(page, live_server)
    with page.expect_download() as download:
        page.get_by_test_id("stDownloadButton").filter(has_text="Download CSV").first.get_by_role("button").click()
    d = download.value
    assert d.suggested_filename == "refund-desk-refund-rates.csv"
    header = Path(d.path()).read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("Period,Service type,Services sold")


def test_an_exception_row_opens_its_case(browser_page, live_server, sqlite_demo_url):
    db = open_database(sqlite_demo_url)
    with db.read() as s:
        newest = s.scalar(
            select(Decision.case_id)
            .where(Decision.is_exception.is_(True))
            .order_by(Decision.decided_on.desc(), Decision.id.desc())
            .limit(1)
        )
    db.dispose()
    page = browser_page
    open_as_manager(page, live_server)
    page.get_by_role("tab", name="Exceptions").click()
    grid = page.get_by_test_id("stDataFrame").filter(visible=True).last  # the list is the tab's last table
    grid.scroll_into_view_if_needed()
    expect(grid).to_be_visible()
    box = grid.bounding_box()
    assert box is not None
    link = (box["x"] + 14, box["y"] + 35 + 17)  # first data row below the 35 px header, on the Case link text
    navigations: list[str] = []
    page.context.on("request", lambda r: navigations.append(r.url) if r.is_navigation_request() else None)
    page.mouse.move(*link)
    with page.context.expect_page() as opened:
        page.mouse.click(*link)
    opened.value.wait_for_load_state()
    # the link opens the case in a new tab (where the tab ends up depends on the case page, another branch's)
    assert f"{live_server.url}/case?case={newest}" in navigations
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-exceptions.png"), full_page=True)


def test_a_refund_rate_row_drills_down_to_its_cases_and_opens_one_as_the_same_person(browser_page, live_server):
    page = browser_page
    open_as_manager(page, live_server)
    grid = page.get_by_test_id("stDataFrame").filter(visible=True).first  # the refund-rate table
    grid.scroll_into_view_if_needed()
    expect(grid).to_be_visible()
    page.mouse.wheel(0, 0)
    box = grid.bounding_box()
    assert box is not None
    panel = page.get_by_test_id("stMarkdown").filter(has_text="The cases behind it:")
    for _ in range(3):  # the grid may still be laying out under load: click until the selection registers
        page.mouse.click(box["x"] + 15, box["y"] + 5 * 35 + 17)  # the row marker of the 5th row
        wait_for_app(page)
        try:
            expect(panel).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            box = grid.bounding_box()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-drilldown-selected.png"), full_page=True)
    expect(panel).to_be_visible()
    expect(
        page.get_by_test_id("stCaptionContainer").filter(has_text="Filters: 27 Nov 2025 – 26 Nov 2026")
    ).to_be_visible()
    cases = page.get_by_test_id("stDataFrame").filter(visible=True).nth(1)  # the list, right below the table
    cases.scroll_into_view_if_needed()
    box = cases.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 15, box["y"] + 35 + 17)
    wait_for_app(page)
    link = page.get_by_test_id("stPageLink").filter(has_text="Open case")
    expect(link).to_be_visible()
    case_id = link.inner_text().split("Open case")[-1].strip()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-drilldown.png"), full_page=True)
    link.click()
    wait_for_app(page)
    page.wait_for_url(f"**/case?case={case_id}")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Max Müller · manager")  # still the manager


def test_a_bar_of_the_money_chart_drills_down_to_its_cases(browser_page, live_server):
    """Clicking a bar of "Money granted by outcome" lists that period's decisions of that outcome, with the
    filters that produced them, and the list downloads."""
    page = browser_page
    open_as_manager(page, live_server)
    chart = page.get_by_test_id("stPlotlyChart").filter(has_text="Money granted").first
    chart.scroll_into_view_if_needed()
    bars = chart.locator(".barlayer .trace").first.locator("path")  # the full refunds, one bar per period
    expect(chart.locator(".barlayer")).to_be_visible()
    panel = page.get_by_test_id("stMarkdown").filter(has_text="The cases behind it:")
    for _ in range(3):  # the chart may still be laying out under load: click until the selection registers
        boxes = [b for b in (bars.nth(i).bounding_box() for i in range(bars.count())) if b and b["height"] > 4]
        assert boxes, "no bar drawn"
        box = max(boxes, key=lambda b: b["height"])
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] - 3)  # inside the bar, at its foot
        wait_for_app(page)
        try:
            expect(panel).to_be_visible(timeout=10_000)
            break
        except AssertionError:
            chart.scroll_into_view_if_needed()
    expect(panel).to_contain_text("full refund decisions recorded")
    expect(
        page.get_by_test_id("stCaptionContainer").filter(has_text="Filters: 27 Nov 2025 – 26 Nov 2026")
    ).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-chart-drilldown.png"), full_page=True)
    buttons = page.get_by_test_id("stDownloadButton").filter(has_text="Download CSV")
    with page.expect_download() as download:
        # the list's CSV: the button right after the panel's caption
        panel.locator("xpath=following::*[@data-testid='stDownloadButton'][1]").get_by_role("button").click()
    assert download.value.suggested_filename.startswith("refund-desk-cases-behind-full-refund-decisions")
    assert buttons.count() > 1


def test_a_row_of_the_backlog_table_drills_down_and_the_number_can_be_picked(browser_page, live_server):
    """On the Desk health tab, selecting a backlog row lists that age's open cases; "Overdue" narrows the list
    to the overdue ones; a case of the list opens as the same manager."""
    page = browser_page
    open_as_manager(page, live_server)
    page.get_by_role("tab", name="Desk health").click()
    grid = page.locator(".st-key-table_backlog [data-testid='stDataFrame']")
    expect(grid).to_be_visible()
    grid.scroll_into_view_if_needed()
    select_row(grid, 4)  # 15–30 days: the demo desk's overdue cases
    wait_for_app(page)
    panel = page.get_by_test_id("stMarkdown").filter(has_text="The cases behind it:")
    expect(panel).to_contain_text("cases not closed today, opened 15–30 days ago (every selected service type)")
    page.locator(".st-key-drill_pick_backlog_Open_cases_Overdue").get_by_role("radio", name="Overdue").click()
    wait_for_app(page)
    expect(panel).to_contain_text("opened 15–30 days ago, overdue")
    listed = page.locator(".st-key-table_drill_backlog [data-testid='stDataFrame']")
    expect(listed).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-backlog-drilldown.png"), full_page=True)
    select_row(listed, 1)
    wait_for_app(page)
    link = page.get_by_test_id("stPageLink-NavLink").filter(has_text="Open case")
    expect(link).to_be_visible()
    case_id = link.inner_text().split("Open case")[-1].strip()
    link.click()
    wait_for_app(page)
    page.wait_for_url(f"**/case?case={case_id}")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Max Müller · manager")
