"""Cached read sides for the pages. A short TTL, and `clear_analytics_cache()` for writers to call.

The engine is passed as `_db` (not hashed: an Engine is not hashable, and one URL has one engine), the
database URL is passed as a plain argument so it is part of the key. Results are small frames, so
st.cache_data's copy-on-read costs little.
"""

from __future__ import annotations

from datetime import date, datetime

import streamlit as st

from data.db import Database
from desk import analytics, home
from desk.auth import Actor
from desk.review import View, build_view
from ui import runtime
from ui.analytics_view import prepare_tables

ANALYTICS_TTL_SECONDS = 60


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=128)
def _report(_db: Database, url: str, filters: analytics.Filters, actor: Actor, today: date):
    return analytics.report(_db, filters, actor, today), runtime.now()


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=32)
def _people(_db: Database, url: str, actor: Actor) -> list[analytics.Person]:
    return analytics.people(_db, actor)


# The figures and tables drawn from a report: building a dozen Plotly figures and display tables costs more
# than a warm rerun may, so they are kept too — as shared objects (cache_resource: no copy per hit), which
# the page only draws.
@st.cache_resource(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=64)
def _view(_db: Database, url: str, filters: analytics.Filters, actor: Actor, today: date):
    report, computed_at = _report(_db, url, filters, actor, today)
    view = build_view(report)
    prepare_tables(view.tables)  # drawn on every rerun: as Arrow once
    return report, computed_at, view


def analytics_view(
    db: Database, filters: analytics.Filters, actor: Actor, today: date
) -> tuple[analytics.Report, datetime, View]:
    """(Report, computed at, View): the report and what the page draws from it, cached for a minute."""
    return _view(db, db.url, filters, actor, today)


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=64)
def _drill(_db: Database, url: str, filters: analytics.Filters, actor: Actor, drill: analytics.Drill, today: date):
    return analytics.drill_cases(_db, filters, actor, drill, today=today, exact=False)


def analytics_drill(db: Database, filters: analytics.Filters, actor: Actor, drill: analytics.Drill, today: date):
    """(cases, how many in all — None when more than listed): the cases behind one number of the analytics
    page (the backlog as of `today`), cached like it."""
    return _drill(db, db.url, filters, actor, drill, today)


def analytics_people(db: Database, actor: Actor) -> list[analytics.Person]:
    return _people(db, db.url, actor)


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=32)
def _currencies(_db: Database, url: str, actor: Actor, reporting: str) -> list[str]:
    return analytics.currencies(_db, actor, reporting)


def analytics_currencies(db: Database, actor: Actor, reporting: str) -> list[str]:
    """The currency filter's choices: the reporting currency first, then every currency the desk sells in."""
    return _currencies(db, db.url, actor, reporting)


@st.cache_data(ttl=ANALYTICS_TTL_SECONDS, show_spinner=False, max_entries=8)
def _headline(_db: Database, url: str, today: date, currency: str) -> home.Headline:
    return home.headline(_db, today, currency)


def headline(db: Database, today: date, currency: str = "USD") -> home.Headline:
    """The home page's numbers (about 0.1 s of SQL at a million cases), cached like the analytics; money in
    `currency` (the reporting currency)."""
    return _headline(db, db.url, today, currency)


def clear_analytics_cache() -> None:
    """Forget cached analytics and home numbers, e.g. right after a decision or an approval was written, so
    the next view shows it (otherwise it appears within ANALYTICS_TTL_SECONDS)."""
    _headline.clear()
    _view.clear()
    _report.clear()
    _people.clear()
    _currencies.clear()
