"""An unexpected error shows the user an id and logs the traceback under the same id."""

import logging
import re

from streamlit.testing.v1 import AppTest


def _page():
    import streamlit as st

    from desk.errors import InvalidInput
    from ui.errors import reported

    with reported("testing"):
        st.write("before")
        raise ZeroDivisionError("secret detail 42")
    with reported():
        raise InvalidInput("Amount must be positive.", "amount")
    st.write("after")


def test_an_unexpected_error_shows_an_id_and_logs_the_traceback_under_it(caplog, monkeypatch):
    monkeypatch.delenv("REFUND_DESK_RAISE_ERRORS", raising=False)  # production behaviour
    logger = logging.getLogger("refund_desk")
    logger.addHandler(caplog.handler)
    try:
        at = AppTest.from_function(_page, default_timeout=30).run()
    finally:
        logger.removeHandler(caplog.handler)
    assert not at.exception
    shown = at.error[0].value
    error_id = re.search(r"error id \*\*([0-9A-F]{4}-[0-9A-F]{4})\*\*", shown).group(1)
    assert "secret detail" not in shown and "ZeroDivisionError" not in shown
    [record] = [r for r in caplog.records if error_id in r.getMessage()]
    assert "while testing" in record.getMessage()
    assert record.exc_info[0] is ZeroDivisionError
    # A desk error is a message for the user, shown as it is; the page goes on.
    assert at.error[1].value == "Amount must be positive."
    assert at.markdown[-1].value == "after"


def test_in_page_tests_an_unexpected_error_is_re_raised_with_its_details(app_env, sqlite_demo_url):
    app_env(sqlite_demo_url)  # what the `app` fixture does: REFUND_DESK_RAISE_ERRORS, full error details
    at = AppTest.from_function(_page, default_timeout=30).run()
    assert "secret detail 42" in at.exception[0].message


def _crash():
    raise ZeroDivisionError("secret detail 42")


def test_an_error_that_escapes_everything_is_redacted_by_config_toml():
    """client.showErrorDetails = "none": Streamlit's own fallback hides the type, text and traceback."""
    at = AppTest.from_function(_crash, default_timeout=30).run()
    assert "redacted" in at.exception[0].message
    assert "secret detail" not in at.exception[0].message and not at.exception[0].stack_trace
