"""Two app servers on one PostgreSQL behind nginx, started by the documented command (deploy/serve.py), exercised
in headless Chromium: sign in through the proxy (OIDC against a local provider), decide a case in a session on
server A, and see it at once from a session on server B — its cached home numbers cleared by LISTEN/NOTIFY, not
left for the cache's minute. The servers run as the app role of data.pg_roles."""

from __future__ import annotations

import re
import shutil
import time
import uuid

import pytest
from oidc_provider_mock import User, run_server_in_thread
from playwright.sync_api import expect
from sqlalchemy import create_engine, select

from data.models import Case, Decision
from data.pg_roles import Roles, apply, role_url
from tests.conftest import _pg_schema_url, make_demo, pg_base_url
from tests.support.browser import ARTIFACTS, free_port, wait_for_app
from tests.support.cases import add_case, user_id
from tests.support.team import start_team, stop_team, write_oidc_secrets

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL"),
    pytest.mark.skipif(not shutil.which("nginx") and not shutil.which("/usr/sbin/nginx"), reason="make nginx"),
]


@pytest.fixture
def team_db():
    """A demo desk on its own schema, migrated and filled by the owner role; (owner Database, app URL)."""
    tag = uuid.uuid4().hex[:10]
    roles = Roles(owner=f"rd_owner_{tag}", app=f"rd_app_{tag}", schema=f"t_proxy_{tag}")
    admin_url = _pg_schema_url(pg_base_url(), roles.schema)
    apply(admin_url, roles)
    owner = make_demo(role_url(admin_url, roles.owner).render_as_string(hide_password=False), cases=200)
    apply(admin_url, roles)
    yield owner, role_url(admin_url, roles.app).render_as_string(hide_password=False)
    owner.dispose()
    eng = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{roles.schema}" CASCADE')
        for role in (roles.app, roles.owner):
            c.exec_driver_sql(f'DROP OWNED BY "{role}"')
            c.exec_driver_sql(f'DROP ROLE "{role}"')
    eng.dispose()


@pytest.fixture
def idp():
    users = [User(sub="rita", claims={"email": "rita@refund-desk.example", "email_verified": True, "name": "Rita"})]
    with run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture
def proxy(team_db, idp, tmp_path):
    """`deploy/serve.py` (nginx + two streamlit servers) on the app role; yields the proxy's URL."""
    _, app_url = team_db
    port = free_port()
    secrets = write_oidc_secrets(
        tmp_path / "secrets.toml",
        port=port,
        idp_url=idp,
        cookie_secret="two-servers-share-this-cookie-secret-0123456789",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    run_dir = tmp_path / "run"
    proc = start_team(
        app_url, secrets=secrets, port=port, run_dir=run_dir, log=ARTIFACTS / f"serve-{port}.log", today="2026-11-26"
    )
    yield f"http://localhost:{port}", run_dir
    stop_team(proc)


def session_on(chromium, base: str, server: str):
    """A browser context pinned to server `a` or `b` by the proxy's sticky cookie, signed in as Rita."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "refund_desk_server", "value": server, "url": base}])
    page = context.new_page()
    page.set_default_timeout(60_000)
    response = page.goto(base)
    wait_for_app(page, 60_000)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="rita").click()
    wait_for_app(page, 60_000)
    expect(page.get_by_test_id("stSidebar")).to_contain_text("rita@refund-desk.example", timeout=60_000)
    return context, page, response.headers.get("x-refund-desk-server")


def open_cases_shown(page) -> int:
    metric = page.get_by_test_id("stMetric").filter(has_text="Open cases")
    expect(metric).to_be_visible(timeout=60_000)
    return int(re.sub(r"\D", "", metric.get_by_test_id("stMetricValue").inner_text()))


def test_a_decision_on_server_a_shows_at_once_in_a_session_on_server_b(team_db, proxy, chromium):
    owner, _ = team_db
    base, run_dir = proxy
    cid = add_case(owner, reason="our_error")  # the policy recommends a fix: decidable in one click
    ctx_b, page_b, served_b = session_on(chromium, base, "b")
    ctx_a, page_a, served_a = session_on(chromium, base, "a")
    try:
        assert served_a and served_b and served_a != served_b, (served_a, served_b)  # two different servers
        before = open_cases_shown(page_b)  # B has now cached its home numbers (for a minute)

        page_a.goto(f"{base}/case?case={cid}")
        wait_for_app(page_a, 60_000)
        expect(page_a.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
        page_a.get_by_role("button", name="Record decision").click()  # the form is on the page, no tab
        wait_for_app(page_a, 60_000)
        expect(page_a.get_by_test_id("stAlertContentSuccess")).to_contain_text("Decision saved", timeout=60_000)

        # B's cached home numbers were cleared by the notification: the decision counts at once.
        deadline = time.monotonic() + 20  # well inside the 60 s the cache would otherwise hold
        while True:
            page_b.reload()
            wait_for_app(page_b, 60_000)
            if open_cases_shown(page_b) == before - 1 or time.monotonic() > deadline:
                break
        assert open_cases_shown(page_b) == before - 1
        page_b.goto(f"{base}/case?case={cid}")
        wait_for_app(page_b, 60_000)
        expect(page_b.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
        expect(page_b.locator("p").filter(has_text=re.compile(r"Closed$")).first).to_be_visible()  # the status badge
        expect(page_b.get_by_text("decided by Rita Ramos", exact=False).first).to_be_visible()
        page_b.screenshot(path=str(ARTIFACTS / "two-servers-b-sees-a.png"), full_page=True)
    finally:
        ctx_a.close()
        ctx_b.close()
    with owner.read() as s:
        d = s.scalar(select(Decision).where(Decision.case_id == cid))
        assert s.get(Case, cid).status == "closed"
    assert (d.outcome, d.decided_by_id) == ("fix", user_id(owner, "rita"))
    access = (run_dir / "access.log").read_text()
    assert "/_stcore/stream" in access and " 101 " in access  # the WebSockets went through nginx
