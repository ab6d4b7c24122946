"""The queue's views in the Streamlit layer: the filters in the address bar (a shareable link) and the saved-views
popover. The widgets' keys (qf_*) are the queue page's; the meaning of a view is desk.views'."""

from __future__ import annotations

from typing import Any

import streamlit as st

from data.db import Database
from desk.auth import Actor
from desk.errors import DeskError
from desk.views import (
    DEFAULT_VIEW,
    delete_view,
    has_view_params,
    list_views,
    save_view,
    view_from_params,
    view_to_params,
)
from ui.casework import flash

CURRENT_FILTERS = "queue_current_filters"  # the QueueFilters of the view last shown (read by the case page)
LAST_LINK = "queue_last_link"  # the parameters this session last wrote to the address bar
WIDGET_KEYS = {
    "text": "qf_text",
    "types": "qf_types",
    "reasons": "qf_reasons",
    "status": "qf_status",
    "assignee": "qf_assignee",
    "min": "qf_min",
    "max": "qf_max",
    "sort": "qf_sort",
}


def view_from_state() -> dict[str, Any]:
    """The view the queue's widgets hold now."""
    return {key: st.session_state.get(widget, DEFAULT_VIEW[key]) for key, widget in WIDGET_KEYS.items()}


def _set_state(view: dict[str, Any]) -> None:
    for key, widget in WIDGET_KEYS.items():
        st.session_state[widget] = view[key]


def apply_link(user_ids: set[int]) -> list[str]:
    """A link's view (query parameters this session did not write itself) replaces the widgets' values; without
    any, the remembered view stays. Returns notes on link values that could not be used."""
    params = {k: st.query_params.get(k) for k in st.query_params}
    if not has_view_params(params) or params == st.session_state.get(LAST_LINK):
        return []
    view, notes = view_from_params(params, user_ids)
    _set_state(view)
    return notes


def write_link(view: dict[str, Any]) -> None:
    """Put the view in the address bar (only what differs from the default)."""
    params = view_to_params(view)
    if params != {k: st.query_params.get(k) for k in st.query_params}:
        st.query_params.from_dict(params)
    st.session_state[LAST_LINK] = params


def _open_saved(params: dict[str, str], name: str) -> None:
    view, notes = view_from_params(params)
    _set_state(view)
    if notes:
        flash("warning", f"The saved view “{name}” was opened; some of its values no longer apply:", notes)


def _save(db: Database, actor: Actor) -> None:
    name = st.session_state.get("queue_view_name", "")
    try:
        saved = save_view(db, actor.id, name, view_from_state())
    except DeskError as exc:
        flash("error", str(exc))
        return
    st.session_state["queue_view_name"] = ""
    flash("success", f"Saved the view “{saved.name}”.")


def _delete(db: Database, actor: Actor, view_id: int, name: str) -> None:
    try:
        delete_view(db, actor.id, view_id)
    except DeskError as exc:
        flash("warning", str(exc))
        return
    flash("success", f"Deleted the view “{name}”.")


def saved_views_popover(db: Database, actor: Actor, where) -> None:
    """A "Views" popover: open or delete one of my saved views, or save the current one under a name."""
    views = list_views(db, actor.id)
    with where.popover(f"Views ({len(views)})", icon=":material/bookmarks:"):
        if not views:
            st.caption("No saved views yet. Name the current filters and sort to keep them.")
        for v in views:
            row = st.container(horizontal=True)
            row.button(
                v.name,
                key=f"queue_view_open_{v.id}",
                on_click=_open_saved,
                args=(v.params, v.name),
                type="tertiary",
                icon=":material/filter_alt:",
            )
            row.button(
                "",
                key=f"queue_view_delete_{v.id}",
                on_click=_delete,
                args=(db, actor, v.id, v.name),
                icon=":material/delete:",
                type="tertiary",
                help=f"Delete the view “{v.name}”",
            )
        st.text_input(
            "Name for the current view", key="queue_view_name", max_chars=80, placeholder="e.g. Overdue billing errors"
        )
        st.button(
            "Save this view", key="queue_view_save", on_click=_save, args=(db, actor), icon=":material/bookmark_add:"
        )
        st.caption("The address bar holds the current filters and sort: copy it to share this view.")
