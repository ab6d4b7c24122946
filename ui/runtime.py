"""Process-wide resources for the Streamlit layer: one cached Database per URL, and today's date."""

from __future__ import annotations

import os
from datetime import date, datetime, tzinfo

import streamlit as st

from data.db import Database, open_database, resolve_url
from desk import periods

TIMEZONE_ENV = "REFUND_DESK_TIMEZONE"


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


def desk_timezone() -> tuple[tzinfo, str | None]:
    """The desk's time zone and a warning if the configured one is not a zone: $REFUND_DESK_TIMEZONE, else
    `[desk] timezone` in .streamlit/secrets.toml, else UTC. It decides "today" and how times are shown."""
    configured = os.environ.get(TIMEZONE_ENV)
    if not configured:
        try:
            configured = st.secrets.get("desk", {}).get("timezone") if _has_secrets() else None
        except Exception:  # an unreadable secrets.toml: the sign-in path reports that
            configured = None
    return periods.zone(configured)


def now() -> datetime:
    """The current time in the desk's time zone (aware)."""
    return periods.now_in(desk_timezone()[0])


def today() -> date:
    """Today's date in the desk's time zone; REFUND_DESK_TODAY (YYYY-MM-DD) pins it for tests and demos."""
    pinned = os.environ.get("REFUND_DESK_TODAY")
    return date.fromisoformat(pinned) if pinned else now().date()
