"""The admin's frequent-requester threshold on the users page (AppTest, SQLite)."""

from __future__ import annotations

from desk.settings import read_frequent_requester_threshold
from tests.support.apptest import shows


def test_an_admin_sets_the_frequent_requester_threshold(app, tmp_path):
    from tests.conftest import make_demo

    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url)
    at = app(url)
    at.session_state["local_user_email"] = "ada@refund-desk.example"
    at.run()
    at.switch_page("pages/users.py").run()
    assert not at.exception, at.exception
    at.number_input(key="frequent_threshold").set_value(6)
    at.button(key="FormSubmitter:frequent_threshold_form-Save threshold").click().run()
    assert not at.exception
    assert shows(at.success, "Customers with more than 6 requests in 12 months are now flagged")
    assert read_frequent_requester_threshold(db) == 6
    db.dispose()
