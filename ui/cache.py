"""Cached read sides for the pages. A short TTL, and `clear_analytics_cache()` for writers to call.

The engine is passed as `_db` (not hashed: an Engine is not hashable, and one URL has one engine), the
database URL is passed as a plain argument so it is part of the key. Results are small frames, so
st.cache_data's copy-on-read costs little.
"""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from data.db import Database
from desk import analytics
from desk.auth import Actor

ANALYTICS_TTL_SECONDS = 60


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=128)
def _report(_db: Database, url: str, filters: analytics.Filters, actor: Actor, today: date):
    return analytics.report(_db, filters, actor, today), datetime.now()


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=32)
def _people(_db: Database, url: str, actor: Actor) -> list[analytics.Person]:
    return analytics.people(_db, actor)


def analytics_report(db: Database, filters: analytics.Filters, actor: Actor, today: date):
    """(Report, computed at): every number of the analytics page, cached for a minute per filter set."""
    return _report(db, db.url, filters, actor, today)


def analytics_people(db: Database, actor: Actor) -> list[analytics.Person]:
    return _people(db, db.url, actor)


def clear_analytics_cache() -> None:
    """Forget cached analytics, e.g. right after a decision or an approval was written, so the next
    view of the analytics page shows it (otherwise it appears within ANALYTICS_TTL_SECONDS)."""
    _report.clear()
    _people.clear()
