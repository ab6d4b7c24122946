"""The app shell and home page in AppTest."""

from sqlalchemy import func, select

from data.models import Case


def test_home_shows_todays_headline_numbers_from_the_database(app, sqlite_demo_url):
    at = app().run()
    assert not at.exception
    assert at.title[0].value == "Refund Desk"
    metrics = {m.label: m.value for m in at.metric}
    from data.db import open_database

    db = open_database(sqlite_demo_url)
    with db.read() as s:
        open_n = s.scalar(select(func.count()).where(Case.status != "closed"))
    db.dispose()
    assert metrics["Open cases"] == f"{open_n:,}"
    assert metrics["Refund rate, last 30 days"].endswith("%")
    assert "Overdue" in metrics


def test_sidebar_shows_the_database_in_use_and_the_local_user(app):
    at = app().run()
    captions = " ".join(c.value for c in at.sidebar.caption)
    assert "SQLite" in captions
    assert "Rita Ramos" in captions


def test_a_database_without_tables_gets_a_clear_message_not_a_traceback(app, tmp_path):
    at = app(f"sqlite:///{tmp_path / 'empty.db'}").run()
    assert not at.exception
    assert "not set up yet" in at.error[0].value


def test_a_manager_gets_a_link_to_the_exceptions_awaiting_approval(app):
    at = app()
    at.session_state["local_user_email"] = "max@refund-desk.example"
    at.run()
    labels = [el.proto.label for el in at.get("page_link")]
    assert any(label.startswith("Approve exceptions (") for label in labels), labels


def test_a_reviewer_gets_no_approval_link(app):
    at = app().run()
    labels = [el.proto.label for el in at.get("page_link")]
    assert labels and not any(label.startswith("Approve exceptions") for label in labels)
