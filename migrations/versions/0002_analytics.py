"""Analytics: rollups of decisions and opened cases kept by triggers, and two partial indexes.

`decision_rollup` counts decisions and sums their amounts per grain (day, week, month) and per every
dimension the analytics page filters or splits by; `lead_time_rollup` holds, for effective decisions, how
many were decided within the case's due date and a histogram of days from opening to decision;
`case_rollup` counts opened cases per grain, service type and reason. All are maintained by triggers on
`decisions` and `cases`, on SQLite (row triggers) and PostgreSQL (statement triggers with transition
tables, so a COPY of a million rows is one set-based upsert), so every writer keeps them right — the desk,
the importer, the demo generator and plain SQL alike. They are backfilled here from the existing rows.

Bulk loads (the demo generator, large imports) may pause the triggers: insert the one row of
`rollup_pause`, load, delete the row — in one transaction. While the row exists the triggers do nothing;
deleting it rebuilds all three rollups from the tables (a trigger on `rollup_pause`), so the rollups are
never seen stale. See data/bulk.py `rollups_paused()`.

The SQL lives in this file on purpose: a migration must keep meaning what it meant when it was written.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEAD_DAYS_MAX = 30
LEAD_COLUMNS = tuple(f"lead_{d:02d}" for d in range(LEAD_DAYS_MAX + 1)) + ("lead_31p",)
DIMS = (
    "service_type",
    "reason",
    "decided_by_id",
    "policy_version",
    "outcome",
    "recommended_outcome",
    "is_exception",
    "approval_status",
    "superseded",
)
# the columns of a decision row the rollups read
DECISION_COLS = ("case_id", "decided_on", "amount_cents", *DIMS)
LEAD_DIMS = ("service_type", "reason", "decided_by_id")
CASE_DIMS = ("service_type", "reason")
CASE_COLS = ("opened_on", *CASE_DIMS)
EFFECTIVE = "NOT s.superseded AND s.approval_status IN ('not_required', 'approved')"


# ---- SQL builders --------------------------------------------------------------------------------------


def _period(dialect: str, col: str) -> str:
    """The grain's period of a date column: the day itself, the Monday of its week, the 1st of its month."""
    if dialect == "sqlite":
        week, month = f"date({col}, 'weekday 0', '-6 days')", f"date({col}, 'start of month')"
    else:
        week, month = f"CAST(date_trunc('week', {col}) AS date)", f"CAST(date_trunc('month', {col}) AS date)"
    return f"CASE g.grain WHEN 'day' THEN {col} WHEN 'week' THEN {week} ELSE {month} END"


GRAINS = "(SELECT 'day' AS grain UNION ALL SELECT 'week' UNION ALL SELECT 'month') AS g"
DAYS_ONLY = "(SELECT 'day' AS grain) AS g"


def _rollup_sql(
    dialect: str,
    table: str,
    source: str,
    date_col: str,
    dims: Sequence[str],
    measures: Sequence[tuple[str, str]],
    join: str = "",
    where: str = "true",
    grains: str = GRAINS,
) -> str:
    """INSERT .. SELECT .. GROUP BY .. ON CONFLICT DO UPDATE: add `source`'s rows, each carrying a `sign`
    (+1 to add a row, -1 to take it away), to `table` at every grain. Rows are upserted in key order, so
    concurrent PostgreSQL writers lock shared rollup rows in the same order (no deadlock)."""
    keys = ("grain", "period", *dims)
    select = ", ".join(["g.grain", _period(dialect, f"s.{date_col}"), *(f"s.{d}" for d in dims), *(e for _, e in measures)])
    names = ", ".join([*keys, *(m for m, _ in measures)])
    group = ", ".join(str(i) for i in range(1, len(keys) + 1))
    sets = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m, _ in measures)
    return (
        f"INSERT INTO {table} ({names}) SELECT {select} FROM {source} AS s {join} CROSS JOIN {grains} "
        f"WHERE {where} GROUP BY {group} ORDER BY {group} ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {sets}"
    )


def decision_rollup_sql(dialect: str, source: str, grains: str = GRAINS) -> str:
    measures = (("decisions", "SUM(s.sign)"), ("amount_cents", "SUM(s.sign * s.amount_cents)"))
    return _rollup_sql(dialect, "decision_rollup", source, "decided_on", DIMS, measures, grains=grains)


