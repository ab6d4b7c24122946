"""Sign-in end to end in headless Chromium: the real OpenID Connect flow against a local identity provider
(oidc-provider-mock, started by the test), local mode, and the guards a fresh server must already enforce
on its very first request (Streamlit's pages/ trap).

Each test starts its own server (a fresh process is the point) on a private copy of the demo database,
and records every element test id and heading that ever appears in the page (a MutationObserver), so
"shows nothing it should not" covers the whole life of the page, not only its final state.
"""

from __future__ import annotations

import sqlite3

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect
from sqlalchemy import select
from sqlalchemy.engine import make_url

from data.db import open_database
from data.models import CaseEvent
from tests.support.browser import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser

DATA_TEST_IDS = {"stMetric", "stDataFrame", "stPlotlyChart", "stTable"}
WATCH = """
window.__seen = {ids: new Set(), headings: new Set()};
new MutationObserver(() => {
  for (const e of document.querySelectorAll('[data-testid]')) window.__seen.ids.add(e.dataset.testid);
  for (const e of document.querySelectorAll('h1, h2, h3')) window.__seen.headings.add(e.textContent.trim());
}).observe(document, {subtree: true, childList: true, characterData: true});
"""


def seen(page) -> tuple[set[str], set[str]]:
    """Test ids and headings that appeared at any moment since this document loaded."""
    got = page.evaluate("() => ({ids: [...window.__seen.ids], headings: [...window.__seen.headings]})")
    return set(got["ids"]), set(got["headings"])


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def demo_copy(sqlite_demo_url, tmp_path) -> str:
    """A private copy of the shared demo database (these tests write audit events)."""
    target = tmp_path / "desk.db"
    src = sqlite3.connect(make_url(sqlite_demo_url).database)
    dst = sqlite3.connect(target)
    src.backup(dst)
    src.close()
    dst.close()
    return f"sqlite:///{target}"


@pytest.fixture
def idp():
    """A local OpenID Connect provider with two predefined accounts: Rita (a reviewer of the demo desk) and
    someone the desk does not know."""
    users = [
        User(sub="rita", claims={"email": "rita@refund-desk.example", "email_verified": True, "name": "Rita Ramos"}),
        User(sub="stranger", claims={"email": "stranger@elsewhere.example", "name": "Sam Stranger"}),
    ]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


def test_real_sign_in_flow_reviewer_then_unknown_email_then_sign_out(
    browser_page, server_factory, demo_copy, idp, tmp_path
):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        'redirect_uri = "http://localhost:{port}/oauth2callback"\n'  # Streamlit fills in {port}
        'cookie_secret = "browser-test-cookie-secret-0123456789abcdef"\n'
        'client_id = "refund-desk"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{idp}/.well-known/openid-configuration"\n'
    )
    # The repository's .streamlit/ stays untouched: this server reads only the temporary secrets file.
    server = server_factory(demo_copy, extra_args=["--secrets.files", str(secrets)], host="localhost")
    page = browser_page
    page.add_init_script(WATCH)

    # A fresh server's first request goes straight to an admin page while signed out.
    page.goto(f"{server.url}/users")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    ids, headings = seen(page)
    assert not ids & DATA_TEST_IDS and "Users and roles" not in headings, (ids, headings)
    assert page.get_by_test_id("stSidebarNav").count() == 0  # not even a menu of page names
    shot(page, "sign-in.png")

    # Sign in at the identity provider as Rita, a reviewer: the desk opens with her numbers and menu.
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="rita").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stMetric")).to_have_count(4)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_contain_text("Rita Ramos · reviewer")
    expect(sidebar).to_contain_text("rita@refund-desk.example")
    expect(sidebar.get_by_text("Users and roles")).to_have_count(0)
    shot(page, "signed-in-reviewer.png")

    # Signed in, a reviewer typing the admin URL gets Streamlit's "page not found" and her own home page.
    page.goto(f"{server.url}/users")
    expect(page.get_by_role("dialog")).to_contain_text("Page not found")
    expect(page.get_by_test_id("stMetric")).to_have_count(4)
    assert "Users and roles" not in seen(page)[1]
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)

    # Sign out: Streamlit ends the session at the provider, which sends the browser back signed out.
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign out").click()
    page.get_by_role("button", name="End session").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert not seen(page)[0] & DATA_TEST_IDS

    # Someone the desk does not know signs in: a polite no-access page, no data, a way out.
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="stranger").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="No access to Refund Desk")).to_be_visible()
    expect(page.get_by_text("Signed in as stranger@elsewhere.example")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    ids, _ = seen(page)
    assert not ids & DATA_TEST_IDS, ids
    shot(page, "no-access.png")

    db = open_database(demo_copy)
    with db.read() as s:
        refused = s.scalars(select(CaseEvent).where(CaseEvent.kind == "access_refused")).all()
    db.dispose()
    assert [(e.actor, e.payload["action"]) for e in refused] == [("stranger@elsewhere.example", "sign_in")]


def test_local_mode_fresh_server_restricted_url_then_admin_adds_a_user(browser_page, server_factory, demo_copy):
    server = server_factory(demo_copy)
    page = browser_page
    page.add_init_script(WATCH)

    # First request to a fresh local-mode server, straight to the admin page, as the default reviewer.
    page.goto(f"{server.url}/users")
    expect(page.get_by_role("heading", name="Refund Desk", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stAlertContentInfo").first).to_contain_text("Local mode")
    _, headings = seen(page)
    assert "Users and roles" not in headings, headings
    expect(
        page.get_by_test_id("stSidebar").get_by_test_id("stPageLink-NavLink").filter(has_text="Users and roles")
    ).to_have_count(0)

    # Pick the demo admin: the menu grows a Users and roles entry.
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name="Ada Lovelace · admin").click()
    wait_for_app(page)
    sidebar.get_by_test_id("stPageLink-NavLink").filter(has_text="Users and roles").click()
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Users and roles")).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()

    form = page.get_by_test_id("stForm").first
    form.get_by_label("Work email").fill("lin.chen@refund-desk.example")
    form.get_by_label("Name").fill("Lin Chen")
    form.get_by_role("button", name="Add user").click()
    wait_for_app(page)
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text(
        "Added Lin Chen (lin.chen@refund-desk.example) as reviewer"
    )
    expect(sidebar.get_by_text("Ada Lovelace · admin").first).to_be_visible()  # the picker kept Ada
    shot(page, "users-page.png")


def test_exposed_without_sign_in_shows_no_data_and_says_what_to_configure(browser_page, server_factory, demo_copy):
    server = server_factory(demo_copy, address="0.0.0.0")  # every interface, and no [auth]
    page = browser_page
    page.add_init_script(WATCH)
    page.goto(f"{server.url}/home")
    expect(page.get_by_role("heading", name="Refund Desk is not configured for this address")).to_be_visible()
    alert = page.get_by_test_id("stAlertContentError")
    expect(alert).to_contain_text("0.0.0.0")
    expect(alert).to_contain_text("[auth]")
    expect(alert).to_contain_text('server.address = "127.0.0.1"')
    ids, _ = seen(page)
    assert not ids & DATA_TEST_IDS, ids
    assert "stSelectbox" not in ids  # no user picker either
    shot(page, "exposed-refused.png")
