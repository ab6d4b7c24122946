"""ui.submit.FormMessages: a desk refusal next to its field, other desk errors where the page shows them, a
success once, and an unexpected error in a callback shown as an error id."""

import re

from streamlit.testing.v1 import AppTest


def _page(inline: bool = False):
    import streamlit as st

    from desk.errors import InvalidInput, NotAllowed, StaleCase
    from ui.casework import show_flash
    from ui.submit import FormMessages

    forms = FormMessages("test_forms", scope=7, inline=inline)
    answers = {
        "field": InvalidInput("Amount must be positive.", "amount"),
        "whole": InvalidInput("Something about the whole form."),
        "refused": NotAllowed("Your role may not do this."),
        "stale": StaleCase("This case changed since you opened it", ["Note added by Li"]),
    }

    def call():
        what = st.session_state.get("what")
        if what == "crash":
            raise ZeroDivisionError("secret detail 42")
        if what in answers:
            raise answers[what]
        return what

    @forms.callback
    def submit():
        forms.submit("f", call, done=lambda r: f"Done: {r}.")

    show_flash()
    st.text_input("what", key="what")
    st.button("Go", on_click=submit)
    forms.field_errors("f", "amount", "form")
    forms.success("f")


def _run(monkeypatch, inline=False):
    monkeypatch.delenv("REFUND_DESK_RAISE_ERRORS", raising=False)  # production behaviour
    return AppTest.from_function(_page, kwargs={"inline": inline}, default_timeout=30).run()


def _go(at, what):
    at.text_input(key="what").set_value(what)
    at.button[0].click().run()
    assert not at.exception
    return [e.value for e in at.error], [w.value for w in at.warning], [s.value for s in at.success]


def test_refusals_and_successes_at_the_top_of_the_page(monkeypatch):
    at = _run(monkeypatch)
    assert _go(at, "field") == (["Amount must be positive."], [], [])  # next to the field
    assert _go(at, "whole") == (["Something about the whole form."], [], [])
    assert _go(at, "refused")[0] == ["Your role may not do this."]  # a flash at the top
    errors, warnings, _ = _go(at, "stale")
    assert warnings == ["This case changed since you opened it"] and "Note added by Li" in at.text[0].value
    assert _go(at, "ok") == ([], [], ["Done: ok."])
    at.run()
    assert not at.success  # a flash is shown once


def test_inline_forms_keep_every_message_next_to_the_form(monkeypatch):
    at = _run(monkeypatch, inline=True)
    assert _go(at, "refused") == (["Your role may not do this."], [], [])
    assert _go(at, "ok") == ([], [], ["Done: ok."])
    at.run()
    assert [s.value for s in at.success] == ["Done: ok."]  # stays next to its form until the next submit
    assert _go(at, "field") == (["Amount must be positive."], [], [])


def test_an_unexpected_error_in_a_callback_shows_an_error_id(monkeypatch):
    at = _run(monkeypatch)
    errors, _, _ = _go(at, "crash")
    assert len(errors) == 1 and re.search(r"error id \*\*[0-9A-F]{4}-[0-9A-F]{4}\*\*", errors[0])
    assert "secret detail" not in errors[0]
