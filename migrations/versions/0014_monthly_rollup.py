"""A coarser decision rollup: decisions per grain, service type, decision state and currency only.

`decision_rollup` (migrations 0002, 0004) keeps every dimension the analytics page filters or splits by:
service type, reason, reviewer, policy version, the five decision-state columns and the currency. A month of
it at a million cases is ~1,800 rows, so a 12-month view reads ~20,000 rows for each of its questions —
also for the ones that split by nothing but the period and the service type (the trend, the previous
period's headline numbers, the rate by decision month). `decision_state_rollup` is `decision_rollup` summed
over reason, reviewer and policy version: ~160 rows a month at a million cases (11x fewer), at the same
three grains (day, week, month), so the page reads it whenever a question needs none of those three
dimensions and no reason or reviewer filter applies (desk/analytics/queries.py `decision_states`).

Kept like the others: triggers on `decisions` (row triggers on SQLite, statement triggers with transition
tables on PostgreSQL) add and take away each decision with the currency of its amount (migration 0004's
SQL, loaded from that file, which never changes), and skip their work while `rollup_pause` holds a row. A
trigger on deleting that row rebuilds this table — from `decision_rollup`, which the rebuild of migration
0004 has just made, so a bulk load reads the big tables once. That trigger must fire after migration 0004's
`rollup_resume`: PostgreSQL fires a table's triggers in the order of their names (`state_rollup_resume`
sorts after `rollup_resume` and `sale_month_resume`), SQLite the most recently created first — so on SQLite
this migration re-creates the other triggers on `rollup_pause` (their SQL unchanged) after its own.

The SQL lives in this file on purpose (as in 0002, 0004 and 0010): a migration must keep meaning what it meant.

Revision ID: 0014_monthly_rollup
Revises: 0013_queue_sort
Create Date: 2026-12-02 17:20:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0014_monthly_rollup"
down_revision: str | None = "0013_queue_sort"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "decision_state_rollup"
DIMS = (
    "service_type",
    "outcome",
    "recommended_outcome",
    "is_exception",
    "approval_status",
    "superseded",
    "currency",
)
# the columns of a decision row this rollup reads (the currency is looked up through the case's service)
COLS = ("case_id", "decided_on", "amount_cents", *DIMS[:-1])
TRIGGERS = ("state_rollup_insert", "state_rollup_delete", "state_rollup_update")
RESUME = "state_rollup_resume"
PAUSED = "EXISTS (SELECT 1 FROM rollup_pause)"
ROW_PLAN = "SET enable_seqscan = off"  # see migration 0004: look cases and services up by key only
REBUILD_PLAN = "SET enable_nestloop = off SET enable_indexscan = off SET enable_bitmapscan = off SET work_mem = '64MB'"


def _migration_0004():
    """Migration 0004's module (its rollup SQL builders): revision files are not a package."""
    path = Path(__file__).with_name("0004_money_currency.py")
    spec = importlib.util.spec_from_file_location("_refund_desk_migration_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def rollup_sql(dialect: str, source: str) -> str:
    """Add `source`'s decision rows (each with a sign, +1 or -1) to the rollup at every grain, in key order."""
    m = _migration_0004()
    measures = (("decisions", "SUM(s.sign)"), ("amount_cents", "SUM(s.sign * s.amount_cents)"))
    return m._rollup_sql(dialect, TABLE, m._with_currency(source), "decided_on", DIMS, measures)


def rebuild_sql() -> list[str]:
    """This rollup summed again from `decision_rollup` (every grain: it has the same three)."""
    keys = ", ".join(("grain", "period", *DIMS))
    return [
        f"DELETE FROM {TABLE}",
        f"INSERT INTO {TABLE} ({keys}, decisions, amount_cents) SELECT {keys}, SUM(decisions), SUM(amount_cents) "
        f"FROM decision_rollup GROUP BY {keys}",
    ]


def _pause_triggers_sqlite() -> list[tuple[str, str]]:
    """(name, SQL) of the triggers on rollup_pause, oldest first."""
    rows = op.get_bind().exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'rollup_pause' ORDER BY rowid"
    )
    return [(name, sql) for name, sql in rows]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    m = _migration_0004()
    op.create_table(
        TABLE,
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("recommended_outcome", sa.String(length=16), nullable=False),
        sa.Column("is_exception", sa.Boolean(), nullable=False),
        sa.Column("approval_status", sa.String(length=16), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_decision_state_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", *DIMS, name=op.f("pk_decision_state_rollup")),
        sqlite_with_rowid=False,
    )
    rebuild = " ".join(f"{sql};" for sql in rebuild_sql())
    if dialect == "sqlite":
        when = f"WHEN NOT {PAUSED}"
        op.execute(
            f"CREATE TRIGGER state_rollup_insert AFTER INSERT ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, m._row_source(COLS, 'NEW', 1))}; END"
        )
        op.execute(
            f"CREATE TRIGGER state_rollup_delete AFTER DELETE ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, m._row_source(COLS, 'OLD', -1))}; END"
        )
        op.execute(
            f"CREATE TRIGGER state_rollup_update AFTER UPDATE OF {', '.join(COLS)} ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, m._row_source(COLS, 'OLD', -1))}; "
            f"{rollup_sql(dialect, m._row_source(COLS, 'NEW', 1))}; END"
        )
        # fire last on deleting the pause row: the others (0004's rebuild first) are made again after it
        others = _pause_triggers_sqlite()
        bind = op.get_bind()
        for name, _sql in others:
            bind.exec_driver_sql(f"DROP TRIGGER {name}")
        op.execute(f"CREATE TRIGGER {RESUME} AFTER DELETE ON rollup_pause BEGIN {rebuild} END")
        for _name, sql in others:
            bind.exec_driver_sql(sql)  # as it was written, never through a bind-parameter parser
    else:
        sources = {
            "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", m._table_source(COLS, "new_rows", 1)),
            "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", m._table_source(COLS, "old_rows", -1)),
            "update": (
                "UPDATE",
                "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
                m._changed_source(COLS, COLS),
            ),
        }
        for suffix, (event, referencing, source) in sources.items():
            op.execute(
                f"CREATE FUNCTION state_rollup_{suffix}() RETURNS trigger LANGUAGE plpgsql {ROW_PLAN} AS $$ "
                f"BEGIN IF {PAUSED} THEN RETURN NULL; END IF; {rollup_sql(dialect, source)}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER state_rollup_{suffix} AFTER {event} ON decisions {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION state_rollup_{suffix}()"
            )
        op.execute(
            f"CREATE FUNCTION {RESUME}() RETURNS trigger LANGUAGE plpgsql {REBUILD_PLAN} AS $$ "
            f"BEGIN {rebuild} ANALYZE {TABLE}; RETURN NULL; END $$"
        )
        op.execute(f"CREATE TRIGGER {RESUME} AFTER DELETE ON rollup_pause FOR EACH ROW EXECUTE FUNCTION {RESUME}()")
    for sql in rebuild_sql():  # backfill
        op.execute(sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, trigger in [*(("decisions", t) for t in TRIGGERS), ("rollup_pause", RESUME)]:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
    op.drop_table(TABLE)
