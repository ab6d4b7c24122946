"""The one guard every page calls first: who is signed in, may they see this page, the desk context.

A page never depends on app.py having run first (Streamlit's `pages/` trap runs a page directly on
the first request after a server start), so each page calls `guard("<key>")` as its first line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import streamlit as st
from sqlalchemy.exc import OperationalError, ProgrammingError

from data.db import Database
from desk.auth import Actor, find_active_user, list_active_users
from ui.nav import BY_KEY
from ui.runtime import get_db, today

LOCAL_USER_KEY = "local_user_email"
DEFAULT_LOCAL_USER = "rita@refund-desk.example"


@dataclass(frozen=True)
class Ctx:
    db: Database
    actor: Actor
    today: date


def _stop_with(message: str, kind: str = "error") -> None:
    getattr(st, kind)(message)
    st.stop()


def _resolve_actor(db: Database) -> Actor | None:
    email = st.session_state.get(LOCAL_USER_KEY, DEFAULT_LOCAL_USER)
    return find_active_user(db, email)


def guard(page_key: str | None) -> Ctx:
    """Resolve the user and check they may see `page_key`; stops the script with a message if not."""
    db = get_db()
    try:
        actor = _resolve_actor(db)
    except (OperationalError, ProgrammingError):
        _stop_with(
            "The case database is not set up yet. Start the app with `make run`, which creates it "
            "(or run `alembic upgrade head` against your DATABASE_URL)."
        )
        raise
    if actor is None:
        _stop_with("No access — your account is not active on Refund Desk. Ask an admin to add you.", "warning")
        raise AssertionError("unreachable")
    if page_key is not None:
        spec = BY_KEY.get(page_key)
        if spec is None or actor.role not in spec.roles:
            _stop_with("This page is not available for your role.", "warning")
    return Ctx(db=db, actor=actor, today=today())


def local_user_picker(db: Database) -> None:
    """Local mode: choose which demo user you are (sidebar)."""
    try:
        users = list_active_users(db)
    except (OperationalError, ProgrammingError):
        return
    if not users:
        return
    emails = [u.email for u in users]
    labels = {u.email: f"{u.display_name} · {u.role}" for u in users}
    current = st.session_state.get(LOCAL_USER_KEY, DEFAULT_LOCAL_USER)
    st.sidebar.selectbox(
        "Signed in as (local mode)",
        emails,
        index=emails.index(current) if current in emails else 0,
        format_func=labels.get,
        key=LOCAL_USER_KEY,
        help="Local mode: no identity provider is configured, so pick a demo user.",
    )
