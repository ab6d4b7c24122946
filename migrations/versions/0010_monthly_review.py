"""The monthly review: decisions rolled up by the month their service was sold (the sale-month cohort).

The refund rate by sale month (docs/metrics.md) divides the effective money decisions about services sold
in a month — whenever they were decided — by the services sold that month. Without this table it would
join every decision to its case and service; `sale_month_rollup` keeps those decisions summed per sale
month, service type, reason, reviewer, outcome, approval state and currency (of the amount: the service's,
'' for an amount of 0, as in migration 0004), kept by triggers on `decisions` (row triggers on SQLite,
statement triggers with transition tables on PostgreSQL) that read the sale month through
`cases.service_id -> services.purchased_on`, two primary-key lookups per row. Like the rollups of 0002 and
0004 the triggers skip their work while `rollup_pause` holds a row, and a second trigger on deleting that
row rebuilds this table from the decisions.

Known limit: a service whose purchase date or currency is changed after a decision about it leaves that
decision under the old month until the next rebuild (services are not re-dated by the desk or the importer).

It also adds `requested_rollup`: effective decisions per day, week and month (by `decided_on`), service
type, reason, reviewer and currency (of the case's service), with the amounts their customers requested,
the money granted and its cash part — so "amount granted against amount requested" reads a few hundred
rollup rows instead of joining a year of decisions to their cases (0.7 s at 200,000 cases on SQLite).
Built with migration 0004's rollup SQL (loaded from that file, which never changes).

The SQL lives in this file on purpose (as in 0002 and 0004): a migration must keep meaning what it meant.

Revision ID: 0010
Revises: 0006 (see the report: the lead re-chains)
Create Date: 2026-12-01 23:45:00
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DIMS = ("service_type", "reason", "decided_by_id", "outcome", "approval_status", "superseded")
COLS = ("case_id", "amount_cents", *DIMS)
KEYS = ("sale_month", *DIMS, "currency")
PAUSED = "EXISTS (SELECT 1 FROM rollup_pause)"
ROW_PLAN = "SET enable_seqscan = off"  # see migration 0004: look cases and services up by key only
REBUILD_PLAN = "SET enable_nestloop = off SET enable_indexscan = off SET enable_bitmapscan = off SET work_mem = '64MB'"
TRIGGERS = (
    "sale_month_rollup_insert",
    "sale_month_rollup_delete",
    "sale_month_rollup_update",
)


REQ_DIMS = ("service_type", "reason", "decided_by_id", "currency")
REQ_MEASURES = ("decisions", "requested_cents", "granted_cents", "cash_cents")
REQ_COLS = ("case_id", "decided_on", "amount_cents", "service_type", "reason", "decided_by_id", "outcome",
            "approval_status", "superseded")


def _migration_0004():
    """Migration 0004's module (its generic rollup SQL builders): revision files are not a package."""
    path = Path(__file__).with_name("0004_money_currency.py")
    spec = importlib.util.spec_from_file_location("_refund_desk_migration_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def requested_sql(dialect: str, source: str, grains: str | None = None) -> str:
    """Add `source`'s effective decision rows (signed) to `requested_rollup` at every grain (or `grains`)."""
    m = _migration_0004()
    effective = (
        "(SELECT x.sign, x.decided_on, x.service_type, x.reason, x.decided_by_id, sv.currency, "
        "c.amount_requested_cents AS requested, "
        "CASE WHEN x.outcome IN ('full_refund', 'partial_refund', 'credit') THEN x.amount_cents ELSE 0 END AS granted, "
        "CASE WHEN x.outcome IN ('full_refund', 'partial_refund') THEN x.amount_cents ELSE 0 END AS cash "
        f"FROM {source} AS x JOIN cases AS c ON c.id = x.case_id JOIN services AS sv ON sv.id = c.service_id "
        "WHERE NOT x.superseded AND x.approval_status IN ('not_required', 'approved'))"
    )
    measures = (
        ("decisions", "SUM(s.sign)"),
        ("requested_cents", "SUM(s.sign * s.requested)"),
        ("granted_cents", "SUM(s.sign * s.granted)"),
        ("cash_cents", "SUM(s.sign * s.cash)"),
    )
    return m._rollup_sql(
        dialect, "requested_rollup", effective, "decided_on", REQ_DIMS, measures, grains=grains or m.GRAINS
    )


def _req_row(row: str, sign: int) -> str:
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"{row}.{c} AS {c}" for c in REQ_COLS)]) + ")"


