"""The what-if replay page in AppTest (managers and admins; it was a tab of the policy checker)."""

from datetime import date
from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.conftest import TODAY
from ui.nav import pages_for

PAGE = Path(__file__).resolve().parents[2] / "pages" / "replay.py"

LOCKED = "This page is not available for your role."


def open_replay(app, user="max@refund-desk.example"):
    at = app()
    at.session_state["local_user_email"] = user
    at.run()
    at.switch_page("pages/replay.py")
    return at.run()


def test_only_managers_and_admins_see_the_what_if_replay(app):
    app()  # points the Streamlit layer at the shared demo desk
    assert "replay" in [p.key for p in pages_for("manager")] and "replay" in [p.key for p in pages_for("admin")]
    assert "replay" not in [p.key for p in pages_for("reviewer")]
    direct = AppTest.from_file(str(PAGE), default_timeout=60)  # a reviewer opening the page's URL directly
    direct.session_state["local_user_email"] = "rita@refund-desk.example"
    direct.run()
    assert not direct.exception
    assert [w.value for w in direct.warning] == [LOCKED]
    assert "What-if replay" in [t.value for t in open_replay(app, "max@refund-desk.example").title]
    assert "What-if replay" in [t.value for t in open_replay(app, "ada@refund-desk.example").title]


def test_a_manager_replays_a_14_day_window_over_two_years_of_decisions(app):
    at = open_replay(app, "max@refund-desk.example")
    at.number_input(key="rp_window").set_value(14).run()
    diff = [c.value for c in at.code][0]
    assert "-window_days: 7" in diff and "+window_days: 14" in diff
    at.date_input(key="rp_period").set_value((date(2024, 11, 1), TODAY)).run()
    [run] = [b for b in at.button if b.label == "Run the replay"]
    run.click().run()
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    decided, changed = int(metrics["Decided cases"].replace(",", "")), int(metrics["Verdicts that change"])
    assert decided > 300 and changed >= 1 and metrics["Less generous"] == "0"
    rates = at.dataframe[0].value.set_index("measure")
    assert rates.loc["Refund rate", "under the draft"] >= rates.loc["Refund rate", "as decided"]
    assert len(at.dataframe[-1].value) == changed
    assert "Download the changed cases as CSV" in [b.label for b in at.get("download_button")]


def test_a_broken_uploaded_draft_is_explained_and_cannot_be_replayed(app):
    at = open_replay(app, "max@refund-desk.example")
    at.radio(key="rp_source").set_value("upload").run()
    at.file_uploader(key="rp_upload").set_value(("draft.toml", b"version = 'x'\nwindow_days = 'many'\n", "text/plain"))
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith("The draft is not a valid policy version:")
    [run] = [b for b in at.button if b.label == "Run the replay"]
    assert run.disabled
