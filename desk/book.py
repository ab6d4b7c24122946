"""The policy book the desk judges by: the one loader every entry point calls.

The queue, the case page, deciding, the checker, the import, the what-if replay and the analytics by version
(through the ``policy_version`` each decision stores) all judge by ``current_book(db)``: the published policy
versions stored in the case database (``desk.policy_store``; drafted, approved and published on the Policy
changes page). On the first use of a database in a process the versions of the configured directory --
``policy/versions`` or ``$REFUND_DESK_POLICY_DIR`` -- are stored there if missing and verified against what is
stored if present. The book is rebuilt when a version is published or withdrawn: in this process at once
(``forget``), in any other process (a second server) within ``BOOK_TTL_SECONDS``, by a cheap count/max check.

``current_book()`` without a database is the book of the configured directory alone (each directory read once
per process): the command line and callers that have no database. When the loader refuses a version
(``policy.load_book``: a malformed file, clause text that disagrees with its numbers; or a file that differs
from the stored version of its name) every entry point raises ``PolicyBookUnusable``, a desk error whose message
names the file and the clause, so each page shows it instead of judging by some other book.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from data.db import Database
from desk import policy_store
from desk.errors import DeskError
from policy import PolicyBook, PolicyError, load_book

POLICY_DIR_ENV = "REFUND_DESK_POLICY_DIR"
BOOK_TTL_SECONDS = 2.0


class PolicyBookUnusable(DeskError):
    """The configured policy versions cannot be loaded; the message says which file and what is wrong."""


def policy_dir() -> str | None:
    """The configured policy directory, or None for the package's own ``policy/versions``."""
    return os.environ.get(POLICY_DIR_ENV) or None


@lru_cache(maxsize=4)
def _load(directory: str | None) -> PolicyBook:
    return load_book(directory)


def _unusable(exc: PolicyError) -> PolicyBookUnusable:
    return PolicyBookUnusable(
        f"The desk cannot judge cases: a policy version was refused. {exc}. An admin must correct the "
        f"file (or {POLICY_DIR_ENV}); nothing was changed."
    )


def file_book() -> PolicyBook:
    """The versions of the configured directory."""
    try:
        return _load(policy_dir())
    except PolicyError as exc:
        raise _unusable(exc) from None


@dataclass
class _Cached:
    book: PolicyBook
    stamp: tuple[int, int, int]
    checked: float


_books: dict[tuple[str, str | None], _Cached] = {}
_lock = threading.Lock()


def current_book(db: Database | None = None) -> PolicyBook:
    """Every policy version the desk judges by (see the module docstring)."""
    files = file_book()
    if db is None:
        return files
    key = (db.url, policy_dir())
    now = time.monotonic()
    cached = _books.get(key)
    if cached is not None and now - cached.checked < BOOK_TTL_SECONDS:
        return cached.book
    try:
        if cached is None:
            with _lock:
                policy_store.sync_files(db, files, str(policy_dir() or "policy/versions"))
        stamp = policy_store.stamp(db)
        if cached is not None and cached.stamp == stamp:
            cached.checked = now
            return cached.book
        book = policy_store.published_book(db) or files
    except PolicyError as exc:
        raise _unusable(exc) from None
    _books[key] = _Cached(book, stamp, now)
    return book


def forget(db: Database | None = None) -> None:
    """Rebuild the book on its next use (after this process published or withdrew a version)."""
    if db is None:
        _books.clear()
        return
    for key in [k for k in _books if k[0] == db.url]:
        _books.pop(key, None)
