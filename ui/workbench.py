"""The case page as a workbench, in the Streamlit layer: previous/next case of the reviewer's queue view, the
keyboard shortcuts (Streamlit's own `shortcut=` on buttons), and the colleague-has-it-open line.

The queue view is the one the queue page last showed this session (ui.queue_views.CURRENT_FILTERS); without
one (a case opened from a link in a new tab) it is the queue's default view: every open case, overdue first.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.db import Database
from desk.audit import utcnow
from desk.auth import Actor
from desk.presence import Viewer, due, touch
from desk.queue import OPEN_STATUSES, SORTS, Neighbours, QueueFilters
from ui.casework import cached_neighbours
from ui.queue_views import CURRENT_FILTERS

# (keys, what they do) — listed on the page; the keys are the buttons' `shortcut=` values
SHORTCUTS = (
    ("D", "go to the decision form (the outcome; then Tab to the amount and the rationale)"),
    ("J", "next case in your queue view"),
    ("K", "previous case"),
    ("Ctrl+Enter", "record the decision (in the decision form)"),
    ("Alt+Enter", "decide and open the next case"),
    ("Tab / Shift+Tab", "move through the form; arrow keys change the outcome"),
)
# built once: a table from a dict is a new DataFrame on every rerun (st.table converts it twice)
_SHORTCUTS_TABLE = pd.DataFrame({"Keys": [k for k, _ in SHORTCUTS], "Does": [w for _, w in SHORTCUTS]})
NEXT_KEY, PREVIOUS_KEY = "j", "k"
SUBMIT_KEY, SUBMIT_NEXT_KEY = "ctrl+enter", "alt+enter"
PRESENCE = "case_presence_written"  # {case id: when this session last wrote its presence}


FOCUS_KEY = "d"
# Streamlit has no focus API: one listener on the page (st.html runs it in the page itself, not in an iframe;
# the text is this constant, never anything a user typed). "D" outside a text field moves the keyboard focus
# to the chosen outcome of the decision form (its radio group: `key=decide_outcome_...` gives the class).
_FOCUS_SCRIPT = """<script>
(() => {
  if (window.__refundDeskFocusKey) return;
  window.__refundDeskFocusKey = true;
  document.addEventListener("keydown", (e) => {
    if (e.key.toLowerCase() !== "FOCUS_KEY" || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
    const t = e.target;
    if (t && (t.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName))) return;
    const group = document.querySelector('[class*="st-key-decide_outcome_"]');
    const target = group && (group.querySelector("input:checked") || group.querySelector("input"));
    if (!target) return;
    e.preventDefault();
    target.focus();
    target.scrollIntoView({block: "center"});
  });
})();
</script>""".replace("FOCUS_KEY", FOCUS_KEY)


def focus_shortcut() -> None:
    """Bind "D" (go to the decision form) on this page; harmless where the page has no decision form."""
    st.html(_FOCUS_SCRIPT, unsafe_allow_javascript=True, width="content")


def queue_view() -> QueueFilters:
    """The filters and sort of the reviewer's current queue view."""
    filters = st.session_state.get(CURRENT_FILTERS)
    return filters if isinstance(filters, QueueFilters) else QueueFilters()


def _go(case_id: int) -> None:
    st.query_params["case"] = str(case_id)


def case_nav(db: Database, actor: Actor, case_id: int) -> Neighbours:
    """Previous / next buttons (K / J) over the queue view, and the list of shortcuts."""
    view = queue_view()
    near = cached_neighbours(db, db.url, actor, view, case_id)
    bar = st.container(horizontal=True, vertical_alignment="center")
    bar.page_link("pages/queue.py", label="Back to the queue", icon=":material/arrow_back:")
    bar.button(
        "Previous case",
        icon=":material/chevron_left:",
        key="case_prev",
        shortcut=PREVIOUS_KEY,
        disabled=near.previous is None,
        on_click=_go,
        args=(near.previous,),
        type="tertiary",
        help=f"#{near.previous}" if near.previous else "This is the first case of your queue view.",
    )
    bar.button(
        "Next case",
        icon=":material/chevron_right:",
        key="case_next",
        shortcut=NEXT_KEY,
        disabled=near.next is None,
        on_click=_go,
        args=(near.next,),
        type="tertiary",
        help=f"#{near.next}" if near.next else "This is the last case of your queue view.",
    )
    with bar.popover("Keyboard shortcuts", icon=":material/keyboard:", type="tertiary"):
        st.table(_SHORTCUTS_TABLE)
    # both statuses chosen is no status filter (the queue page's "Open and awaiting approval")
    unfiltered = (QueueFilters(sort=view.sort), QueueFilters(sort=view.sort, statuses=OPEN_STATUSES))
    bar.caption(f"Queue view: {SORTS[view.sort][0].lower()}" + ("" if view in unfiltered else " · filtered"))
    return near


def presence_lines(db: Database, actor: Actor, case_id: int, viewers: list[Viewer]) -> list[str]:
    """Write this person's presence on the case (at most once a minute) and say who else has it open (`viewers`,
    read with the case: desk.case_page)."""
    written = st.session_state.setdefault(PRESENCE, {})
    now = utcnow()
    if due(written.get(case_id), now):
        written[case_id] = touch(db, case_id, actor.id, now)
    return [v.line(now) for v in viewers]
