"""The analytics rollups (migration 0002) stay exact whoever writes: plain SQL inserts, updates and deletes
go through database triggers; a paused bulk load is rebuilt; the migration backfills existing data."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import inspect, text

from data import bulk
from data.migrate import downgrade, upgrade
from data.models import case_rollup, decision_rollup, lead_time_rollup

ROLLUPS = ((decision_rollup, "decisions"), (lead_time_rollup, "decided"), (case_rollup, "opened"))


def snapshot(db) -> dict[str, list[tuple]]:
    """Every non-empty rollup row, comparable across backends (dates and booleans as text)."""
    out = {}
    with db.engine.connect() as c:
        for table, count in ROLLUPS:
            keys = [col for col in table.c if col.primary_key]
            rows = c.execute(table.select().where(table.c[count] != 0).order_by(*keys)).all()
            out[table.name] = [tuple(str(v) for v in row) for row in rows]
    return out


def totals(db, on: str = "2026-03-04") -> dict[str, int]:
    with db.engine.connect() as c:
        dec = c.execute(
            text(
                "SELECT grain, SUM(decisions), SUM(amount_cents) FROM decision_rollup "
                "WHERE period = :p AND grain = 'day' GROUP BY grain"
            ),
            {"p": date.fromisoformat(on)},
        ).all()
        lead = c.execute(
            text("SELECT SUM(decided), SUM(lead_03), SUM(within_due) FROM lead_time_rollup WHERE grain = 'month'")
        ).one()
        opened = c.execute(text("SELECT SUM(opened) FROM case_rollup WHERE grain = 'week'")).scalar()
    n, cents = (int(dec[0][1]), int(dec[0][2])) if dec else (0, 0)
    return {
        "decisions": n,
        "cents": cents,
        "effective": int(lead[0] or 0),
        "after_3_days": int(lead[1] or 0),
        "within_due": int(lead[2] or 0),
        "opened": int(opened or 0),
    }


@pytest.fixture
def one_case(db):
    """A user, a customer, a service and one case opened 2026-03-01 (due 03-15), written with plain SQL."""
    with db.write.begin() as s:
        s.execute(
            text(
                "INSERT INTO users (id, email, display_name, role, active, created_at) "
                "VALUES (1, 'r@example.test', 'R', 'reviewer', true, '2026-01-01 09:00:00'), "
                "(2, 'm@example.test', 'M', 'manager', true, '2026-01-01 09:00:00')"
            )
        )
        s.execute(text("INSERT INTO customers (id, name, email, created_at) VALUES (1, 'C', 'c@x', '2026-01-01')"))
        s.execute(
            text(
                "INSERT INTO services (id, customer_id, service_type, price_cents, currency, status, purchased_on) "
                "VALUES (1, 1, 'technical_support', 10000, 'USD', 'completed', '2026-02-20')"
            )
        )
        s.execute(
            text(
                "INSERT INTO cases (id, service_id, customer_id, service_type, opened_on, channel, reason, "
                "description, amount_requested_cents, documentation, fix_attempted, status, due_on, version, "
                "created_at) VALUES (1, 1, 1, 'technical_support', '2026-03-01', 'email', 'our_error', '', 10000, "
                "'[]', false, 'awaiting_approval', '2026-03-15', 1, '2026-03-01 10:00:00')"
            )
        )
    return db


INSERT_DECISION = text(
    "INSERT INTO decisions (id, case_id, outcome, amount_cents, rationale, decided_by_id, decided_at, decided_on, "
    "service_type, reason, policy_version, recommended_outcome, verdict, is_exception, approval_status, superseded) "
    "VALUES (1, 1, 'full_refund', 10000, 'goodwill', 1, '2026-03-04 11:00:00', '2026-03-04', 'technical_support', "
    "'our_error', '2024-01-01', 'fix', '{}', true, 'pending', false)"
)


def test_a_decision_written_through_plain_sql_updates_the_rollups(one_case):
    db = one_case
    assert totals(db)["opened"] == 1  # the case, through the cases trigger
    with db.write.begin() as s:
        s.execute(INSERT_DECISION)
    # recorded at once; not effective while it waits for approval
    assert totals(db) == {
        "decisions": 1,
        "cents": 10000,
        "effective": 0,
        "after_3_days": 0,
        "within_due": 0,
        "opened": 1,
    }
    with db.write.begin() as s:
        s.execute(text("UPDATE decisions SET approval_status = 'approved', approver_id = 2 WHERE id = 1"))
    # approved: effective, decided 3 days after opening, within the due date
    assert totals(db) == {
        "decisions": 1,
        "cents": 10000,
        "effective": 1,
        "after_3_days": 1,
        "within_due": 1,
        "opened": 1,
    }
    with db.write.begin() as s:
        s.execute(text("UPDATE decisions SET amount_cents = 4000, outcome = 'partial_refund' WHERE id = 1"))
    assert totals(db)["cents"] == 4000
    with db.write.begin() as s:
        s.execute(text("UPDATE decisions SET approval_note = 'ok' WHERE id = 1"))  # a column the rollups ignore
    assert totals(db)["cents"] == 4000
    with db.write.begin() as s:
        s.execute(text("DELETE FROM decisions WHERE id = 1"))
    assert totals(db) == {"decisions": 0, "cents": 0, "effective": 0, "after_3_days": 0, "within_due": 0, "opened": 1}


def test_a_case_moves_between_rollup_rows_when_its_reason_changes(one_case):
    db = one_case
    with db.write.begin() as s:
        s.execute(text("UPDATE cases SET reason = 'user_error' WHERE id = 1"))
    rows = snapshot(db)["case_rollup"]
    assert {r[3] for r in rows} == {"user_error"} and len(rows) == 3  # day, week, month


def test_triggers_and_a_rebuild_agree_after_writes_of_every_kind(demo_db):
    db = demo_db
    with db.write.begin() as s:
        # approve one pending exception, supersede one effective decision, delete one, add one
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
                "UPDATE decisions SET decided_on = '2026-11-20', reason = 'dissatisfied' WHERE id = "
                "(SELECT MAX(id) FROM decisions)"
            )
        )
    by_triggers = snapshot(db)
    with db.write.begin() as s:
        bulk.pause_rollups(s.connection(), "test rebuild")
        bulk.resume_rollups(s.connection())
    assert snapshot(db) == by_triggers


def test_a_paused_load_is_rebuilt_when_resumed_and_never_seen_half_done(one_case):
    db = one_case
    with db.write.begin() as s, bulk.rollups_paused(s.connection(), "bulk"):
        s.execute(INSERT_DECISION)
        assert totals(db)["decisions"] == 0  # another connection: still the committed, consistent state
    # resumed (rebuilt) inside the load's transaction, then committed with it
    assert totals(db)["decisions"] == 1
    with db.engine.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM rollup_pause")).scalar() == 0


def test_the_migration_backfills_rollups_of_existing_data(demo_db):
    db = demo_db
    generated = snapshot(db)
    assert generated["decision_rollup"] and generated["case_rollup"]
    downgrade(db.engine, "0001")
    assert "decision_rollup" not in inspect(db.engine).get_table_names()
    upgrade(db.engine)
    assert snapshot(db) == generated


def test_each_grain_counts_every_decision_once(demo_db):
    with demo_db.engine.connect() as c:
        n = c.execute(text("SELECT COUNT(*) FROM decisions")).scalar()
        per_grain = dict(c.execute(text("SELECT grain, SUM(decisions) FROM decision_rollup GROUP BY grain")).all())
        opened = dict(c.execute(text("SELECT grain, SUM(opened) FROM case_rollup GROUP BY grain")).all())
    assert {g: int(v) for g, v in per_grain.items()} == {"day": n, "week": n, "month": n}
    assert {int(v) for v in opened.values()} == {400}


def test_postgresql_trigger_functions_pin_plans_that_survive_stale_statistics(db):
    """A bulk load's rows are invisible to the planner's statistics; a nested loop with an inner
    sequential scan over such a table made a 300k-case rebuild quadratic. The functions pin safe plans."""
    if db.backend != "postgresql":
        pytest.skip("PostgreSQL only: SQLite triggers are row triggers looking rows up by key")
    with db.engine.connect() as c:
        config = dict(
            c.execute(
                text(
                    "SELECT proname, array_to_string(proconfig, ',') FROM pg_proc "
                    "WHERE proname LIKE '%rollup%' AND pronamespace = current_schema()::regnamespace"
                )
            ).all()
        )
    assert "enable_nestloop=off" in config["rollup_resume"]
    assert "enable_indexscan=off" in config["rollup_resume"]
    for name in ("decision_rollups_insert", "decision_rollups_update", "case_rollup_insert"):
        assert "enable_seqscan=off" in config[name]


# ---- currencies (migration 0004) ------------------------------------------------------------------------


def _money_by_currency(db) -> dict[str, int]:
    with db.engine.connect() as c:
        rows = c.execute(
            text("SELECT currency, SUM(amount_cents) FROM decision_rollup WHERE grain = 'month' GROUP BY currency")
        ).all()
    return {cur: int(v) for cur, v in rows if int(v)}


def _sales(db) -> dict[tuple[str, str], tuple[int, int]]:
    with db.engine.connect() as c:
        rows = c.execute(
            text("SELECT CAST(day AS VARCHAR(10)), currency, services_sold, revenue_cents FROM sales_by_currency")
        ).all()
    return {(str(d), cur): (int(n), int(r)) for d, cur, n, r in rows if int(n) or int(r)}


def test_a_decision_is_rolled_up_in_the_currency_of_its_case(one_case):
    db = one_case
    with db.write.begin() as s:
        s.execute(text("UPDATE services SET currency = 'EUR' WHERE id = 1"))
        s.execute(INSERT_DECISION)
    assert _money_by_currency(db) == {"EUR": 10000}
    assert totals(db)["decisions"] == 1


def test_revenue_is_rolled_up_per_currency_whoever_writes_services(one_case):
    db = one_case
    assert _sales(db) == {("2026-02-20", "USD"): (1, 10000)}
    with db.write.begin() as s:
        s.execute(
            text(
                "INSERT INTO services (id, customer_id, service_type, price_cents, currency, status, purchased_on) "
                "VALUES (2, 1, 'technical_support', 5000, 'EUR', 'completed', '2026-02-20'), "
                "(3, 1, 'technical_support', 7000, 'EUR', 'completed', '2026-02-20')"
            )
        )
    assert _sales(db) == {("2026-02-20", "USD"): (1, 10000), ("2026-02-20", "EUR"): (2, 12000)}
    with db.write.begin() as s:
        s.execute(text("UPDATE services SET currency = 'GBP', price_cents = 6000 WHERE id = 3"))
    assert _sales(db) == {
        ("2026-02-20", "USD"): (1, 10000),
        ("2026-02-20", "EUR"): (1, 5000),
        ("2026-02-20", "GBP"): (1, 6000),
    }
    with db.write.begin() as s:
        s.execute(text("DELETE FROM services WHERE id IN (2, 3)"))
    assert _sales(db) == {("2026-02-20", "USD"): (1, 10000)}


def test_demo_money_is_in_three_currencies_and_the_0004_backfill_agrees(demo_db):
    db = demo_db
    per_currency = _money_by_currency(db)
    assert set(per_currency) == {"USD", "EUR", "GBP"}
    with db.engine.connect() as c:
        by_sql = dict(
            c.execute(
                text(
                    "SELECT sv.currency, SUM(d.amount_cents) FROM decisions d JOIN cases c ON c.id = d.case_id "
                    "JOIN services sv ON sv.id = c.service_id GROUP BY sv.currency"
                )
            ).all()
        )
        sold = c.execute(text("SELECT SUM(services_sold) FROM sales_daily")).scalar()
        sold_by_currency = c.execute(text("SELECT SUM(services_sold) FROM sales_by_currency")).scalar()
    assert per_currency == {cur: int(v) for cur, v in by_sql.items()}
    assert int(sold) == int(sold_by_currency)  # the same services, counted per currency
    generated, sales = snapshot(db), _sales(db)
    downgrade(db.engine, "0003")
    assert "sales_by_currency" not in inspect(db.engine).get_table_names()
    upgrade(db.engine)
    assert snapshot(db) == generated and _sales(db) == sales


def test_a_rebuild_on_postgresql_waits_for_decisions_in_flight_and_counts_each_once(one_case):
    """Issue 10 §4: a decision committing during a rebuild used to be counted twice or fail the rebuild with
    UniqueViolation on pk_decision_rollup. Here a decision that updates an existing rollup row (so the
    rebuild has to wait for it) and one with new rollup keys are in flight when the rebuild starts."""
    import threading

    db = one_case
    if db.backend != "postgresql":
        pytest.skip("SQLite has one writer: nothing commits during a rebuild")
    with db.write.begin() as s:
        for case_id in (2, 3):
            s.execute(
                text(
                    "INSERT INTO cases (id, service_id, customer_id, service_type, opened_on, channel, reason, "
                    "description, amount_requested_cents, documentation, fix_attempted, status, due_on, version, "
                    "created_at) "
                    f"SELECT {case_id}, service_id, customer_id, service_type, opened_on, channel, reason, "
                    "description, amount_requested_cents, documentation, fix_attempted, status, due_on, version, "
                    "created_at FROM cases WHERE id = 1"
                )
            )
        s.execute(INSERT_DECISION)  # decision 1: its rollup rows exist
    second = str(INSERT_DECISION).replace("VALUES (1, 1,", "VALUES (2, 2,")  # the same rollup keys as decision 1
    third = str(INSERT_DECISION).replace("VALUES (1, 1,", "VALUES (3, 3,").replace("'2026-03-04'", "'2026-05-20'")
    reviewer = db.engine.connect()
    rebuild = db.engine.connect()
    failures: list[BaseException] = []
    try:
        in_flight = reviewer.begin()
        reviewer.execute(text(second))
        reviewer.execute(text(third))  # new day, week and month keys
        load = rebuild.begin()
        pid = rebuild.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        bulk.pause_rollups(rebuild, "test: a load")

        def resume() -> None:
            try:
                bulk.resume_rollups(rebuild)
                load.commit()
            except BaseException as exc:  # noqa: BLE001 - asserted below
                failures.append(exc)

        worker = threading.Thread(target=resume)
        worker.start()
        with db.engine.connect() as watch:  # wait until the rebuild waits for the reviewer's lock
            for _ in range(400):
                waiting = watch.exec_driver_sql(
                    f"SELECT wait_event_type FROM pg_stat_activity WHERE pid = {pid}"
                ).scalar()
                if waiting == "Lock":
                    break
                watch.exec_driver_sql("SELECT pg_sleep(0.05)")
            assert waiting == "Lock", "the rebuild did not wait for the decision in flight"
        in_flight.commit()
        worker.join(60)
        assert not worker.is_alive()
    finally:
        reviewer.close()
        rebuild.close()
    assert not failures, failures
    assert totals(db)["decisions"] == 2  # day 2026-03-04: decisions 1 and 2, once each
    after = snapshot(db)
    with db.write.begin() as s:  # a rebuild with nothing in flight agrees
        bulk.pause_rollups(s.connection(), "test rebuild")
        bulk.resume_rollups(s.connection())
    assert snapshot(db) == after
    assert sum(int(r[-2]) for r in after["decision_rollup"] if r[0] == "week") == 3
