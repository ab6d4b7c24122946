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
