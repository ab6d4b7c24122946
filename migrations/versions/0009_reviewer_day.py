"""A reviewer's day (issue 12): an index for every queue sort, customer search, saved views, the customer history.

- Queue sorts, each walked by a partial index over the open cases (keyset paging on (key, id)):
  amount (ix_cases_queue_amount), age / opened date (ix_cases_queue_opened), customer name
  (ix_cases_queue_customer) and "my cases" in due order (ix_cases_queue_assignee). Due date already has
  ix_cases_queue (migration 0001).
- Sorting by customer needs the name on the case row: `cases.customer_name`, a copy of the customer's name
  kept by triggers (set when a case is inserted or moved to another customer; rewritten when the customer is
  renamed), so no writer has to know about it.
- Name and email search: SQLite FTS5 with the trigram tokenizer over customers (external content, kept in
  step by triggers on customers); PostgreSQL pg_trgm GIN indexes on customers.name and customers.email. Both
  answer "the text occurs in the name or the email, ignoring case" (see desk/queue.py), so they agree.
- The customer's history on the case page: ix_cases_customer (customer_id, opened_on).
- Saved views: `saved_views`, one row per person and view name (filters and sort as JSON).
- Approval above a limit: `approval_limits` (per currency) and `decisions.over_limit`; a trigger refuses a
  refund or credit above the limit that does not wait for a manager's approval.
- Settings an admin sets: `desk_settings` (the frequent-requester threshold).
- Who has a case open: `case_presence`, one overwritten row per case and person (desk/presence.py).

Revision ID: 0009
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")
QUEUE_INDEXES = {
    "ix_cases_queue_amount": ["amount_requested_cents", "id"],
    "ix_cases_queue_opened": ["opened_on", "id"],
    "ix_cases_queue_customer": ["customer_name", "id"],
    "ix_cases_queue_assignee": ["assignee_id", "due_on", "id"],
}


def _trgm_schema() -> str:
    """The schema pg_trgm lives in (created in public when absent, so per-schema test databases share it)."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    return op.get_bind().execute(
        sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
    ).scalar_one()


# A decision row with a refund or credit above its currency's approval limit must wait for (or have) a manager's
# approval, whoever writes it. The limit's currency is the one the service was paid in.
LIMIT_SQL = (
    "NEW.outcome IN ('full_refund', 'partial_refund', 'credit') "
    "AND NEW.approval_status NOT IN ('pending', 'approved') AND NOT NEW.superseded "
    "AND NEW.amount_cents > COALESCE((SELECT l.limit_cents FROM approval_limits l "
    "JOIN services sv ON sv.currency = l.currency JOIN cases c ON c.service_id = sv.id WHERE c.id = NEW.case_id), "
    "NEW.amount_cents)"
)
LIMIT_MESSAGE = "a refund or credit above the approval limit of its currency needs a manager's approval"


def _create_limit_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for event in ("INSERT", "UPDATE OF approval_status, amount_cents, outcome, superseded"):
            name = "decisions_limit_insert" if event == "INSERT" else "decisions_limit_update"
            op.execute(
                f"CREATE TRIGGER {name} BEFORE {event} ON decisions "
                f"WHEN EXISTS (SELECT 1 FROM approval_limits) AND {LIMIT_SQL} "
                f"BEGIN SELECT RAISE(ABORT, '{LIMIT_MESSAGE.replace(chr(39), chr(39) * 2)}'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION decisions_limit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"IF EXISTS (SELECT 1 FROM approval_limits) AND {LIMIT_SQL} THEN "
        f"RAISE EXCEPTION '{LIMIT_MESSAGE.replace(chr(39), chr(39) * 2)}' USING ERRCODE = 'check_violation'; "
        "END IF; RETURN NEW; END $$"
    )
    op.execute(
        "CREATE TRIGGER decisions_limit BEFORE INSERT OR UPDATE OF approval_status, amount_cents, outcome, superseded "
        "ON decisions FOR EACH ROW EXECUTE FUNCTION decisions_limit()"
    )


