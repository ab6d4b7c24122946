"""Sign-in, navigation per role and the Users and roles page in AppTest.

Local mode (no [auth]) and sign-in mode (at.secrets with an [auth] section, at.user as the identity the
provider returned). Tests that write use the `db` fixture (SQLite and PostgreSQL) with a few users.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from streamlit.testing.v1 import AppTest

from data.db import Database
from data.models import CaseEvent, User
from desk import audit
from desk.users import change_role

ROOT = Path(__file__).resolve().parents[2]
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-cookie-secret-that-is-long-enough-0123456789",
    "client_id": "refund-desk",
    "client_secret": "not-a-secret",
    "server_metadata_url": "http://localhost:9/.well-known/openid-configuration",
}
USERS = [
    ("rita@refund-desk.example", "Rita Ramos", "reviewer", True),
    ("max@refund-desk.example", "Max Müller", "manager", True),
    ("ada@refund-desk.example", "Ada Lovelace", "admin", True),
    ("grace@refund-desk.example", "Grace Hopper", "admin", True),
    ("victor@refund-desk.example", "Victor Stale", "reviewer", False),
]


@pytest.fixture
def desk_db(db: Database) -> Database:
    """A migrated database (SQLite and PostgreSQL) with five users and no cases."""
    with db.write.begin() as s:
        for email, name, role, active in USERS:
            s.add(User(email=email, display_name=name, role=role, active=active, created_at=audit.utcnow()))
    return db


def user_id(db: Database, email: str) -> int:
    with db.read() as s:
        return s.scalar(select(User.id).where(User.email == email))


def refusals(db: Database) -> list[CaseEvent]:
    with db.read() as s:
        return list(s.scalars(select(CaseEvent).where(CaseEvent.kind == "access_refused").order_by(CaseEvent.id)))


def signed_in_app(app, url: str, user: dict | None) -> AppTest:
    at = app(url)
    at.secrets = {"auth": dict(AUTH)}
    if user is not None:
        at.user = user
    return at


def shows_no_data(at: AppTest) -> bool:
    return not at.metric and not at.dataframe and not at.get("arrow_data_frame") and not at.sidebar.selectbox


def local_banner(at: AppTest) -> bool:
    return any("Local mode" in i.value for i in at.info)


# ---- local mode ------------------------------------------------------------------------------------------


def test_local_mode_shows_a_banner_and_picks_among_active_demo_users(app):
    at = app().run()
    assert not at.exception
    assert local_banner(at)
    picker = at.sidebar.selectbox(key="local_user_picker")
    assert picker.label == "Signed in as (local mode)"
    assert picker.value == "rita@refund-desk.example"
    assert "Ada Lovelace · admin" in picker.options
    assert "Victor Stale · reviewer" not in picker.options  # deactivated users cannot be picked
    assert not at.sidebar.button  # nothing to sign out of


def registered(at: AppTest, page: str) -> bool:
    """Whether app.py's st.navigation registered `page` for this run's user (AppTest knows)."""
    try:
        at.switch_page(page)
    except ValueError as exc:
        assert "Could not find a navigation page" in str(exc)
        return False
    return True


def test_navigation_shows_users_and_roles_to_admins_only(app):
    at = app().run()
    assert registered(at, "pages/home.py")
    assert not registered(at, "pages/users.py"), "a reviewer's menu lists the users page"
    at.sidebar.selectbox(key="local_user_picker").set_value("ada@refund-desk.example").run()
    at.switch_page("pages/users.py").run()
    assert not at.exception
    assert at.title[0].value == "Users and roles"
    at.sidebar.selectbox(key="local_user_picker").set_value("max@refund-desk.example").run()
    assert at.title[0].value == "Refund Desk", "a manager kept the users page after switching user"
    assert not registered(at, "pages/users.py")


def test_the_users_page_run_without_app_py_still_refuses_a_reviewer_and_audits_it(app, desk_db):
    """What Streamlit's pages/ trap does on a fresh server: run the page script directly."""
    app(desk_db.url)  # points the Streamlit layer at desk_db
    at = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=30).run()
    assert not at.exception
    assert "not available for your role" in at.warning[0].value
    assert not at.title and not at.dataframe
    [event] = refusals(desk_db)
    assert event.payload["action"] == "open_page:users" and event.actor == "rita@refund-desk.example"


