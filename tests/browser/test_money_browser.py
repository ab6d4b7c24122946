"""Money in a real browser (headless Chromium): a EUR case shows euros and no dollar sign anywhere on the
page; the analytics show money in the chosen currency and every currency side by side, never summed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from data.db import open_database
from data.models import Case, Decision, Service
from tests.browser.test_analytics_browser import kpi, open_as_manager
from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser


def a_case_in(url: str, currency: str, status: str) -> int:
    """The first open case in `currency`, or the first closed one decided with money (a partial refund)."""
    db = open_database(url)
    with db.read() as s:
        q = (
            select(Case.id)
            .join(Service, Service.id == Case.service_id)
            .where(Service.currency == currency, Case.status == status)
            .order_by(Case.id)
            .limit(1)
        )
        if status == "closed":
            q = q.join(Decision, Decision.case_id == Case.id).where(
                Decision.outcome == "partial_refund", Decision.superseded.is_(False)
            )
        cid = s.scalar(q)
    db.dispose()
    assert cid is not None, f"the demo data has no {status} {currency} case"
    return cid


@pytest.mark.parametrize("status", ["open", "closed"])
def test_a_eur_case_page_shows_euros_and_no_dollar_sign(browser_page, live_server, sqlite_demo_url, status):
    cid = a_case_in(sqlite_demo_url, "EUR", status)
    page = browser_page
    page.goto(live_server.url)
    wait_for_app(page)
    page.goto(f"{live_server.url}/case?case={cid}")
    wait_for_app(page)
    main = page.get_by_test_id("stMain")
    expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
    expect(main).to_contain_text("€")
    text = main.inner_text()
    assert "$" not in text, re.findall(r".{0,40}\$.{0,40}", text)
    if status == "closed":  # the decision box: "Partial refund · €12.34"
        expect(main).to_contain_text(re.compile(r"Partial refund · €[0-9,]+\.[0-9]{2}"))
    if status == "open":  # a money outcome asks for the amount in the case's currency
        page.get_by_text(re.compile(r"^Credit for future services")).first.click()
        wait_for_app(page)
        expect(page.get_by_role("textbox", name="Amount (EUR)")).to_be_visible()
        assert "$" not in main.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"case-eur-{status}.png"), full_page=True)


def test_an_analytics_tile_shows_money_per_currency(browser_page, live_server):
    page = browser_page
    open_as_manager(page, live_server)
    expect(kpi(page, "Money granted")).to_contain_text("$")
    caption = page.get_by_test_id("stCaptionContainer").filter(has_text="Money granted per currency")
    expect(caption).to_contain_text("$")
    expect(caption).to_contain_text("€")
    expect(caption).to_contain_text("£")

    page.get_by_test_id("stSelectbox").filter(has_text="Currency").click()
    page.get_by_role("option", name="EUR").click()
    page.get_by_role("button", name="Apply filters").click()
    wait_for_app(page)
    expect(kpi(page, "Money granted")).to_contain_text("€")
    expect(kpi(page, "Money granted")).not_to_contain_text("$")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "analytics-eur.png"), full_page=True)
