"""Process-wide resources for the Streamlit layer: one cached Database per URL, and today's date."""

from __future__ import annotations

import os
from datetime import date

import streamlit as st

from data.db import Database, open_database, resolve_url


def database_url() -> str:
    try:
        secret = st.secrets.get("database", {}).get("url") if _has_secrets() else None
    except Exception:  # a malformed secrets.toml is reported by resolve_url's own reading
        secret = None
    return resolve_url(os.environ.get("DATABASE_URL") or secret)


def _has_secrets() -> bool:
    try:
        return len(st.secrets) > 0
    except Exception:
        return False


@st.cache_resource(show_spinner=False)
def _database(url: str) -> Database:
    # The engine is shared by every session (it is thread-safe); sessions are never cached.
    db = open_database(url)
    from ui.changes import watch  # PostgreSQL: other app servers' writes clear our caches at once

    watch(db)
    return db


def get_db() -> Database:
    return _database(database_url())


def today() -> date:
    """Today's date; REFUND_DESK_TODAY (YYYY-MM-DD) pins it for tests and demos."""
    pinned = os.environ.get("REFUND_DESK_TODAY")
    return date.fromisoformat(pinned) if pinned else date.today()