def _drop_limit_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS decisions_limit_insert")
        op.execute("DROP TRIGGER IF EXISTS decisions_limit_update")
    else:
        op.execute("DROP TRIGGER IF EXISTS decisions_limit ON decisions")
        op.execute("DROP FUNCTION IF EXISTS decisions_limit()")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # PostgreSQL compares it byte-wise ("C"), as SQLite does, so "Customer A to Z" is one order on both.
    collation = None if dialect == "sqlite" else "C"
    op.add_column("cases", sa.Column("customer_name", sa.String(200, collation=collation), nullable=True))
    op.execute("UPDATE cases SET customer_name = (SELECT name FROM customers WHERE customers.id = cases.customer_id)")
    if dialect == "sqlite":
        op.execute(
            "CREATE TRIGGER cases_customer_name_insert AFTER INSERT ON cases BEGIN "
            "UPDATE cases SET customer_name = (SELECT name FROM customers WHERE id = NEW.customer_id) "
            "WHERE id = NEW.id; END"
        )
        op.execute(
            "CREATE TRIGGER cases_customer_name_move AFTER UPDATE OF customer_id ON cases BEGIN "
            "UPDATE cases SET customer_name = (SELECT name FROM customers WHERE id = NEW.customer_id) "
            "WHERE id = NEW.id; END"
        )
        op.execute(
            "CREATE TRIGGER customers_name_to_cases AFTER UPDATE OF name ON customers BEGIN "
            "UPDATE cases SET customer_name = NEW.name WHERE customer_id = NEW.id; END"
        )
        # search: trigram full-text index over the customers' names and emails
        op.execute(
            "CREATE VIRTUAL TABLE customers_fts USING fts5(name, email, content='customers', "
            "content_rowid='id', tokenize='trigram')"
        )
        op.execute("INSERT INTO customers_fts(customers_fts) VALUES ('rebuild')")
        op.execute(
            "CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN "
            "INSERT INTO customers_fts(rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END"
        )
        op.execute(
            "CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN "
            "INSERT INTO customers_fts(customers_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, "
            "OLD.email); END"
        )
        op.execute(
            "CREATE TRIGGER customers_fts_update AFTER UPDATE OF name, email ON customers BEGIN "
            "INSERT INTO customers_fts(customers_fts, rowid, name, email) VALUES ('delete', OLD.id, OLD.name, "
            "OLD.email); "
            "INSERT INTO customers_fts(rowid, name, email) VALUES (NEW.id, NEW.name, NEW.email); END"
        )
    else:
        op.execute(
            "CREATE FUNCTION cases_customer_name() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "NEW.customer_name := (SELECT name FROM customers WHERE id = NEW.customer_id); RETURN NEW; END $$"
        )
        op.execute(
            "CREATE TRIGGER cases_customer_name BEFORE INSERT OR UPDATE OF customer_id ON cases "
            "FOR EACH ROW EXECUTE FUNCTION cases_customer_name()"
        )
        op.execute(
            "CREATE FUNCTION customers_name_to_cases() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "UPDATE cases SET customer_name = NEW.name WHERE customer_id = NEW.id; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER customers_name_to_cases AFTER UPDATE OF name ON customers "
            "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION customers_name_to_cases()"
        )
        schema = _trgm_schema()
        for column in ("name", "email"):
            op.execute(
                f"CREATE INDEX ix_customers_{column}_trgm ON customers USING gin ({column} {schema}.gin_trgm_ops)"
            )
    for name, columns in QUEUE_INDEXES.items():
        op.create_index(name, "cases", columns, sqlite_where=OPEN, postgresql_where=OPEN)
    op.create_index("ix_cases_customer", "cases", ["customer_id", "opened_on"])
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_saved_views_user_id_users"), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("user_id", "name", name="uq_saved_views_user_id"),
        sa.CheckConstraint("length(trim(name)) > 0", name="ck_saved_views_name_not_blank"),
    )
    op.create_table(
        "desk_settings",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.JSON, nullable=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by_id", sa.Integer, sa.ForeignKey("users.id", name="fk_desk_settings_updated_by_id_users"),
                  nullable=True),
    )
    op.create_table(
        "approval_limits",
        sa.Column("currency", sa.String(3), primary_key=True),
        sa.Column("limit_cents", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
        sa.Column("updated_by_id", sa.Integer,
                  sa.ForeignKey("users.id", name="fk_approval_limits_updated_by_id_users"), nullable=True),
        sa.CheckConstraint("limit_cents >= 0", name="ck_approval_limits_limit_nonnegative"),
    )
    op.add_column("decisions", sa.Column("over_limit", sa.Boolean, nullable=False, server_default=sa.false()))
    _create_limit_triggers(dialect)
    op.create_table(
        "case_presence",
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                  sa.ForeignKey("cases.id", name="fk_case_presence_case_id_cases"), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_case_presence_user_id_users"),
                  primary_key=True),
        sa.Column("seen_at", sa.DateTime, nullable=False),
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("case_presence")
    _drop_limit_triggers(dialect)
    op.execute("ALTER TABLE decisions DROP COLUMN over_limit")
    op.drop_table("approval_limits")
    op.drop_table("desk_settings")
    op.drop_table("saved_views")
    op.drop_index("ix_cases_customer", table_name="cases")
    for name in QUEUE_INDEXES:
        op.drop_index(name, table_name="cases")
    if dialect == "sqlite":
        for trigger in (
            "cases_customer_name_insert",
            "cases_customer_name_move",
            "customers_name_to_cases",
            "customers_fts_insert",
            "customers_fts_delete",
            "customers_fts_update",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS customers_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_customers_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_customers_email_trgm")
        op.execute("DROP TRIGGER IF EXISTS customers_name_to_cases ON customers")
        op.execute("DROP FUNCTION IF EXISTS customers_name_to_cases()")
        op.execute("DROP TRIGGER IF EXISTS cases_customer_name ON cases")
        op.execute("DROP FUNCTION IF EXISTS cases_customer_name()")
    op.execute("ALTER TABLE cases DROP COLUMN customer_name")  # SQLite >= 3.35 drops an unindexed column
