"""A freshly started server, in headless Chromium: its first request never renders Streamlit's menu of the raw
files in pages/ (the legacy multipage mode a `pages/` folder beside app.py starts in), even while the CPUs are
busy and that first run lasts long; and a database that becomes unreadable mid-session shows the error-id
page, not Streamlit's generic message.

A MutationObserver installed before the document loads records, from the first paint until the page is ready,
every sidebar-menu element Streamlit draws and every link the sidebar ever holds.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy.engine import make_url

from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser

BUSY_LOOPS = 3  # the machine has 2 cores; 3 loops keep both busy for the whole test
BUSY_SECONDS = 240  # each loop also ends by itself, should the test's finally never run
# The legacy menu: Streamlit's own sidebar navigation (its test ids) listing the files of pages/.
LEGACY_NAV_IDS = {"stSidebarNav", "stSidebarNavItems", "stSidebarNavLink", "stSidebarNavSeparator"}
RAW_PAGE_PATHS = {"/app", "/case", "/import", "/users"}  # files a reviewer's own menu never links to
WATCH = """
window.__seen = {ids: new Set(), hrefs: new Set(), texts: new Set(), mutations: 0};
new MutationObserver(() => {
  window.__seen.mutations += 1;
  for (const e of document.querySelectorAll('[data-testid]')) window.__seen.ids.add(e.dataset.testid);
  for (const a of document.querySelectorAll('[data-testid="stSidebar"] a')) {
    window.__seen.hrefs.add(new URL(a.href, location.href).pathname);
    window.__seen.texts.add(a.textContent.trim());
  }
}).observe(document, {subtree: true, childList: true, characterData: true, attributes: true});
"""


def seen(page) -> dict:
    got = page.evaluate(
        "() => ({ids: [...window.__seen.ids], hrefs: [...window.__seen.hrefs], texts: [...window.__seen.texts],"
        " mutations: window.__seen.mutations})"
    )
    return {**got, "ids": set(got["ids"]), "hrefs": set(got["hrefs"]), "texts": set(got["texts"])}


@pytest.fixture
def desk_file(sqlite_demo_url, tmp_path) -> Path:
    """A private copy of the shared demo database file."""
    target = tmp_path / "desk.db"
    shutil.copy(make_url(sqlite_demo_url).database, target)
    return target


@pytest.fixture
def busy_cpus() -> Iterator[None]:
    """Bounded busy loops on every core for the duration of the test (killed in the finally)."""
    code = f"import time\nend = time.monotonic() + {BUSY_SECONDS}\nwhile time.monotonic() < end:\n    pass\n"
    loops = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(BUSY_LOOPS)]
    try:
        yield
    finally:
        for p in loops:
            p.kill()
        for p in loops:
            p.wait(timeout=10)


@pytest.mark.parametrize(("path", "heading"), [("/", "Refund Desk"), ("/analytics", "Analytics")])
def test_a_fresh_server_under_cpu_load_never_renders_the_raw_page_menu(
    path, heading, desk_file, busy_cpus, server_factory, browser_page
):
    server = server_factory(f"sqlite:///{desk_file}")
    page = browser_page
    page.add_init_script(WATCH)
    started = time.monotonic()
    page.goto(server.url + path)  # the first request this server ever gets
    expect(page.get_by_role("heading", name=heading, exact=True)).to_be_visible(timeout=120_000)
    wait_for_app(page, timeout=120_000)
    ready = time.monotonic() - started
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_test_id("stPageLink-NavLink").filter(has_text="Queue")).to_be_visible()  # our menu
    got = seen(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"fresh-server{path.replace('/', '-')}.png"), full_page=True)
    print(
        f"first request {path}: ready after {ready:.1f} s under {BUSY_LOOPS} busy loops; {got['mutations']} DOM changes"
    )
    assert got["mutations"] > 0, "the observer saw nothing: the test would prove nothing"
    assert not got["ids"] & LEGACY_NAV_IDS, f"Streamlit's own page menu was rendered: {got['ids'] & LEGACY_NAV_IDS}"
    assert not got["hrefs"] & RAW_PAGE_PATHS, f"the sidebar linked to raw page files: {sorted(got['hrefs'])}"
    assert "/queue" in got["hrefs"]  # the observer did see the sidebar's links


ERROR_ID = re.compile(r"error id ([0-9A-F]{4}-[0-9A-F]{4})")


def corrupt(path: Path) -> None:
    """Overwrite the database file and its WAL files in place (the server's open connections see it)."""
    for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if part.exists():
            with part.open("r+b") as f:
                f.write(os.urandom(part.stat().st_size))


def test_a_database_corrupted_mid_session_shows_the_error_id_page(desk_file, server_factory, browser_page):
    server = server_factory(f"sqlite:///{desk_file}")
    page = browser_page
    page.goto(server.url)
    wait_for_app(page)
    expect(page.get_by_test_id("stMetric").first).to_be_visible()  # the desk works
    page.add_init_script(WATCH)
    corrupt(desk_file)
    page.get_by_test_id("stSidebar").get_by_role("link", name="Queue").click()
    wait_for_app(page)
    error = page.get_by_test_id("stAlertContentError")
    expect(error).to_contain_text("Something went wrong (error id")
    error_id = ERROR_ID.search(error.inner_text()).group(1)
    expect(page.get_by_test_id("stException")).to_have_count(0)  # not Streamlit's generic message
    expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
    expect(page.get_by_test_id("stMetric")).to_have_count(0)
    expect(page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox")).to_have_count(0)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "corrupt-database.png"), full_page=True)
    log = server.log_path.read_text()
    assert f"error id {error_id} while signing in" in log and "DatabaseError" in log
