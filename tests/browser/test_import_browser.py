"""The admin's import in a real browser, against a private server on a fresh demo database (it writes)."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from data.models import CaseEvent, Service
from tests.conftest import make_demo
from tests.support.browser import ARTIFACTS, wait_for_app
from tests.support.intake import EXAMPLES

pytestmark = pytest.mark.browser


def test_ada_imports_the_example_services_file_and_a_reviewer_cannot_open_the_page(
    browser_page, server_factory, tmp_path
):
    url = f"sqlite:///{tmp_path / 'import-demo.db'}"
    db = make_demo(url, cases=60)
    server = server_factory(url)
    page = browser_page
    # the first request to a fresh server goes straight to /import as Rita (a reviewer): she never sees it
    # (the guard ends Streamlit's legacy pages/ mode, app.py's menu has no import page for her: home instead)
    page.goto(f"{server.url}/import")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Refund Desk", exact=True)).to_be_visible()
    expect(page.get_by_text("Import data", exact=True)).to_have_count(0)
    expect(page.locator("input[type=file]")).to_have_count(0)

    page.goto(server.url)
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Ada Lovelace · admin").click()
    wait_for_app(page)
    page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(has_text="Import data").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stHeading").first).to_contain_text("Import data")
    page.locator("input[type=file]").set_input_files(str(EXAMPLES / "services.csv"))
    wait_for_app(page)
    page.get_by_role("button", name="Check and import").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        "Imported 8 services from 8 rows, 6 new customers; 0 were already present"
    )
    with db.read() as s:
        assert s.scalar(select(func.count()).where(Service.external_id.like("SRV-2026-%"))) == 8
        event = s.scalar(select(CaseEvent).where(CaseEvent.kind == "import_completed"))
    assert (event.actor, event.payload["file_name"], event.payload["inserted"]) == (
        "ada@refund-desk.example",
        "services.csv",
        8,
    )
    db.dispose()
    height = page.evaluate("document.querySelector('[data-testid=stMain]').scrollHeight")
    page.set_viewport_size({"width": 1400, "height": max(1000, height + 100)})
    wait_for_app(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "import.png"), full_page=True)


def test_a_decision_made_while_an_import_is_saved_shows_it_is_saving_and_then_succeeds(
    browser_page, server_factory, tmp_path
):
    """Issue 10 §4: while an import's write transaction holds SQLite's write lock, a reviewer's decision waits
    (the page says it is saving) and succeeds once the import commits; no error, no error id."""
    import sqlite3

    from data.models import Decision
    from tests.support.cases import add_case

    path = tmp_path / "busy-desk.db"
    db = make_demo(f"sqlite:///{path}", cases=60)
    cid = add_case(db, reason="our_error")
    server = server_factory(db.url)
    page = browser_page
    page.goto(server.url)
    wait_for_app(page)
    page.goto(f"{server.url}/case?case={cid}")
    wait_for_app(page)
    record = page.get_by_role("button", name="Record decision")
    expect(record).to_be_visible()
    importer_conn = sqlite3.connect(path, isolation_level=None)  # an import's write phase: the write lock
    importer_conn.execute("BEGIN IMMEDIATE")
    try:
        record.click()
        saving = page.get_by_test_id("stToast").filter(has_text="Saving the decision…")
        expect(saving).to_be_visible(timeout=8_000)
        expect(saving).to_be_in_viewport()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "case-saving-during-import.png"), full_page=True)
        with db.read() as s:
            assert s.scalar(select(func.count()).select_from(Decision).where(Decision.case_id == cid)) == 0
    finally:
        importer_conn.execute("COMMIT")  # the import commits
        importer_conn.close()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentSuccess").first).to_be_visible()
    expect(page.get_by_text("Something went wrong")).to_have_count(0)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Decision).where(Decision.case_id == cid)) == 1
    db.dispose()
