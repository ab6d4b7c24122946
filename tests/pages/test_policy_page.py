"""The Policy changes page in AppTest: Max drafts a 10-day window (the check says the text still says 7 days
until he has it restated), saves; Priya compares and approves what she saw; a reviewer never sees the page."""

from datetime import timedelta

import pytest

from desk import book as desk_book
from desk import policy_changes as pc
from tests.conftest import TODAY, make_demo
from tests.support.apptest import shows
from tests.support.cases import user_id

MAX, PRIYA = "max@refund-desk.example", "priya@refund-desk.example"


@pytest.fixture
def desk_url(tmp_path):
    """A private demo desk: these tests write."""
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url, cases=120)
    desk_book.forget()
    yield url, db
    db.dispose()
    desk_book.forget()


def open_policy(app, url, user):
    at = app(url)
    at.session_state["local_user_email"] = user
    at.run()
    at.switch_page("pages/policy.py")
    return at.run()


def button(at, label):
    (b,) = [b for b in at.button if b.label.startswith(label)]
    return b


def test_a_manager_drafts_and_a_second_manager_approves_what_she_saw(app, desk_url):
    url, db = desk_url
    at = open_policy(app, url, MAX)
    assert not at.exception
    assert shows(at.markdown, "**In force today:** version 2024-01-01 (in force since 2024-01-01)")
    button(at, "Start a new draft").click().run()
    assert shows(at.success, "started from the version in force")
    (draft,) = pc.drafts(db)
    window = at.number_input(key=f"pol_{draft.id}_1_window")
    window.set_value(10).run()
    assert shows(at.error, "says '7 days'") and shows(at.error, "window_days is 10")
    assert button(at, "Save the draft").disabled
    button(at, "Say 10 days in the text").click().run()
    assert not at.exception
    assert shows(at.success, "Every check passes")
    at.date_input(key=f"pol_{draft.id}_1_effective").set_value(TODAY).run()
    assert shows(at.error, "must be after today (2026-11-26)")
    at.date_input(key=f"pol_{draft.id}_1_effective").set_value(TODAY + timedelta(days=14)).run()
    button(at, "Save the draft").click().run()
    assert shows(at.success, "saved (revision 2)")
    assert shows(at.info, "You drafted this version: a second person")
    assert not [b for b in at.button if b.label.startswith("Approve")]

    at = open_policy(app, url, PRIYA)
    (saved,) = pc.drafts(db)
    assert saved.window_days == 10 and saved.effective_from == TODAY + timedelta(days=14)
    assert shows(at.markdown, "**Sections that change:** 1, 4")
    button(at, "Replay the draft over past decisions").click().run()  # in place of 2024-01-01: 10 days
    assert not at.exception
    assert {m.label for m in at.metric} >= {"Decided cases", "Verdicts that change"}
    assert shows(at.markdown, f"**Draft {saved.name}** (effective from 2024-01-01, 10-day window)")
    button(at, f"Approve and publish {saved.name}").click().run()
    assert not at.exception
    assert shows(at.success, f"it takes effect on {TODAY + timedelta(days=14)}")
    assert shows(at.markdown, f"**Scheduled:** version {saved.name} — takes effect on {TODAY + timedelta(days=14)}")
    assert [v.version for v in desk_book.current_book(db).versions] == ["2024-01-01", saved.name]


def test_an_approval_of_content_that_changed_after_it_was_shown_is_refused(app, desk_url):
    url, db = desk_url
    max_id = user_id(db, "max")
    draft = pc.create_draft(db, max_id, TODAY)
    at = open_policy(app, url, PRIYA)  # Priya is shown revision 1
    v = draft.version().with_window_days(12)
    pc.save_draft(db, max_id, draft.id, draft.revision, pc.form_of(v), TODAY)  # Max saves again meanwhile
    button(at, f"Approve and publish {draft.name}").click().run()
    assert shows(at.error, "changed after you viewed it")
    assert pc.drafts(db)[0].status == "draft"


def test_a_reviewer_does_not_get_the_page(app, desk_url):
    url, _db = desk_url
    with pytest.raises(ValueError, match="Could not find a navigation page"):  # not in a reviewer's menu
        open_policy(app, url, "rita@refund-desk.example")