def _req_table(table: str, sign: int) -> str:
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"t.{c}" for c in REQ_COLS)]) + f" FROM {table} AS t)"


def _req_changed() -> str:
    changed = f"({', '.join(f'o.{c}' for c in REQ_COLS)}) IS DISTINCT FROM ({', '.join(f'n.{c}' for c in REQ_COLS)})"
    join = "FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id"
    take = ", ".join(["-1 AS sign", *(f"o.{c}" for c in REQ_COLS)])
    add = ", ".join(["1 AS sign", *(f"n.{c}" for c in REQ_COLS)])
    return f"(SELECT {take} {join} WHERE {changed} UNION ALL SELECT {add} {join} WHERE {changed})"


def _month(dialect: str, col: str) -> str:
    return f"date({col}, 'start of month')" if dialect == "sqlite" else f"CAST(date_trunc('month', {col}) AS date)"


def rollup_sql(dialect: str, source: str) -> str:
    """Add `source`'s decision rows (each with a sign, +1 or -1) to the rollup, in key order."""
    select = ", ".join(
        [
            _month(dialect, "sv.purchased_on"),
            *(f"s.{d}" for d in DIMS),
            "CASE WHEN s.amount_cents = 0 THEN '' ELSE sv.currency END",
            "SUM(s.sign)",
            "SUM(s.sign * s.amount_cents)",
        ]
    )
    group = ", ".join(str(i) for i in range(1, len(KEYS) + 1))
    return (
        f"INSERT INTO sale_month_rollup ({', '.join(KEYS)}, decisions, amount_cents) SELECT {select} "
        f"FROM {source} AS s JOIN cases AS c ON c.id = s.case_id JOIN services AS sv ON sv.id = c.service_id "
        f"WHERE true GROUP BY {group} ORDER BY {group} ON CONFLICT ({', '.join(KEYS)}) DO UPDATE SET "
        "decisions = sale_month_rollup.decisions + excluded.decisions, "
        "amount_cents = sale_month_rollup.amount_cents + excluded.amount_cents"
    )


def _row(row: str, sign: int) -> str:
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"{row}.{c} AS {c}" for c in COLS)]) + ")"


def _table(table: str, sign: int) -> str:
    return "(SELECT " + ", ".join([f"{sign} AS sign", *(f"t.{c}" for c in COLS)]) + f" FROM {table} AS t)"


def _changed() -> str:
    changed = f"({', '.join(f'o.{c}' for c in COLS)}) IS DISTINCT FROM ({', '.join(f'n.{c}' for c in COLS)})"
    join = "FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id"
    take = ", ".join(["-1 AS sign", *(f"o.{c}" for c in COLS)])
    add = ", ".join(["1 AS sign", *(f"n.{c}" for c in COLS)])
    return f"(SELECT {take} {join} WHERE {changed} UNION ALL SELECT {add} {join} WHERE {changed})"


