"""Submitting a form to desk/, one way for every page: call the desk function, show what it answered.

    forms = FormMessages("case_form_errors", scope=case_id)        # one per page (scope: e.g. the case shown)

    @forms.callback                                                 # unexpected errors get an error id
    def _submit_note(case_id, version, key):
        if forms.submit("note", lambda: add_note(db, ...), done="Note added.", after=clear_queue_caches).ok:
            st.session_state[f"note_text_{case_id}"] = ""

    forms.field_errors("note", "note", "form")                      # inside the form: each refusal by its field

What a desk error becomes:

- `InvalidInput` — its message next to its field (`exc.field`, or "form" for the form as a whole), kept until
  the next submit of any form on the page;
- any other `DeskError` — with `inline=False` (the case page) at the top of the page (a flash, shown once:
  `StaleCase` as a warning listing what changed, the rest as an error); with `inline=True` (the users page)
  next to the form, under its "form" field.

A success message goes to the top of the page (a flash, as the case page shows it) or, with `inline=True`, next
to its form (`forms.success(form)` where the form is drawn). Every callback wrapped by `forms.callback` (or
`ui.errors.run_safely`) turns an unexpected exception into an error id the user can quote, the traceback logged
under it; the pages' scripts are wrapped the same way by app.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import streamlit as st

from desk.errors import DeskError, InvalidInput, StaleCase
from ui.casework import flash
from ui.errors import run_safely

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Submitted:
    """What `FormMessages.submit` did: `ok` (desk accepted) and the desk function's result."""

    ok: bool
    result: Any = None


@dataclass(frozen=True)
class FormMessages:
    """The refusals and successes of one page's forms, kept in `st.session_state[key]` between runs."""

    key: str
    scope: Any = None  # messages recorded for another scope (another case) are not shown
    inline: bool = False  # successes and general refusals next to their form (else: at the top of the page)

    # ---- reading -------------------------------------------------------------------------------------------

    def errors(self, form: str) -> dict[str, str]:
        """The refusal messages of `form` by field ("form": the whole form), if its last submit was refused."""
        state = st.session_state.get(self.key) or {}
        if state.get("scope") != self.scope or state.get("form") != form:
            return {}
        return dict(state.get("fields") or {})

    def field_errors(self, form: str, *fields: str) -> None:
        """Show the refusal of each of `fields` (in that order), where the call is made: next to the field."""
        errs = self.errors(form)
        for field in fields:
            if errs.get(field):
                st.error(errs[field], icon=":material/error:")

    def success(self, form: str) -> None:
        """With `inline=True`: the success message of `form`'s last submit, where the call is made."""
        state = st.session_state.get(self.key) or {}
        if state.get("scope") == self.scope and state.get("done_form") == form and state.get("done"):
            st.success(state["done"], icon=":material/check_circle:")

    def clear(self) -> None:
        st.session_state.pop(self.key, None)

    # ---- writing (from callbacks) ----------------------------------------------------------------------------

    def refuse(self, form: str, field: str, message: str) -> None:
        """Record a refusal the page makes itself (before calling desk/), shown like desk's."""
        # the form's own name is kept apart from the messages, so it is never shown as one
        st.session_state[self.key] = {"scope": self.scope, "form": form, "fields": {field: message}}

    def refused(self, form: str, exc: DeskError) -> None:
        """Show a desk refusal where it belongs (see the module docstring)."""
        if isinstance(exc, InvalidInput):
            self.refuse(form, exc.field or "form", exc.message)
        elif self.inline:
            self.refuse(form, "form", str(exc))
        else:
            self.clear()  # the last submit's field messages are answered by this one
            if isinstance(exc, StaleCase):
                flash("warning", str(exc), exc.changes)
            else:
                flash("error", str(exc))

    def succeeded(self, form: str, message: str) -> None:
        if self.inline:
            st.session_state[self.key] = {"scope": self.scope, "done_form": form, "done": message}
        else:
            self.clear()
            flash("success", message)

    def submit(
        self,
        form: str,
        call: Callable[[], R],
        *,
        done: str | Callable[[R], str] | None = None,
        after: Callable[[], object] | None = None,
    ) -> Submitted:
        """Call `call()` (a desk function): on a `DeskError` show it (see `refused`); on success run `after()`
        (e.g. clear the caches the write made stale) and show `done` (a message, or one made from the result).
        Unexpected exceptions pass through (to `callback`'s error id)."""
        try:
            result = call()
        except DeskError as exc:
            self.refused(form, exc)
            return Submitted(False)
        if after is not None:
            after()
        if done is not None:
            self.succeeded(form, done(result) if callable(done) else done)
        return Submitted(True, result)

    @staticmethod
    def callback(fn: Callable[P, R]) -> Callable[P, R | None]:
        """Wrap a widget callback: an unexpected error shows an error id (ui.errors.run_safely)."""
        return run_safely(fn)
