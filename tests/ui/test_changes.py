"""ui.changes: on PostgreSQL a write committed anywhere (another server, a script) clears this process's caches
through LISTEN/NOTIFY (migration 0006); a write in another schema does not. PostgreSQL only."""

from __future__ import annotations

import time

import pytest

from data.db import open_database
from data.migrate import upgrade
from desk import audit
from tests.conftest import Backend, pg_base_url
from ui import changes

pytestmark = pytest.mark.skipif(not pg_base_url(), reason="PostgreSQL run skipped: set TEST_DATABASE_URL")


def _eventually(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _write_event(db) -> None:
    with db.write.begin() as s:
        audit.record(s, audit.NoteAdded(note="from another server"), actor="test")


def test_a_write_committed_elsewhere_clears_this_servers_caches_and_another_schemas_does_not(tmp_path):
    backend = Backend("postgresql", tmp_path)
    try:
        mine, other = open_database(backend.new_url()), open_database(backend.new_url())
        for db in (mine, other):
            upgrade(db.engine)
        start = changes.cleared
        changes.watch(mine)
        changes.watch(mine)  # once per database URL
        assert _eventually(lambda: changes.cleared == start + 1)  # on (re)connecting: whatever was missed
        _write_event(other)  # a write in another schema of the same database
        writer = open_database(mine.url)  # "another server": its own engine and connection
        _write_event(writer)
        assert _eventually(lambda: changes.cleared == start + 2)
        time.sleep(0.5)
        assert changes.cleared == start + 2  # the other schema's write cleared nothing
        with writer.write.begin() as s:  # a transaction with several events notifies once, at commit
            for _ in range(3):
                audit.record(s, audit.NoteAdded(note="batch"), actor="test")
            s.flush()
            time.sleep(0.3)
            assert changes.cleared == start + 2  # nothing before the commit
        assert _eventually(lambda: changes.cleared == start + 3)
        writer.dispose()
        mine.dispose()
        other.dispose()
    finally:
        backend.cleanup()
