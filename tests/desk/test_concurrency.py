"""Nothing doubled, nothing overwritten: reviewers deciding the same case at the same time, in separate sessions
and separate processes, on a file SQLite database and on PostgreSQL. No sleeps: barriers line the writers up, and
the assertions hold whichever writer the database lets through first."""

from __future__ import annotations

import multiprocessing
import sys
import threading
import types
import uuid

import pytest
from sqlalchemy import func, select

from data.db import open_database
from data.models import Case, CaseEvent, Decision
from desk.cases import case_detail
from desk.decisions import decide
from desk.errors import StaleCase
from tests.conftest import make_demo
from tests.support.cases import TODAY, add_case, counts, user_id, valid_choice
from tests.support.workers import decide_many

FAILED_FIX = dict(reason="technical_issue", fix_attempted=True, fix_succeeded=False)


def test_two_sessions_read_the_same_version_and_the_second_decision_is_refused(backend):
    """A deterministic interleaving: both open the case, Rita decides, then Omar decides on what he saw."""
    url = backend.new_url()
    make_demo(url).dispose()
    rita_db, omar_db = open_database(url), open_database(url)
    try:
        cid = add_case(rita_db, **FAILED_FIX)
        seen_by_rita = case_detail(rita_db, cid, TODAY).version
        seen_by_omar = case_detail(omar_db, cid, TODAY).version
        assert seen_by_rita == seen_by_omar == 1
        decide(
            rita_db,
            user_id(rita_db, "rita"),
            cid,
            "partial_refund",
            6_000,
            "Half.",
            seen_by_rita,
            uuid.uuid4().hex,
            today=TODAY,
        )
        with pytest.raises(StaleCase, match="changed since you opened it") as err:
            decide(
                omar_db,
                user_id(omar_db, "omar"),
                cid,
                "credit",
                9_000,
                "Credit.",
                seen_by_omar,
                uuid.uuid4().hex,
                today=TODAY,
            )
        assert "Rita Ramos" in err.value.changes[0] and "partial refund $60.00" in err.value.changes[0]
        assert counts(rita_db, cid) == (1, 2, 2)
        with omar_db.read() as s:
            assert s.scalar(select(Decision.outcome).where(Decision.case_id == cid)) == "partial_refund"
    finally:
        rita_db.dispose()
        omar_db.dispose()


def test_two_threads_deciding_the_same_case_at_once_exactly_one_wins(backend):
    url = backend.new_url()
    make_demo(url).dispose()
    setup = open_database(url)
    cid = add_case(setup, **FAILED_FIX)
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def reviewer(who: str, amount: int) -> None:
        db = open_database(url)
        try:
            seen = case_detail(db, cid, TODAY).version
            actor = user_id(db, who)
            barrier.wait(timeout=30)
            try:
                outcomes[who] = decide(
                    db, actor, cid, "partial_refund", amount, "Concurrent.", seen, uuid.uuid4().hex, today=TODAY
                )
            except StaleCase as exc:
                outcomes[who] = exc
        finally:
            db.dispose()

    threads = [threading.Thread(target=reviewer, args=(w, a)) for w, a in (("rita", 5_000), ("omar", 7_000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    kinds = sorted(type(v).__name__ for v in outcomes.values())
    assert kinds == ["DecisionResult", "StaleCase"]
    winner = next(v for v in outcomes.values() if not isinstance(v, StaleCase))
    assert counts(setup, cid) == (1, 2, 2)
    with setup.read() as s:
        assert s.scalar(select(Decision.amount_cents).where(Decision.case_id == cid)) == winner.amount_cents
    setup.dispose()


@pytest.mark.slow
def test_four_processes_deciding_the_same_fifty_cases_decide_each_exactly_once(backend, monkeypatch):
    # A spawned process re-runs the parent's __main__ from its file. An AppTest earlier in the same pytest
    # process (AppTest.from_function) leaves __main__ pointing at a deleted temporary script, and the
    # children then die before deciding anything; they need nothing from __main__, so give them none.
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    url = backend.new_url()
    db = make_demo(url, cases=1000)
    try:
        with db.read() as s:
            ids = list(s.scalars(select(Case.id).where(Case.status == "open").order_by(Case.id).limit(50)))
        assert len(ids) == 50
        plan = []
        for cid in ids:
            d = case_detail(db, cid, TODAY)
            plan.append((cid, d.version, *valid_choice(d.verdict)))
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(4), ctx.Queue()
        reviewers = ["rita", "omar", "li", "sofia"]
        procs = [
            ctx.Process(
                target=decide_many,
                args=(url, f"{who}@refund-desk.example", plan[i * 12 :] + plan[: i * 12], TODAY, barrier, results),
            )
            for i, who in enumerate(reviewers)
        ]
        for p in procs:
            p.start()
        reports = [results.get(timeout=240) for _ in procs]
        for p in procs:
            p.join(timeout=60)
        errors = [e for r in reports for e in r[4]]
        assert not errors, errors[:3]
        assert sum(r[3] for r in reports) == 0, "a writer saw 'database is locked'"
        wins = sorted(cid for r in reports for cid in r[1])
        assert wins == sorted(ids), "every case decided exactly once"
        assert sum(r[2] for r in reports) == 3 * 50, "every other attempt was told the case changed"
        with db.read() as s:
            per_case = dict(
                s.execute(
                    select(Decision.case_id, func.count()).where(Decision.case_id.in_(ids)).group_by(Decision.case_id)
                ).all()
            )
            events = dict(
                s.execute(
                    select(CaseEvent.case_id, func.count())
                    .where(CaseEvent.case_id.in_(ids), CaseEvent.kind == "decision_recorded")
                    .group_by(CaseEvent.case_id)
                ).all()
            )
            versions = set(s.scalars(select(Case.version).where(Case.id.in_(ids))))
        assert set(per_case.values()) == {1} and len(per_case) == 50
        assert set(events.values()) == {1} and len(events) == 50
        assert versions == {2}
    finally:
        db.dispose()
