"""Domain errors. Pages turn these into st.warning / st.error; none of them is a crash."""

from __future__ import annotations


class DeskError(Exception):
    """Base of every error a page may show to a user as a message."""


class NotFound(DeskError):
    pass


class NotAllowed(DeskError):
    """The actor may not do this (role, inactive user, or four-eyes rule)."""


class InvalidInput(DeskError):
    """Bad input; `field` names the form field it belongs to (None for the whole form)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
        self.message = message


class StaleCase(DeskError):
    """The case changed since the user opened it; `changes` says what changed."""

    def __init__(self, message: str, changes: list[str] | None = None):
        super().__init__(message)
        self.changes = changes or []


class DatabaseNotReady(DeskError):
    """The database has no schema yet (migrations not run)."""


class DeskBusy(DeskError):
    """The database stayed locked for longer than a writer waits (SQLite's busy timeout, PostgreSQL's
    lock_timeout), e.g. behind a very large import. Nothing was saved; trying again works."""

    MESSAGE = (
        "The desk is busy saving other work (for example a large import), so this was not saved yet. "
        "Nothing was lost: try again in a moment."
    )

    def __init__(self, message: str = MESSAGE):
        super().__init__(message)
        self.message = message


# SQLite's messages when a lock wait runs out; PostgreSQL's SQLSTATEs lock_not_available (lock_timeout,
# NOWAIT) and query_canceled (statement_timeout while waiting), the latter only when the message says lock.
_SQLITE_BUSY = ("database is locked", "database table is locked", "database is busy")
_PG_LOCK_NOT_AVAILABLE = "55P03"


def is_busy(exc: BaseException | None) -> bool:
    """Whether a database error (SQLAlchemy's wrapper or the driver's own) means "waited for a lock too long"."""
    seen = 0
    while exc is not None and seen < 5:
        orig = getattr(exc, "orig", None)
        for e in (exc, orig):
            if e is None:
                continue
            state = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
            text = str(e).lower()
            if state == _PG_LOCK_NOT_AVAILABLE or (state == "57014" and "lock" in text):
                return True
            if type(e).__name__ == "OperationalError" and any(m in text for m in _SQLITE_BUSY):
                return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _raise_busy(context) -> None:
    """SQLAlchemy ``handle_error`` hook: a lock wait that ran out becomes DeskBusy, which every page shows as
    the message above (never an error id)."""
    if is_busy(context.original_exception):
        raise DeskBusy() from context.original_exception


def _listen() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    if not event.contains(Engine, "handle_error", _raise_busy):
        event.listen(Engine, "handle_error", _raise_busy)


_listen()
