"""The Streamlit layer of the queue and the case page: cached queue reads (cleared after every write the pages
make) and the little session-state helpers both pages share. No SQL here: it calls desk/."""

from __future__ import annotations

from datetime import date

import streamlit as st

from data.db import Database
from desk.auth import Actor
from desk.queue import (
    Neighbours,
    QueueCount,
    QueueCursor,
    QueueFilters,
    QueuePage,
    count_matching,
    neighbours,
    open_cases,
    queue_users,
)

QUEUE_TTL_SECONDS = 20  # other reviewers' changes show up within this; our own writes clear the cache at once
FLASH_KEY = "casework_flash"


@st.cache_data(ttl=QUEUE_TTL_SECONDS, show_spinner=False, max_entries=500)
def cached_queue_page(
    _db: Database, url: str, actor: Actor, filters: QueueFilters, after: QueueCursor | None, today: date, limit: int
) -> QueuePage:
    return open_cases(_db, actor=actor, filters=filters, after=after, limit=limit, today=today)


@st.cache_data(ttl=QUEUE_TTL_SECONDS, show_spinner=False, max_entries=500)
def cached_queue_count(_db: Database, url: str, actor: Actor, filters: QueueFilters, today: date) -> QueueCount:
    return count_matching(_db, actor=actor, filters=filters, today=today)


@st.cache_data(ttl=QUEUE_TTL_SECONDS, show_spinner=False, max_entries=2000)
def cached_neighbours(_db: Database, url: str, actor: Actor, filters: QueueFilters, case_id: int) -> Neighbours:
    """The case page's previous / next case of the queue view: as fresh as the queue page's rows (cleared by
    every write of this process, and on PostgreSQL by every other server's: ui.changes). Deciding and opening
    the next case asks desk.queue.neighbours itself, after the write."""
    return neighbours(_db, actor=actor, filters=filters, case_id=case_id)


@st.cache_data(ttl=300, show_spinner=False)
def cached_queue_users(_db: Database, url: str) -> list[tuple[int, str]]:
    return queue_users(_db)


def clear_queue_caches() -> None:
    """After a write: the queue, its counts and the analytics must show it at once."""
    from ui.cache import clear_analytics_cache

    cached_queue_page.clear()
    cached_queue_count.clear()
    cached_neighbours.clear()
    clear_analytics_cache()


def flash(kind: str, message: str, details: list[str] | None = None) -> None:
    """A message for the next run of the page (set in a callback, shown once)."""
    st.session_state[FLASH_KEY] = (kind, message, list(details or []))


def show_flash() -> None:
    item = st.session_state.pop(FLASH_KEY, None)
    if not item:
        return
    kind, message, details = item
    box = getattr(st, kind)
    if details:
        # details may quote customer text (notes): keep them out of Markdown
        box(message)
        st.text("\n".join(f"• {d}" for d in details))
    else:
        box(message)
