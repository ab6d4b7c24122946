"""Issue 10 §4: an import never makes a reviewer's work fail. A real import of thousands of cases runs while
reviewers (threads, each with its own Database) decide cases, on a file SQLite database and on PostgreSQL.
The import's progress callback, called inside its write transaction, is where the reviewers start: no sleeps."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text

from benchmarks.import_rows import write_files
from data import db as data_db
from data.db import open_database
from data.models import Case, Decision
from desk.cases import case_detail
from desk.decisions import decide
from desk.errors import DeskBusy
from desk.imports import import_file
from tests.conftest import make_demo
from tests.support.cases import TODAY, add_case, user_id, valid_choice
from tests.support.intake import ADA

ROWS = 6_000
REVIEWERS = ("rita", "omar", "li")


def open_cases(db, n: int) -> list[tuple[int, int, str, int | None]]:
    """(case id, version, outcome, amount) for n new open cases the policy can judge."""
    plan = []
    for _ in range(n):
        cid = add_case(db, reason="technical_issue", fix_attempted=True, fix_succeeded=False)
        d = case_detail(db, cid, TODAY)
        plan.append((cid, d.version, *valid_choice(d.verdict)))
    return plan


def test_reviewers_decide_while_a_large_import_is_being_saved_and_none_is_refused(backend, tmp_path: Path):  # noqa: C901 — one scenario: the import, the writers and what each saw
    url = backend.new_url()
    make_demo(url).dispose()
    db = open_database(url)
    services, cases = write_files(tmp_path, ROWS)
    import_file(db, ADA, services, services.name, "services")
    plans = {who: open_cases(db, 3) for who in REVIEWERS}
    started = threading.Barrier(len(REVIEWERS) + 1)
    results: dict[str, list] = {who: [] for who in REVIEWERS}
    begin = threading.Event()

    def reviewer(who: str) -> None:
        rdb = open_database(url)
        try:
            actor = user_id(rdb, who)
            begin.wait(120)
            started.wait(60)
            for cid, version, outcome, amount in plans[who]:
                try:
                    decide(
                        rdb,
                        actor,
                        cid,
                        outcome,
                        amount,
                        "Decided during an import.",
                        version,
                        uuid.uuid4().hex,
                        today=TODAY,
                    )
                    results[who].append(("ok", time.monotonic()))
                except Exception as exc:  # noqa: BLE001 - every refusal is asserted below
                    results[who].append((f"{type(exc).__name__}: {exc}", time.monotonic()))
        finally:
            rdb.dispose()

    threads = [threading.Thread(target=reviewer, args=(who,)) for who in REVIEWERS]
    for t in threads:
        t.start()
    saving: list[float] = []

    def progress(fraction: float, label: str) -> None:
        if label.startswith("Saving") and not saving:  # inside the import's write transaction
            saving.append(time.monotonic())
            begin.set()
            started.wait(60)  # every reviewer is about to decide while the import holds its transaction
            if db.backend == "postgresql":  # nothing to wait for: the decisions commit while the import runs
                for t in threads:
                    t.join(60)

    report = import_file(db, ADA, cases, cases.name, "cases", progress=progress)
    committed = time.monotonic()
    for t in threads:
        t.join(120)
    assert saving, "the import never reached its write phase"
    assert report.inserted == ROWS and not report.errors
    outcomes = [r[0] for who in REVIEWERS for r in results[who]]
    assert outcomes == ["ok"] * (3 * len(REVIEWERS)), outcomes
    finished = [r[1] for who in REVIEWERS for r in results[who]]
    if db.backend == "sqlite":  # one writer: the decisions waited for the import's commit, then succeeded
        assert max(finished) >= committed
    else:
        assert max(finished) < committed
    with db.read() as s:
        ids = [cid for who in REVIEWERS for cid, *_ in plans[who]]
        assert s.scalar(select(func.count()).select_from(Decision).where(Decision.case_id.in_(ids))) == len(ids)
        assert s.scalar(select(func.count()).select_from(Case).where(Case.external_id.like("T%"))) == ROWS
    db.dispose()


def test_a_wait_that_runs_out_says_the_desk_is_busy_and_saves_nothing(backend, monkeypatch):
    """Should a lock wait ever run out, the reviewer is told the desk is busy and to try again (a desk error
    every page shows as a message), never an error id."""
    url = backend.new_url()
    make_demo(url).dispose()
    setup = open_database(url)
    ((cid, version, outcome, amount),) = open_cases(setup, 1)
    rita = user_id(setup, "rita")
    if setup.backend == "sqlite":
        monkeypatch.setattr(data_db, "BUSY_TIMEOUT_MS", 200)
        reviewer_db = open_database(url)
        hold = "BEGIN IMMEDIATE"  # the write lock, as an import's write phase holds it
    else:
        reviewer_db = open_database(url)

        @event.listens_for(reviewer_db.engine, "connect")
        def _short_lock_timeout(dbapi_conn, _record):
            dbapi_conn.autocommit = True
            dbapi_conn.execute("SET lock_timeout = 200")
            dbapi_conn.autocommit = False

        hold = f"SELECT id FROM cases WHERE id = {cid} FOR UPDATE"
    blocker = setup.engine.raw_connection()
    try:
        cur = blocker.cursor()
        if setup.backend == "postgresql":
            cur.execute("BEGIN")
        cur.execute(hold)
        with pytest.raises(DeskBusy, match="The desk is busy .* try again in a moment"):
            decide(reviewer_db, rita, cid, outcome, amount, "Blocked.", version, uuid.uuid4().hex, today=TODAY)
        blocker.rollback()
    finally:
        blocker.close()
    decide(reviewer_db, rita, cid, outcome, amount, "Again.", version, uuid.uuid4().hex, today=TODAY)  # works now
    with setup.engine.connect() as c:
        assert c.execute(text(f"SELECT COUNT(*) FROM decisions WHERE case_id = {cid}")).scalar() == 1
    reviewer_db.dispose()
    setup.dispose()


def test_checking_a_file_takes_no_write_lock_so_a_bad_file_never_makes_anyone_wait(tmp_path, monkeypatch):
    """While another writer holds SQLite's one write lock (and the import would give up waiting after 0.2 s),
    a bad file is checked and refused with its problems, and a dry run of a good file completes."""
    import sqlite3

    from tests.support.intake import add_demo_users, example

    monkeypatch.setattr(data_db, "BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "desk.db"
    db = open_database(f"sqlite:///{path}")
    from data.migrate import upgrade

    upgrade(db.engine)
    add_demo_users(db)
    bad = example("services.csv").replace(b"2026-11-03", b"2026-13-03")
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        report = import_file(db, ADA, bad, "services.csv", "services")
        assert report.errors and not report.written
        dry = import_file(db, ADA, example("services.csv"), "services.csv", "services", dry_run=True)
        assert (dry.errors, dry.inserted) == ([], 8)
        with pytest.raises(DeskBusy):  # only writing needs the lock
            import_file(db, ADA, example("services.csv"), "services.csv", "services")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert import_file(db, ADA, example("services.csv"), "services.csv", "services").inserted == 8
    db.dispose()