def rebuild_sql(dialect: str) -> list[str]:
    m = _migration_0004()
    return [
        "DELETE FROM sale_month_rollup",
        rollup_sql(dialect, _table("decisions", 1)),
        "DELETE FROM requested_rollup",
        requested_sql(dialect, _req_table("decisions", 1), grains=m.DAYS_ONLY),
        *(m._coarser_sql(dialect, "requested_rollup", REQ_DIMS, REQ_MEASURES, g) for g in ("week", "month")),
    ]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "sale_month_rollup",
        sa.Column("sale_month", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("approval_status", sa.String(length=16), nullable=False),
        sa.Column("superseded", sa.Boolean(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("decisions", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*KEYS, name=op.f("pk_sale_month_rollup")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "requested_rollup",
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("service_type", sa.String(length=24), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(sa.Column(m, sa.BigInteger(), nullable=False) for m in REQ_MEASURES),
        sa.CheckConstraint("grain IN ('day', 'week', 'month')", name=op.f("ck_requested_rollup_grain")),
        sa.PrimaryKeyConstraint("grain", "period", *REQ_DIMS, name=op.f("pk_requested_rollup")),
        sqlite_with_rowid=False,
    )
    if dialect == "sqlite":
        when = f"WHEN NOT {PAUSED}"
        op.execute(
            f"CREATE TRIGGER sale_month_rollup_insert AFTER INSERT ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, _row('NEW', 1))}; {requested_sql(dialect, _req_row('NEW', 1))}; END"
        )
        op.execute(
            f"CREATE TRIGGER sale_month_rollup_delete AFTER DELETE ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, _row('OLD', -1))}; {requested_sql(dialect, _req_row('OLD', -1))}; END"
        )
        watched = ", ".join(sorted(set(COLS) | set(REQ_COLS)))
        op.execute(
            f"CREATE TRIGGER sale_month_rollup_update AFTER UPDATE OF {watched} ON decisions {when} "
            f"BEGIN {rollup_sql(dialect, _row('OLD', -1))}; {rollup_sql(dialect, _row('NEW', 1))}; "
            f"{requested_sql(dialect, _req_row('OLD', -1))}; {requested_sql(dialect, _req_row('NEW', 1))}; END"
        )
        rebuild = " ".join(f"{sql};" for sql in rebuild_sql(dialect))
        op.execute(f"CREATE TRIGGER sale_month_resume AFTER DELETE ON rollup_pause BEGIN {rebuild} END")
    else:
        sources = {
            "insert": ("INSERT", "REFERENCING NEW TABLE AS new_rows", _table("new_rows", 1), _req_table("new_rows", 1)),
            "delete": ("DELETE", "REFERENCING OLD TABLE AS old_rows", _table("old_rows", -1), _req_table("old_rows", -1)),
            "update": ("UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows", _changed(), _req_changed()),
        }
        for suffix, (event, referencing, source, req_source) in sources.items():
            op.execute(
                f"CREATE FUNCTION sale_month_rollup_{suffix}() RETURNS trigger LANGUAGE plpgsql {ROW_PLAN} AS $$ "
                f"BEGIN IF {PAUSED} THEN RETURN NULL; END IF; {rollup_sql(dialect, source)}; "
                f"{requested_sql(dialect, req_source)}; RETURN NULL; END $$"
            )
            op.execute(
                f"CREATE TRIGGER sale_month_rollup_{suffix} AFTER {event} ON decisions {referencing} "
                f"FOR EACH STATEMENT EXECUTE FUNCTION sale_month_rollup_{suffix}()"
            )
        rebuild = " ".join(f"{sql};" for sql in rebuild_sql(dialect))
        op.execute(
            f"CREATE FUNCTION sale_month_resume() RETURNS trigger LANGUAGE plpgsql {REBUILD_PLAN} AS $$ "
            f"BEGIN {rebuild} ANALYZE sale_month_rollup, requested_rollup; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER sale_month_resume AFTER DELETE ON rollup_pause FOR EACH ROW "
            "EXECUTE FUNCTION sale_month_resume()"
        )
    for sql in rebuild_sql(dialect):  # backfill
        op.execute(sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, trigger in [*(("decisions", t) for t in TRIGGERS), ("rollup_pause", "sale_month_resume")]:
        if dialect == "sqlite":
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON {table}")
            op.execute(f"DROP FUNCTION IF EXISTS {trigger}()")
    op.drop_table("requested_rollup")
    op.drop_table("sale_month_rollup")
