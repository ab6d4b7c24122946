"""Backups (data.backup) on SQLite and PostgreSQL: taken while a reviewer keeps deciding and noting, restored into
a fresh database, the audit trail and decisions identical (checksums over ordered rows), and refusals that change
nothing."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import MetaData, Table, create_engine, select, text
from sqlalchemy.engine import make_url

from data.backup import BackupError, _canon, backup, main, manifest_path, restore
from data.db import open_database
from data.models import Case, Service
from desk.cases import add_note
from desk.decisions import decide, verdict_for
from tests.conftest import TODAY, pg_base_url
from tests.support.cases import user_id, valid_choice


class Reviewer(threading.Thread):
    """Decides open demo cases and adds a note to a closed one after each, one transaction each, until stopped."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.writes = 0
        self.errors: list[str] = []

    def run(self) -> None:
        db = open_database(self.url)
        try:
            rita = user_id(db, "rita")
            with db.read() as s:
                open_ids = list(s.scalars(select(Case.id).where(Case.status == "open").order_by(Case.id)))
                closed = s.scalar(select(Case.id).where(Case.status == "closed").limit(1))
            while not self.stop.is_set():
                if open_ids:  # decide the next open case; once none is left, notes alone keep the load on
                    case_id = open_ids.pop(0)
                    with db.read() as s:
                        case = s.get(Case, case_id)
                        outcome, amount = valid_choice(verdict_for(case, s.get(Service, case.service_id)))
                        version = case.version
                    decide(db, rita, case_id, outcome, amount, "Per policy.", version, uuid.uuid4().hex, today=TODAY)
                    self.writes += 1
                add_note(db, rita, closed, f"Backup load note {self.writes}.")
                self.writes += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(repr(exc))
        finally:
            db.dispose()

    def wait_for(self, writes: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.writes < writes and not self.errors and self.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self.errors, self.errors
        assert self.writes >= writes, f"the writer made only {self.writes} writes"


@pytest.fixture
def fresh_url(backend, tmp_path):
    """A URL of a fresh, empty database on the same backend (PostgreSQL: a new database, same schema name)."""
    made: list[str] = []

    def _make(like: str) -> str:
        if backend.name == "sqlite":
            return f"sqlite:///{tmp_path / f'restored-{uuid.uuid4().hex[:6]}.db'}"
        name = f"restore_{uuid.uuid4().hex[:10]}"
        admin = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        made.append(name)
        return make_url(like).set(database=name).render_as_string(hide_password=False)

    yield _make
    if made:
        admin = create_engine(pg_base_url(), isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            for name in made:
                c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def prefix_checksum(db, table: str, upto: int) -> tuple[int, str]:
    """(rows, SHA-256) of `table`'s rows with id <= upto, in id order — the same canonical form as the manifest."""
    with db.engine.connect() as conn:
        t = Table(table, MetaData(), autoload_with=conn)
        digest, n = hashlib.sha256(), 0
        for row in conn.execute(select(t).where(t.c.id <= upto).order_by(t.c.id)):
            digest.update(json.dumps([_canon(v) for v in row], sort_keys=True, default=str).encode() + b"\n")
            n += 1
    return n, digest.hexdigest()


def test_a_backup_taken_while_a_reviewer_decides_restores_identically(demo_db, fresh_url, tmp_path):
    source = demo_db
    writer = Reviewer(source.url)
    writer.start()
    try:
        writer.wait_for(4)  # the reviewer is deciding before the backup starts...
        during = writer.writes
        manifest = backup(source.url, tmp_path / "desk.backup")
        during = writer.writes - during
        writer.wait_for(writer.writes + 4)  # ...and still after it ended
    finally:
        writer.stop.set()
        writer.join(60)
    assert not writer.errors, writer.errors
    target = fresh_url(source.url)
    assert restore(tmp_path / "desk.backup", target) == manifest  # restore() checks every table against it
    restored = open_database(target)
    try:
        with restored.read() as s:
            max_event = s.scalar(text("SELECT max(id) FROM case_events"))
            max_decision = s.scalar(text("SELECT max(id) FROM decisions"))
            # one consistent moment: every decision restored has its audit event restored with it
            orphans = s.scalar(
                text(
                    "SELECT count(*) FROM decisions d WHERE NOT EXISTS (SELECT 1 FROM case_events e "
                    "WHERE e.case_id = d.case_id AND e.kind = 'decision_recorded')"
                )
            )
        assert orphans == 0
        # the restore is exactly the source up to the moment of the backup (both tables only grow here)
        for table, upto in (("case_events", max_event), ("decisions", max_decision)):
            assert prefix_checksum(restored, table, upto) == prefix_checksum(source, table, upto)
            assert prefix_checksum(restored, table, upto)[0] == manifest["tables"][table]["rows"]
        with source.read() as s:
            assert s.scalar(text("SELECT max(id) FROM case_events")) > max_event  # the writer went on after it
    finally:
        restored.dispose()
    print(f"\n{source.backend}: {during} writes committed while the backup ran ({manifest['seconds']:.2f} s)")


def test_a_restore_refuses_a_database_that_holds_data_and_changes_nothing(demo_db, tmp_path):
    backup(demo_db.url, tmp_path / "b")
    with pytest.raises(BackupError, match="already holds"):
        restore(tmp_path / "b", demo_db.url)
    with pytest.raises(BackupError, match="already exists"):
        backup(demo_db.url, tmp_path / "b")


def test_a_restore_that_does_not_match_its_manifest_is_reported_by_table(demo_db, fresh_url, tmp_path):
    path = tmp_path / "b"
    backup(demo_db.url, path)
    m = json.loads(manifest_path(path).read_text())
    m["tables"]["case_events"]["sha256"] = "0" * 64
    manifest_path(path).write_text(json.dumps(m))
    with pytest.raises(BackupError, match="case_events: same number of rows .* but different content"):
        restore(path, fresh_url(demo_db.url))


def test_a_backup_without_its_manifest_is_not_restored(demo_db, tmp_path):
    path = tmp_path / "b"
    backup(demo_db.url, path)
    manifest_path(path).unlink()
    with pytest.raises(BackupError, match="manifest.json is missing"):
        restore(path, f"sqlite:///{tmp_path / 'new.db'}")
    assert not (tmp_path / "new.db").exists()


def test_the_command_line_backs_up_and_restores_sqlite(sqlite_demo_url, tmp_path, capsys):
    out = tmp_path / "nightly" / "desk.db"
    assert main(["create", str(out), "--db", sqlite_demo_url]) == 0
    assert "audit events" in capsys.readouterr().out and manifest_path(out).exists()
    assert main(["restore", str(out), "--db", f"sqlite:///{tmp_path / 'restored.db'}"]) == 0
    assert "every table matches" in capsys.readouterr().out
    assert main(["restore", str(out), "--db", f"sqlite:///{tmp_path / 'restored.db'}"]) == 2
    assert "already holds tables" in capsys.readouterr().err
    assert Path(tmp_path / "restored.db").stat().st_size > 0