def test_a_server_listening_beyond_loopback_without_sign_in_shows_no_data(app, monkeypatch):
    from streamlit import config

    original = config.get_option("server.address")
    config.set_option("server.address", "0.0.0.0")
    try:
        at = app().run()
    finally:
        config.set_option("server.address", original)
    assert not at.exception
    assert shows_no_data(at)
    message = at.error[0].value
    assert "0.0.0.0" in message and "[auth]" in message and 'server.address = "127.0.0.1"' in message


# ---- the users page ---------------------------------------------------------------------------------------


def admin_on_users_page(app, db: Database) -> AppTest:
    at = app(db.url)
    at.session_state["local_user_email"] = "ada@refund-desk.example"
    at.run()
    at.switch_page("pages/users.py").run()
    assert not at.exception, at.exception
    return at


def test_admin_adds_a_user_who_can_then_be_picked(app, desk_db):
    at = admin_on_users_page(app, desk_db)
    at.text_input(key="new_email").input(" Lin.Chen@Refund-Desk.example")
    at.text_input(key="new_name").input("Lin Chen")
    at.selectbox(key="new_role").select("manager")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert not at.exception
    assert "Added Lin Chen (`lin.chen@refund-desk.example`) as manager" in at.success[0].value
    assert at.text_input(key="new_email").value == ""  # the form is ready for the next person
    assert "Lin Chen · manager" in at.sidebar.selectbox(key="local_user_picker").options
    assert "Lin Chen" in at.dataframe[0].value["Name"].tolist()
    assert "added as manager" in at.dataframe[1].value["Change"].iloc[0]


def test_add_user_errors_appear_next_to_the_field(app, desk_db):
    at = admin_on_users_page(app, desk_db)
    at.text_input(key="new_email").input("rita@refund-desk.example")
    at.text_input(key="new_name").input("Rita Again")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert "already has an account" in at.error[0].value
    # Rendered inside the form right after the email input, before the name input.
    form = at.get("form")[0]
    kinds = [type(el).__name__ for el in form.children.values()]
    assert kinds.index("Error") == kinds.index("TextInput") + 1
    at.text_input(key="new_email").input("not-an-email")
    at.button(key="FormSubmitter:add_user-Add user").click().run()
    assert "exactly one @" in at.error[0].value


def test_admin_changes_a_role_and_deactivates_a_user_and_both_are_audited(app, desk_db):
    at = admin_on_users_page(app, desk_db)
    rita = user_id(desk_db, "rita@refund-desk.example")
    at.selectbox(key="edit_user").set_value(rita).run()
    at.selectbox(key=f"edit_role_{rita}").select("manager")
    at.button(key="FormSubmitter:change_role-Save role").click().run()
    assert "Rita Ramos is now manager" in at.success[0].value
    [deactivate] = [b for b in at.button if b.label == "Deactivate Rita Ramos"]
    deactivate.click().run()
    assert "Rita Ramos is deactivated" in at.success[0].value
    assert [b.label for b in at.button if "Rita" in b.label] == ["Reactivate Rita Ramos"]
    changes = at.dataframe[1].value["Change"].tolist()
    assert changes[:2] == ["deactivated", "role reviewer → manager"]
    assert "Rita Ramos · manager" not in at.sidebar.selectbox(key="local_user_picker").options
    assert "Max Müller · manager" in at.sidebar.selectbox(key="local_user_picker").options


