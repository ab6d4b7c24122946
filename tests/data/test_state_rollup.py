"""decision_state_rollup (migration 0014) is decision_rollup summed over reason, reviewer and policy version,
at every grain, whoever writes: the desk's decisions and approvals, plain SQL inserts, updates and deletes
(triggers), a paused bulk load (rebuilt on resuming), and the migration itself (backfill, downgrade)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import inspect, text

from data import bulk
from data.migrate import downgrade, upgrade
from desk.decisions import approve_exception, decide, reject_exception
from tests.support.cases import TODAY, add_case, user_id

KEYS = "grain, period, service_type, outcome, recommended_outcome, is_exception, approval_status, superseded, currency"
EXCEPTION_WHY = "Long-standing customer; our outage overlapped the window, goodwill credit agreed with the lead."


def _rows(db, sql: str) -> dict[tuple, tuple[int, int]]:
    """{key: (decisions, amount_cents)} of the non-zero rows, comparable across backends."""
    with db.engine.connect() as c:
        rows = c.execute(text(sql)).all()
    return {tuple(str(v) for v in r[:-2]): (int(r[-2]), int(r[-1])) for r in rows if r[-2] or r[-1]}


def state_rollup(db) -> dict[tuple, tuple[int, int]]:
    return _rows(db, f"SELECT {KEYS}, decisions, amount_cents FROM decision_state_rollup")


def summed_decision_rollup(db) -> dict[tuple, tuple[int, int]]:
    return _rows(db, f"SELECT {KEYS}, SUM(decisions), SUM(amount_cents) FROM decision_rollup GROUP BY {KEYS}")


def assert_agrees(db) -> dict[tuple, tuple[int, int]]:
    got = state_rollup(db)
    assert got and got == summed_decision_rollup(db)
    return got


def test_the_migration_backfills_it_from_the_decision_rollup(demo_db):
    got = assert_agrees(demo_db)
    with demo_db.engine.connect() as c:
        n = c.execute(text("SELECT COUNT(*) FROM decisions")).scalar()
        per_grain = dict(
            c.execute(text("SELECT grain, SUM(decisions) FROM decision_state_rollup GROUP BY grain")).all()
        )
    assert {g: int(v) for g, v in per_grain.items()} == {"day": n, "week": n, "month": n}
    assert len(got) < len(_rows(demo_db, f"SELECT {KEYS}, reason, decisions, amount_cents FROM decision_rollup"))


def test_plain_sql_inserts_updates_and_deletes_keep_it_equal_to_the_decision_rollup(demo_db):
    db = demo_db
    with db.write.begin() as s:
        s.execute(
            text(
                "UPDATE decisions SET approval_status = 'approved', approver_id = 8 WHERE id = "
                "(SELECT MIN(id) FROM decisions WHERE approval_status = 'pending' AND decided_by_id <> 8)"
            )
        )
        s.execute(
            text(
                "UPDATE decisions SET superseded = true WHERE id = "
                "(SELECT MIN(id) FROM decisions WHERE approval_status = 'not_required')"
            )
        )
        s.execute(
            text(
                "UPDATE decisions SET decided_on = '2026-11-20', reason = 'dissatisfied', amount_cents = 1234 "
                "WHERE id = (SELECT MAX(id) FROM decisions WHERE amount_cents > 0)"
            )
        )
        s.execute(text("UPDATE decisions SET service_type = 'training' WHERE id = (SELECT MIN(id) FROM decisions)"))
    assert_agrees(db)
    with db.write.begin() as s:
        s.execute(
            text(
                "DELETE FROM decisions WHERE id = (SELECT MAX(id) FROM decisions WHERE approval_status = "
                "'not_required' AND superseded = false AND amount_cents > 0)"
            )
        )
    assert_agrees(db)


def test_the_desks_decisions_approvals_and_rejections_keep_it_equal(demo_db):
    db = demo_db
    late = dict(opened_on=TODAY - timedelta(days=1), service_date=TODAY - timedelta(days=20))
    omar, max_, priya = user_id(db, "omar"), user_id(db, "max"), user_id(db, "priya")
    before = state_rollup(db)
    first = decide(db, omar, add_case(db, **late), "credit", 2_500, EXCEPTION_WHY, 1, uuid.uuid4().hex, today=TODAY)
    second = decide(db, omar, add_case(db, **late), "credit", 1_500, EXCEPTION_WHY, 1, uuid.uuid4().hex, today=TODAY)
    decide(
        db,
        omar,
        add_case(db, reason="billing_error"),
        "full_refund",
        12_000,
        "Per policy.",
        1,
        uuid.uuid4().hex,
        today=TODAY,
    )
    assert_agrees(db)
    approve_exception(db, max_, first.decision_id, "Agreed: documented outage.", today=TODAY)
    reject_exception(db, priya, second.decision_id, "Outside the window, no outage on record.", today=TODAY)
    after = assert_agrees(db)
    month = ("month", str(TODAY.replace(day=1)))
    added = sum(v[0] for k, v in after.items() if k[:2] == month) - sum(
        v[0] for k, v in before.items() if k[:2] == month
    )
    assert added == 3


def test_a_paused_load_rebuilds_it_after_the_decision_rollup(demo_db):
    db = demo_db
    with db.write.begin() as s:
        s.execute(
            text(
                "UPDATE decisions SET approval_status = 'approved', approver_id = 8 WHERE approval_status = "
                "'pending' AND decided_by_id <> 8"
            )
        )
    by_triggers = assert_agrees(db)
    with db.write.begin() as s, bulk.rollups_paused(s.connection(), "test rebuild"):
        s.execute(text("UPDATE decisions SET superseded = true WHERE id = (SELECT MIN(id) FROM decisions)"))
        s.execute(text("UPDATE decision_state_rollup SET decisions = decisions + 100"))  # rebuilt from scratch
    rebuilt = assert_agrees(db)
    assert rebuilt != by_triggers  # the supersede of the paused load is in it
    with db.write.begin() as s:
        bulk.pause_rollups(s.connection(), "again")
        bulk.resume_rollups(s.connection())
    assert state_rollup(db) == rebuilt


def test_downgrade_drops_it_and_its_triggers_and_upgrade_backfills_it_again(demo_db):
    db = demo_db
    made = assert_agrees(db)
    downgrade(db.engine, "0012")
    assert "decision_state_rollup" not in inspect(db.engine).get_table_names()
    with db.write.begin() as s:  # the older rollups and their rebuild still work without it
        s.execute(text("UPDATE decisions SET superseded = true WHERE id = (SELECT MIN(id) FROM decisions)"))
        s.execute(text("INSERT INTO rollup_pause (id, note) VALUES (1, 'without 0014')"))
        s.execute(text("DELETE FROM rollup_pause"))  # (bulk.resume_rollups locks the head's rollup tables)
    upgrade(db.engine)
    again = assert_agrees(db)
    assert again != made