def lead_time_rollup_sql(dialect: str, source: str, grains: str = GRAINS) -> str:
    if dialect == "sqlite":
        lead = "CAST(julianday(s.decided_on) - julianday(c.opened_on) AS INTEGER)"
        fence = "LIMIT -1"  # keeps SQLite from inlining `lead` into each of the 33 sums below
    else:
        lead, fence = "(s.decided_on - c.opened_on)", ""
    effective = (
        f"(SELECT s.sign, s.decided_on, {', '.join(f's.{d}' for d in LEAD_DIMS)}, {lead} AS lead, "
        "CASE WHEN s.decided_on <= c.due_on THEN 1 ELSE 0 END AS on_time "
        f"FROM {source} AS s JOIN cases AS c ON c.id = s.case_id WHERE {EFFECTIVE} {fence})"
    )
    measures = [
        ("decided", "SUM(s.sign)"),
        ("within_due", "SUM(s.sign * s.on_time)"),
        ("lead_00", "SUM(CASE WHEN s.lead <= 0 THEN s.sign ELSE 0 END)"),
    ]
    measures += [(f"lead_{d:02d}", f"SUM(CASE WHEN s.lead = {d} THEN s.sign ELSE 0 END)") for d in range(1, LEAD_DAYS_MAX + 1)]
    measures += [("lead_31p", f"SUM(CASE WHEN s.lead > {LEAD_DAYS_MAX} THEN s.sign ELSE 0 END)")]
    return _rollup_sql(dialect, "lead_time_rollup", effective, "decided_on", LEAD_DIMS, measures, grains=grains)


def case_rollup_sql(dialect: str, source: str, grains: str = GRAINS) -> str:
    return _rollup_sql(
        dialect, "case_rollup", source, "opened_on", CASE_DIMS, (("opened", "SUM(s.sign)"),), grains=grains
    )


ROLLUPS = (
    # (table, dimensions, measures)
    ("decision_rollup", DIMS, ("decisions", "amount_cents")),
    ("lead_time_rollup", LEAD_DIMS, ("decided", "within_due", *LEAD_COLUMNS)),
    ("case_rollup", CASE_DIMS, ("opened",)),
)


def _coarser_sql(dialect: str, table: str, dims: Sequence[str], measures: Sequence[str], grain: str) -> str:
    """Week or month rows of a rollup summed from its day rows (a rebuild reads the big tables once)."""
    if dialect == "sqlite":
        start = "date(period, 'weekday 0', '-6 days')" if grain == "week" else "date(period, 'start of month')"
    else:
        start = f"CAST(date_trunc('{grain}', period) AS date)"
    cols = ", ".join(["grain", "period", *dims, *measures])
    select = ", ".join([f"'{grain}'", start, *dims, *(f"SUM({m})" for m in measures)])
    group = ", ".join(str(i) for i in range(2, len(dims) + 3))
    return f"INSERT INTO {table} ({cols}) SELECT {select} FROM {table} WHERE grain = 'day' GROUP BY {group}"


def _row_source(cols: Sequence[str], row: str, sign: int) -> str:
    """SQLite trigger: one row (NEW or OLD) as a one-row subquery."""
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"{row}.{c} AS {c}" for c in cols)]) + ")"


def _table_source(cols: Sequence[str], table: str, sign: int) -> str:
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"t.{c}" for c in cols)]) + f" FROM {table} AS t)"


def _changed_source(cols: Sequence[str], watched: Sequence[str]) -> str:
    """PostgreSQL UPDATE trigger: old versions of changed rows taken away, new versions added."""
    changed = f"({', '.join(f'o.{c}' for c in watched)}) IS DISTINCT FROM ({', '.join(f'n.{c}' for c in watched)})"
    take = ", ".join(["-1 AS sign", *(f"o.{c}" for c in cols)])
    add = ", ".join(["1 AS sign", *(f"n.{c}" for c in cols)])
    join = "FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id"
    return f"(SELECT {take} {join} WHERE {changed} UNION ALL SELECT {add} {join} WHERE {changed})"


# ---- triggers ------------------------------------------------------------------------------------------

TRIGGERS = (
    # (table, rollup builders, columns read, trigger name prefix)
    ("decisions", (decision_rollup_sql, lead_time_rollup_sql), DECISION_COLS, "decision_rollups"),
    ("cases", (case_rollup_sql,), CASE_COLS, "case_rollup"),
)
PAUSED = "EXISTS (SELECT 1 FROM rollup_pause)"
# PostgreSQL plans these statements with the tables' statistics, which are stale exactly when it matters:
# rows loaded earlier in the same transaction (a bulk load) are invisible to them, and a table analysed
# while empty is believed to hold one row. A nested loop over such a "one-row" table with an inner
# sequential scan made the rebuild quadratic (a 300,000-case load ran for over ten minutes). So:
# - the per-statement triggers look cases up by key only (never an inner sequential scan);
# - the rebuild reads whole tables, so it scans them, hashes or sorts, with memory to do it in.
ROW_PLAN = "SET enable_seqscan = off"
REBUILD_PLAN = "SET enable_nestloop = off SET enable_indexscan = off SET enable_bitmapscan = off SET work_mem = '64MB'"


def rebuild_sql(dialect: str) -> list[str]:
    """Empty the rollups and sum them again from decisions and cases: the day rows from the tables, the
    week and month rows from the day rows."""
    statements = [f"DELETE FROM {t}" for t, _d, _m in ROLLUPS]
    for table, builders, cols, _name in TRIGGERS:
        statements += [build(dialect, _table_source(cols, table, 1), grains=DAYS_ONLY) for build in builders]
    for table, dims, measures in ROLLUPS:
        statements += [_coarser_sql(dialect, table, dims, measures, grain) for grain in ("week", "month")]
    return statements


