"""The home page in a real browser (headless Chromium)."""

import pytest
from playwright.sync_api import expect

from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def test_home_page_renders_headline_numbers_and_navigation(browser_page, live_server):
    page = browser_page
    page.goto(live_server.url)
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Refund Desk")
    metrics = page.get_by_test_id("stMetric")
    expect(metrics).to_have_count(4)
    expect(metrics.first).to_contain_text("Open cases")
    expect(page.get_by_test_id("stSidebar")).to_contain_text("Database: SQLite")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
