"""tests/support/browser.wait_for_app across a page switch: a queue-row click makes the queue's run call
st.switch_page, the server ends that run early and starts the case page's run by itself; wait_for_app must not
return in between. Everything here is read once, straight after the wait (no `expect` retry)."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_reviewer_flow import desk, start  # noqa: F401  (desk is a fixture)
from tests.support.browser import select_row, wait_for_app

pytestmark = pytest.mark.browser

SHOWN = """() => ({
  url: location.href,
  headings: [...document.querySelectorAll("[data-testid='stHeading']")].map(h => h.innerText),
  runs: window.__rdRuns,
})"""


def test_wait_for_app_holds_until_the_case_page_opened_from_a_queue_row_is_drawn(desk, browser_page):  # noqa: F811
    _, server = desk
    page = browser_page
    for row in (1, 2, 3):
        start(page, server, "/queue")
        select_row(page.get_by_test_id("stDataFrame").first, row)
        wait_for_app(page)
        shown = page.evaluate(SHOWN)
        match = re.search(r"/case\?case=(\d+)$", shown["url"])
        assert match, (row, shown)
        assert shown["headings"] and shown["headings"][0].startswith(f"Case #{match[1]}"), shown
