"""Money per currency: the decision rollup gains a currency dimension, and revenue is rolled up per currency.

Amounts of different currencies are never added together (docs/metrics.md, "Currencies"). Until now
`decision_rollup.amount_cents` summed EUR cents with USD cents, and `sales_daily.revenue_cents` did the same
for revenue. This revision:

- rebuilds `decision_rollup` with `currency` in its key: the currency of the decided case's service (a
  decision's amount is in the case's currency, which is its service's), or '' for an amount of 0. The triggers read it through
  `cases.service_id -> services.currency`, two primary-key lookups per decision row, so no writer has to
  know about it (the desk, the importer, plain SQL alike);
- adds `sales_by_currency` (services sold and revenue per purchase day, service type and currency), kept by
  triggers on `services` (row triggers on SQLite, statement triggers with transition tables on PostgreSQL).
  These triggers are not paused by `rollup_pause`: services are never loaded inside a pause, and rebuilding
  this table on every resume would re-read every service sold. `sales_daily` stays as it was (its counts
  are right; its revenue mixes currencies and is no longer read for money);
- re-creates the rollup triggers of migration 0002 with the currency, and rebuilds every rollup from the
  tables (the same pause-and-resume a bulk load uses).

Counts do not change: `decisions` summed over currencies is what it was.

The SQL lives in this file on purpose (as in 0002): a migration must keep meaning what it meant.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 22:45:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
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
    "currency",
)
# the columns of a decision row the rollups read (the currency is looked up, see _with_currency)
DECISION_COLS = ("case_id", "decided_on", "amount_cents", *DIMS[:-1])
LEAD_DIMS = ("service_type", "reason", "decided_by_id")
CASE_DIMS = ("service_type", "reason")
CASE_COLS = ("opened_on", *CASE_DIMS)
SALES_COLS = ("purchased_on", "service_type", "currency", "price_cents")
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


def _with_currency(source: str) -> str:
    """Decision rows with the currency of their amount: their case's service's; '' when the amount is 0 (a
    fix or a denial: there is no money to tell apart, and not splitting those rows by currency keeps the
    rollup, and every query of it, nearly as small as before)."""
    return (
        f"(SELECT x.*, CASE WHEN x.amount_cents = 0 THEN '' ELSE sv.currency END AS currency FROM {source} AS x "
        "JOIN cases AS c ON c.id = x.case_id JOIN services AS sv ON sv.id = c.service_id)"
    )


def decision_rollup_sql(dialect: str, source: str, grains: str = GRAINS) -> str:
    measures = (("decisions", "SUM(s.sign)"), ("amount_cents", "SUM(s.sign * s.amount_cents)"))
    return _rollup_sql(dialect, "decision_rollup", _with_currency(source), "decided_on", DIMS, measures, grains=grains)


def sales_rollup_sql(source: str) -> str:
    """Add (sign +1) or take away (-1) services sold to `sales_by_currency`, in key order."""
    return (
        "INSERT INTO sales_by_currency (day, service_type, currency, services_sold, revenue_cents) "
        "SELECT s.purchased_on, s.service_type, s.currency, SUM(s.sign), SUM(s.sign * s.price_cents) "
        f"FROM {source} AS s GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
        "ON CONFLICT (day, service_type, currency) DO UPDATE SET "
        "services_sold = sales_by_currency.services_sold + excluded.services_sold, "
        "revenue_cents = sales_by_currency.revenue_cents + excluded.revenue_cents"
    )


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


SALES_TRIGGERS = ("sales_rollup_insert", "sales_rollup_delete", "sales_rollup_update")


def _create_sales_triggers(dialect: str) -> None:
    """`sales_by_currency` follows every write to `services` (never paused: see the module docstring)."""
    if dialect == "sqlite":
        watched = ", ".join(SALES_COLS)
        op.execute(
            "CREATE TRIGGER sales_rollup_insert AFTER INSERT ON services "
            f"BEGIN {sales_rollup_sql(_row_source(SALES_COLS, 'NEW', 1))}; END"
        )
        op.execute(
            "CREATE TRIGGER sales_rollup_delete AFTER DELETE ON services "
            f"BEGIN {sales_rollup_sql(_row_source(SALES_COLS, 'OLD', -1))}; END"
        )
        op.execute(
            f"CREATE TRIGGER sales_rollup_update AFTER UPDATE OF {watched} ON services "
            f"BEGIN {sales_rollup_sql(_row_source(SALES_COLS, 'OLD', -1))}; "
            f"{sales_rollup_sql(_row_source(SALES_COLS, 'NEW', 1))}; END"
        )
        return
    sources = {
        "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", _table_source(SALES_COLS, "new_rows", 1)),
        "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", _table_source(SALES_COLS, "old_rows", -1)),
        "update": (
            "UPDATE",
            "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
            _changed_source(SALES_COLS, SALES_COLS),
        ),
    }
    for suffix, (event, referencing, source) in sources.items():
        op.execute(
            f"CREATE FUNCTION sales_rollup_{suffix}() RETURNS trigger LANGUAGE plpgsql {ROW_PLAN} AS $$ "
            f"BEGIN {sales_rollup_sql(source)}; RETURN NULL; END $$"
        )
        op.execute(
            f"CREATE TRIGGER sales_rollup_{suffix} AFTER {event} ON services {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION sales_rollup_{suffix}()"
        )


def _drop_sales_triggers(dialect: str) -> None:
    for trigger in SALES_TRIGGERS:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON services")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")


def _decision_rollup_table(dims: Sequence[str]) -> None:
    columns = {
        "service_type": sa.String(length=24),
        "reason": sa.String(length=32),
        "decided_by_id": sa.Integer(),
        "policy_version": sa.String(length=32),
        "outcome": sa.String(length=16),
        "recommended_outcome": sa.String(length=16),
        "is_exception": sa.Boolean(),
        "approval_status": sa.String(length=16),
        "superseded": sa.Boolean(),
        "currency": sa.String(length=3),
    }
    op.create_table(
        "decision_rollup",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        *(sa.Column(name, columns[name], nullable=False) for name in dims),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_decision_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", *dims, name=op.f("pk_decision_rollup")),
        sqlite_with_rowid=False,
    )


def _rebuild(note: str) -> None:
    """The pause-and-resume of a bulk load: resuming rebuilds every rollup of `TRIGGERS` from the tables."""
    op.execute(f"INSERT INTO rollup_pause (id, note) VALUES (1, '{note}')")
    op.execute("DELETE FROM rollup_pause")


def _migration_0002():
    """Migration 0002's module (its trigger SQL, for the downgrade): revision files are not a package."""
    path = Path(__file__).with_name("0002_analytics.py")
    spec = importlib.util.spec_from_file_location("_refund_desk_migration_0002", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---- upgrade / downgrade -------------------------------------------------------------------------------


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)  # 0002's: same names, without the currency
    op.drop_table("decision_rollup")
    _decision_rollup_table(DIMS)
    op.create_table(
        "sales_by_currency",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("services_sold", sa.BigInteger(), nullable=False),
        sa.Column("revenue_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", "service_type", "currency", name=op.f("pk_sales_by_currency")),
        sqlite_with_rowid=False,
    )
    _create_sales_triggers(dialect)
    _create_triggers(dialect)
    # backfill: revenue per currency from the services sold, and every rollup rebuilt with the currency
    op.execute(sales_rollup_sql(_table_source(SALES_COLS, "services", 1)))
    _rebuild("migration 0004: rollups per currency")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    _drop_triggers(dialect)
    _drop_sales_triggers(dialect)
    op.drop_table("sales_by_currency")
    op.drop_table("decision_rollup")
    _decision_rollup_table(DIMS[:-1])
    _migration_0002()._create_triggers(dialect)
    _rebuild("migration 0004 downgrade: rollups without currency")
