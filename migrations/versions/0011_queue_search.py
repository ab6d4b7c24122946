"""Queue search over the open cases only: `queue_search`, one row per open case with its customer's name and email.

Migration 0009 searched the customers (1.7 million of them at 1,000,000 cases) and then kept the few that have an
open case: a common term ('example.com' is in a fifth of all emails) made the index return hundreds of thousands
of customers to find a page of cases (228 ms at 200,000 cases), and a text under three characters scanned the
customers table. The queue only ever shows open cases (2.5 % of all cases), so the search index now holds only
them:

- SQLite: `queue_search`, an FTS5 table with the trigram tokenizer (rowid = the case id; name, email);
- PostgreSQL: `queue_search` (case_id primary key, name, email) with pg_trgm GIN indexes on name and email
  (they serve ILIKE).

Both are kept in step by triggers: a case entering the queue (inserted open, reopened, moved to another customer)
adds its row, a case leaving it (closed, deleted) removes it, a renamed customer rewrites the rows of their open
cases. The customers' trigram indexes of 0009 are dropped (no query reads them any more, and every new customer
paid for them). A text of any length means the same on both backends: it occurs in the name or the email,
ignoring case (desk/queue.py); under three characters (below a trigram) the table of open cases is scanned,
which costs what the open cases cost, not what the customers cost.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = (
    "INSERT INTO queue_search ({id}, name, email) SELECT c.id, cu.name, cu.email FROM cases c "
    "JOIN customers cu ON cu.id = c.customer_id WHERE c.status <> 'closed'"
)

SQLITE_TRIGGERS = {
    "queue_search_insert": (
        "AFTER INSERT ON cases WHEN NEW.status <> 'closed' BEGIN "
        "INSERT INTO queue_search(rowid, name, email) SELECT NEW.id, name, email FROM customers "
        "WHERE id = NEW.customer_id; END"
    ),
    # only when the case enters or leaves the queue, or moves to another customer (not open -> awaiting approval)
    "queue_search_update": (
        "AFTER UPDATE OF status, customer_id ON cases WHEN (OLD.status = 'closed') <> (NEW.status = 'closed') "
        "OR OLD.customer_id <> NEW.customer_id BEGIN "
        "DELETE FROM queue_search WHERE rowid = OLD.id; "
        "INSERT INTO queue_search(rowid, name, email) SELECT NEW.id, name, email FROM customers "
        "WHERE id = NEW.customer_id AND NEW.status <> 'closed'; END"
    ),
    "queue_search_delete": (
        "AFTER DELETE ON cases WHEN OLD.status <> 'closed' BEGIN DELETE FROM queue_search WHERE rowid = OLD.id; END"
    ),
    "queue_search_customer": (
        "AFTER UPDATE OF name, email ON customers BEGIN "
        "DELETE FROM queue_search WHERE rowid IN "
        "(SELECT id FROM cases WHERE customer_id = NEW.id AND status <> 'closed'); "
        "INSERT INTO queue_search(rowid, name, email) SELECT id, NEW.name, NEW.email FROM cases "
        "WHERE customer_id = NEW.id AND status <> 'closed'; END"
    ),
}

PG_FUNCTIONS = {
    "queue_search_case": (
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN DELETE FROM queue_search WHERE case_id = OLD.id; END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'closed' THEN "
        "INSERT INTO queue_search (case_id, name, email) SELECT NEW.id, name, email FROM customers "
        "WHERE id = NEW.customer_id; END IF; "
        "RETURN NULL; END"
    ),
    "queue_search_customer": (
        "BEGIN "
        "UPDATE queue_search q SET name = NEW.name, email = NEW.email FROM cases c "
        "WHERE c.id = q.case_id AND c.customer_id = NEW.id AND c.status <> 'closed'; "
        "RETURN NULL; END"
    ),
}
PG_TRIGGERS = {
    "queue_search_insert": "AFTER INSERT ON cases FOR EACH ROW WHEN (NEW.status <> 'closed') "
    "EXECUTE FUNCTION queue_search_case()",
    "queue_search_update": "AFTER UPDATE OF status, customer_id ON cases FOR EACH ROW "
    "WHEN ((OLD.status = 'closed') <> (NEW.status = 'closed') OR OLD.customer_id <> NEW.customer_id) "
    "EXECUTE FUNCTION queue_search_case()",
    "queue_search_delete": "AFTER DELETE ON cases FOR EACH ROW WHEN (OLD.status <> 'closed') "
    "EXECUTE FUNCTION queue_search_case()",
    "queue_search_customer": "AFTER UPDATE OF name, email ON customers FOR EACH ROW "
    "WHEN (OLD.name IS DISTINCT FROM NEW.name OR OLD.email IS DISTINCT FROM NEW.email) "
    "EXECUTE FUNCTION queue_search_customer()",
}


def _trgm_schema() -> str:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public")
    return (
        op.get_bind()
        .execute(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'"))
        .scalar_one()
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE queue_search USING fts5(name, email, tokenize='trigram')")
        op.execute(FILL.format(id="rowid"))
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        for trigger in ("customers_fts_insert", "customers_fts_delete", "customers_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS customers_fts")
    else:
        op.create_table(
            "queue_search",
            sa.Column("case_id", sa.BigInteger, primary_key=True),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("email", sa.String(254), nullable=False),
        )
        op.execute(FILL.format(id="case_id"))
        schema = _trgm_schema()
        for column in ("name", "email"):
            # fastupdate off: every case that enters or leaves the queue writes the index at once. With GIN's
            # pending list (the default) those rows waited for the next vacuum, and each search read the whole
            # list: 30-40 ms for 'smith' at 1,000,000 cases right after loading, 0.2 ms once merged.
            op.execute(
                f"CREATE INDEX ix_queue_search_{column}_trgm ON queue_search USING gin ({column} {schema}.gin_trgm_ops)"
                " WITH (fastupdate = off)"
            )
        for name, body in PG_FUNCTIONS.items():
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
        for name, body in PG_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        op.execute("DROP INDEX IF EXISTS ix_customers_name_trgm")
        op.execute("DROP INDEX IF EXISTS ix_customers_email_trgm")
        op.execute("ANALYZE queue_search")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS queue_search")
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
        for name in PG_TRIGGERS:
            table = "customers" if name == "queue_search_customer" else "cases"
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")
        op.drop_table("queue_search")
        schema = _trgm_schema()
        for column in ("name", "email"):
            op.execute(
                f"CREATE INDEX ix_customers_{column}_trgm ON customers USING gin ({column} {schema}.gin_trgm_ops)"
            )
