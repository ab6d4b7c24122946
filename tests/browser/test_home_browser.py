"""The home page in a real browser (headless Chromium)."""

import pytest

from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def test_home_page_renders_headline_numbers_and_navigation(browser_page, live_server):
    page = browser_page
    page.goto(live_server.url)
    wait_for_app(page)
    assert page.get_by_test_id("stHeading").first.inner_text().startswith("Refund Desk")
    metrics = page.get_by_test_id("stMetric")
    assert metrics.count() == 4
    assert "Open cases" in metrics.first.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)
