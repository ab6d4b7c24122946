"""Unexpected errors: a short id for the user, the traceback in the server log under that id.

`.streamlit/config.toml` sets `client.showErrorDetails = "none"`, so an exception that escapes shows
only Streamlit's generic message. Wrap work in `reported()` (app.py wraps every page) or decorate a
widget callback with `@run_safely` to give the user an id they can quote instead:

    with reported("deciding a case"):
        ...

Desk errors (`desk.errors.DeskError`) are messages meant for the user and are shown as they are; pages
should still catch them next to the input they belong to.

With REFUND_DESK_RAISE_ERRORS set (the AppTest fixture sets it) an unexpected error is logged and then
re-raised, so `assert not at.exception` in a page test still catches a crashing page.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

import streamlit as st

from data.db import timeout_message
from desk.errors import DeskError

RAISE_ENV = "REFUND_DESK_RAISE_ERRORS"  # set by tests/conftest.py's app fixture
P = ParamSpec("P")
R = TypeVar("R")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (the server log), with a timestamp."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


log = logging.getLogger("refund_desk")
if not any(isinstance(h, _StderrHandler) for h in log.handlers):
    # Streamlit configures only its own loggers; ours gets one visible line per event in the server log.
    log.addHandler(_StderrHandler())
    log.setLevel(logging.INFO)
    log.propagate = False


def new_error_id() -> str:
    """Eight characters a user can read out on the phone, e.g. `7F3A-9C21`."""
    raw = secrets.token_hex(4).upper()
    return f"{raw[:4]}-{raw[4:]}"


def report(exc: BaseException, where: str = "") -> str:
    """Log `exc` with its traceback under a new error id; return the id."""
    error_id = new_error_id()
    log.error("error id %s%s: %r", error_id, f" while {where}" if where else "", exc, exc_info=exc)
    return error_id


def show_unexpected(error_id: str) -> None:
    st.error(
        f"Something went wrong (error id **{error_id}**). Nothing you did was lost; try again, and if it "
        "keeps happening, send this id to your admin — it points to the details in the server log.",
        icon=":material/error:",
    )


@contextmanager
def reported(where: str = "") -> Iterator[None]:
    """Show desk errors as messages and unexpected ones as an error id (traceback logged server-side).

    Streamlit's own control flow (`st.stop`, `st.rerun`, `st.switch_page`) derives from BaseException
    and passes through untouched.
    """
    try:
        yield
    except Exception as exc:
        # A PostgreSQL limit that fired (statement, lock or idle timeout) is the desk being busy, not a bug:
        # say so, whichever layer wrapped it (analytics wraps database errors in DatabaseNotReady).
        busy = timeout_message(exc)
        if busy:
            log.warning("database limit%s: %s", f" while {where}" if where else "", str(exc).splitlines()[0])
            st.warning(busy, icon=":material/hourglass_top:")
            return
        if isinstance(exc, DeskError):
            st.error(str(exc), icon=":material/block:")
            return
        error_id = report(exc, where)
        if os.environ.get(RAISE_ENV):  # tests: let AppTest see the exception (at.exception)
            raise
        show_unexpected(error_id)


def run_safely(fn: Callable[P, R]) -> Callable[P, R | None]:
    """Decorator for widget callbacks: same handling as `reported()`."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
        with reported(fn.__name__.replace("_", " ")):
            return fn(*args, **kwargs)
        return None

    return wrapper
