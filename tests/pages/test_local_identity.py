"""Who acts in local mode, in AppTest: a plain session-state key that only the picker's on_change writes; a new
session continues as the person last picked on this server and says so; a deactivated pick is said, not
silently replaced; and the not-set-up message is kept for a database without tables (anything else failing
gets an error id, tests/pages/test_unreadable_database.py). The browser tests of every path into a case page
are in tests/browser/test_identity_browser.py.
"""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from data.db import Database
from data.models import User
from desk import audit
from desk.users import set_active
from tests.pages.test_auth_pages import USERS, user_id
from ui.guard import LOCAL_USER_KEY, PICKER_KEY


@pytest.fixture
def desk_db(db: Database) -> Database:
    """A migrated database (SQLite and PostgreSQL) with the five users of test_auth_pages and no cases."""
    with db.write.begin() as s:
        for email, name, role, active in USERS:
            s.add(User(email=email, display_name=name, role=role, active=active, created_at=audit.utcnow()))
    return db


def banner(at: AppTest) -> str:
    return next(i.value for i in at.info if "Local mode" in i.value)


def caption(at: AppTest) -> str:
    return " ".join(c.value for c in at.sidebar.caption)


def test_a_first_session_acts_as_the_default_demo_user_and_says_so(app, desk_db):
    at = app(desk_db.url).run()
    assert not at.exception
    assert at.session_state[LOCAL_USER_KEY] == "rita@refund-desk.example"
    assert "This tab acts as **Rita Ramos · reviewer**, the default demo user" in banner(at)
    assert "a new tab or a reload continues as the person last picked on this computer" in banner(at)


def test_picking_someone_changes_who_acts_and_the_next_session_continues_as_them(app, desk_db):
    at = app(desk_db.url).run()
    at.sidebar.selectbox(key=PICKER_KEY).set_value("max@refund-desk.example").run()
    assert not at.exception
    assert at.session_state[LOCAL_USER_KEY] == "max@refund-desk.example"
    assert "This tab acts as **Max Müller · manager**" in banner(at) and "Max Müller · manager" in caption(at)

    other = AppTest.from_file(at._script_path, default_timeout=60).run()  # a new tab: a new session
    assert not other.exception
    assert other.session_state[LOCAL_USER_KEY] == "max@refund-desk.example"
    assert other.sidebar.selectbox(key=PICKER_KEY).value == "max@refund-desk.example"
    assert "This tab continues as **Max Müller · manager**, the person last picked on this computer" in banner(other)


def test_a_session_keeps_its_person_when_another_session_picks_someone_else(app, desk_db):
    first = app(desk_db.url).run()
    first.sidebar.selectbox(key=PICKER_KEY).set_value("max@refund-desk.example").run()
    second = AppTest.from_file(first._script_path, default_timeout=60).run()
    second.sidebar.selectbox(key=PICKER_KEY).set_value("ada@refund-desk.example").run()
    first.run()
    assert first.session_state[LOCAL_USER_KEY] == "max@refund-desk.example"
    assert "Max Müller · manager" in caption(first)


def test_the_picker_follows_the_acting_person_not_the_other_way_round(app, desk_db):
    """Who acts is the plain key: the widget is set from it before every draw."""
    at = app(desk_db.url).run()
    at.session_state[LOCAL_USER_KEY] = "max@refund-desk.example"  # as if written by an earlier on_change
    at.run()
    assert not at.exception
    assert at.sidebar.selectbox(key=PICKER_KEY).value == "max@refund-desk.example"
    assert "Max Müller · manager" in caption(at)


def test_a_picked_user_deactivated_meanwhile_is_named_and_the_tab_says_who_acts_now(app, desk_db):
    at = app(desk_db.url).run()
    at.sidebar.selectbox(key=PICKER_KEY).set_value("max@refund-desk.example").run()
    set_active(desk_db, user_id(desk_db, "ada@refund-desk.example"), user_id(desk_db, "max@refund-desk.example"), False)
    at.run()
    assert not at.exception
    assert at.session_state[LOCAL_USER_KEY] == "rita@refund-desk.example"
    assert "`max@refund-desk.example` is no longer active, so this tab now acts as **Rita Ramos · reviewer**" in banner(
        at
    )


def test_a_database_without_tables_gets_the_not_set_up_message_on_each_backend(app, db_url):
    at = app(db_url).run()
    assert not at.exception
    assert "not set up yet" in at.error[0].value