def _create_triggers(dialect: str) -> None:
    for table, builders, cols, name in TRIGGERS:

        def body(source: str, builders=builders) -> str:
            return " ".join(f"{build(dialect, source)};" for build in builders)

        if dialect == "sqlite":
            watched = ", ".join(cols)
            when = f"WHEN NOT {PAUSED}"
            op.execute(
                f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} {when} "
                f"BEGIN {body(_row_source(cols, 'NEW', 1))} END"
            )
            op.execute(
                f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} {when} "
                f"BEGIN {body(_row_source(cols, 'OLD', -1))} END"
            )
            op.execute(
                f"CREATE TRIGGER {name}_update AFTER UPDATE OF {watched} ON {table} {when} "
                f"BEGIN {body(_row_source(cols, 'OLD', -1))} {body(_row_source(cols, 'NEW', 1))} END"
            )
            continue
        sources = {
            "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", _table_source(cols, "new_rows", 1)),
            "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", _table_source(cols, "old_rows", -1)),
            "update": (
                "UPDATE",
                "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
                _changed_source(cols, cols),
            ),
        }
        for suffix, (event, referencing, source) in sources.items():
            op.execute(
                f"CREATE FUNCTION {name}_{suffix}() RETURNS trigger LANGUAGE plpgsql {ROW_PLAN} AS $$ "
                f"BEGIN IF {PAUSED} THEN RETURN NULL; END IF; {body(source)} RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER {name}_{suffix} AFTER {event} ON {table} {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_{suffix}()"
            )
    # Bulk loads: a row in rollup_pause makes the triggers above skip their work; deleting it (in the same
    # transaction as the load) rebuilds every rollup from the tables.
    rebuild = " ".join(f"{sql};" for sql in rebuild_sql(dialect))
    if dialect == "sqlite":
        op.execute(f"CREATE TRIGGER rollup_resume AFTER DELETE ON rollup_pause BEGIN {rebuild} END")
    else:
        op.execute(
            f"CREATE FUNCTION rollup_resume() RETURNS trigger LANGUAGE plpgsql {REBUILD_PLAN} AS $$ "
            f"BEGIN {rebuild} ANALYZE decision_rollup, lead_time_rollup, case_rollup; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER rollup_resume AFTER DELETE ON rollup_pause FOR EACH ROW EXECUTE FUNCTION rollup_resume()"
        )


def _drop_triggers(dialect: str) -> None:
    names = [(table, f"{name}_{suffix}") for table, _b, _c, name in TRIGGERS for suffix in ("insert", "delete", "update")]
    for table, trigger in [*names, ("rollup_pause", "rollup_resume")]:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")


# ---- upgrade / downgrade -------------------------------------------------------------------------------


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "decision_rollup",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("recommended_outcome", sa.String(length=16), nullable=False),
        sa.Column("is_exception", sa.Boolean(), nullable=False),
        sa.Column("approval_status", sa.String(length=16), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_decision_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", *DIMS, name=op.f("pk_decision_rollup")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "lead_time_rollup",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("decided", sa.BigInteger(), nullable=False),
        sa.Column("within_due", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in LEAD_COLUMNS),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_lead_time_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", *LEAD_DIMS, name=op.f("pk_lead_time_rollup")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "case_rollup",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("opened", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_case_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", "service_type", "reason", name=op.f("pk_case_rollup")),
        sqlite_with_rowid=False,
    )
    # (plain create_index, not batch mode: a batch rebuild of a table would drop its triggers)
    op.create_index(
        "ix_decisions_exception",
        "decisions",
        ["decided_on"],
        unique=False,
        sqlite_where=sa.text("is_exception = 1"),
        postgresql_where=sa.text("is_exception"),
    )
    op.create_index(
        "ix_cases_backlog",
        "cases",
        ["opened_on", "service_type", "reason", "assignee_id", "due_on"],
        unique=False,
        sqlite_where=sa.text("status <> 'closed'"),
        postgresql_where=sa.text("status <> 'closed'"),
    )
    op.create_table(
        "rollup_pause",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_rollup_pause_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_pause")),
    )
    _create_triggers(dialect)
    # backfill what is there already: the same pause-and-resume a bulk load uses (resuming rebuilds)
    op.execute("INSERT INTO rollup_pause (id, note) VALUES (1, 'migration 0002: backfill')")
    op.execute("DELETE FROM rollup_pause")


def downgrade() -> None:
    _drop_triggers(op.get_bind().dialect.name)
    op.drop_index("ix_cases_backlog", table_name="cases")
    op.drop_index("ix_decisions_exception", table_name="decisions")
    op.drop_table("rollup_pause")
    op.drop_table("case_rollup")
    op.drop_table("lead_time_rollup")
    op.drop_table("decision_rollup")
