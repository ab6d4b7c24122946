"""What the desk sends to the database, for the tests that check statements and their plans."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def statements_sent(engine, containing: str | None = None) -> Iterator[list[tuple[str, object]]]:
    """Every (statement, parameters) `engine` sends inside the block, EXPLAINs left out; with `containing`, only
    the statements with that text in them."""
    statements: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if (containing is None or containing in statement) and not statement.startswith("EXPLAIN"):
            statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)
