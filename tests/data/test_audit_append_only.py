"""The audit trail is append-only: the database itself refuses UPDATE and DELETE of case_events."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from desk import audit


def _one_event(db) -> int:
    with db.write.begin() as s:
        ev = audit.record(s, audit.NoteAdded(note="hello"), actor="test")
        s.flush()
        return ev.id


def test_an_audit_event_can_be_added_and_read(db):
    event_id = _one_event(db)
    with db.read() as s:
        row = s.execute(text("SELECT kind, actor FROM case_events WHERE id = :id"), {"id": event_id}).one()
    assert tuple(row) == ("note_added", "test")


@pytest.mark.parametrize(
    "statement",
    ["UPDATE case_events SET actor = 'mallory' WHERE id = :id", "DELETE FROM case_events WHERE id = :id"],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_an_audit_event(db, statement):
    event_id = _one_event(db)
    with pytest.raises(DBAPIError, match="append-only"), db.write.begin() as s:
        s.execute(text(statement), {"id": event_id})
    with db.read() as s:
        assert s.execute(text("SELECT actor FROM case_events WHERE id = :id"), {"id": event_id}).scalar() == "test"