def test_the_last_admin_protection_shows_next_to_the_control(app, desk_db):
    ada = user_id(desk_db, "ada@refund-desk.example")
    grace = user_id(desk_db, "grace@refund-desk.example")
    change_role(desk_db, ada, grace, "manager")
    at = admin_on_users_page(app, desk_db)
    at.selectbox(key="edit_user").set_value(ada).run()
    assert "This is you." in [c.value for c in at.caption]
    at.selectbox(key=f"edit_role_{ada}").select("reviewer")
    at.button(key="FormSubmitter:change_role-Save role").click().run()
    assert "last active admin" in at.error[0].value
    assert at.title[0].value == "Users and roles"  # still an admin


# ---- sign-in mode ([auth] configured) ------------------------------------------------------------------------


def test_signed_out_users_see_only_a_sign_in_button(app, desk_db):
    at = signed_in_app(app, desk_db.url, {"is_logged_in": False}).run()
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert shows_no_data(at) and not local_banner(at)


def test_an_active_user_signed_in_by_the_provider_gets_their_role(app, desk_db):
    at = signed_in_app(app, desk_db.url, {"is_logged_in": True, "email": "Rita@Refund-Desk.example"}).run()
    assert not at.exception
    assert at.title[0].value == "Refund Desk"
    identity = " ".join(c.value for c in at.sidebar.caption)
    assert "Rita Ramos · reviewer" in identity and "`rita@refund-desk.example`" in identity
    assert [b.label for b in at.sidebar.button] == ["Sign out"]
    assert not at.sidebar.selectbox and not local_banner(at)
    assert not registered(at, "pages/users.py")


@pytest.mark.parametrize(
    "user",
    [
        {"is_logged_in": True, "email": "stranger@elsewhere.example"},
        {"is_logged_in": True, "email": "victor@refund-desk.example"},  # deactivated
        {"is_logged_in": True, "email": "rita@refund-desk.example", "email_verified": False},
        {"is_logged_in": True, "name": "No Email"},
    ],
    ids=["unknown", "inactive", "unverified", "no-email-claim"],
)
def test_a_signed_in_person_without_access_sees_no_access_and_no_data(app, desk_db, user):
    at = signed_in_app(app, desk_db.url, user).run()
    assert not at.exception
    assert at.title[0].value == "No access to Refund Desk"
    assert "ask an admin" in at.markdown[0].value.lower() or "Ask an admin" in " ".join(m.value for m in at.markdown)
    assert shows_no_data(at)
    assert [b.label for b in at.button] == ["Sign out"]
    at.run()  # a rerun does not audit the same refusal twice
    [event] = refusals(desk_db)
    assert event.payload["action"] == "sign_in"


def test_a_role_change_applies_on_the_next_run_even_with_a_valid_login_cookie(app, desk_db):
    at = signed_in_app(app, desk_db.url, {"is_logged_in": True, "email": "grace@refund-desk.example"})
    at.run()
    at.switch_page("pages/users.py").run()
    assert at.title[0].value == "Users and roles"
    change_role(
        desk_db, user_id(desk_db, "ada@refund-desk.example"), user_id(desk_db, "grace@refund-desk.example"), "reviewer"
    )
    at.run()  # Grace clicks again: her menu and page follow the database, not her cookie
    assert at.title[0].value == "Refund Desk"
    assert "Grace Hopper · reviewer" in " ".join(c.value for c in at.sidebar.caption)
    assert not registered(at, "pages/users.py")


def test_an_incomplete_auth_section_refuses_to_show_data_and_says_what_is_missing(app, desk_db):
    at = app(desk_db.url)
    at.secrets = {"auth": {k: v for k, v in AUTH.items() if k != "cookie_secret"}}
    at.user = {"is_logged_in": True, "email": "rita@refund-desk.example"}
    at.run()
    assert not at.exception
    assert shows_no_data(at)
    assert "`cookie_secret` is missing" in at.error[0].value
