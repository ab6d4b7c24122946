"""Every queue sort indexed for "my cases" and for a search: partial indexes per reviewer, sort keys in queue_search.

Two queue reads still walked or sorted more than a page at 1,000,000 cases (issue 12):

- "My cases" sorted by amount, age, opened date or customer had no index for the pair (assignee, key): the
  reviewer's open cases were filtered out of the sort's index (18-21 ms CPU on SQLite, growing with the
  number of open cases). Now each sort has a partial index `(assignee_id, key, id) WHERE status <> 'closed'`,
  the queue's keyset ORDER BY exactly (due order had one since 0009).
- A search matching many open cases ('example.com', '@corp') walked the cases' sort index and checked each
  case against the set of all matches, which had to be built first (a trigram query returning thousands of
  rows); PostgreSQL even joined all matches to the cases before sorting them (169 ms for '@corp' by customer).
  `queue_search` now carries the sort keys of its case (due_on, amount_requested_cents, opened_on; its `name`
  is the customer sort's key) with a `(key, case_id)` index each, so a search walks the matches in the page's
  order and stops after a page, each row checked by itself. On PostgreSQL the name index is `COLLATE "C"`,
  as `cases.customer_name` is (migration 0009), so both orders are the one SQLite's byte order gives.
- `folded`: lower(name || newline || email) (SQLite: a generated column; PostgreSQL: set by a trigger), for the row-by-row check and for texts under
  three characters (no trigram): one `instr`/`strpos` over one column instead of LIKE / ILIKE over two.

SQLite: an FTS5 virtual table cannot be indexed by other columns, so `queue_search` becomes a plain table
(case_id INTEGER PRIMARY KEY = the rowid) and the trigram index an external-content FTS5 table over it,
`queue_search_fts` (content='queue_search'), kept in step by triggers on queue_search. PostgreSQL: the same
columns added to the table of 0011; its GIN indexes stay.

The triggers of 0011 on cases and customers are replaced to write the keys too, and `queue_search_keys` copies a
changed due date, amount or opening date of an open case.

Revision ID: 0013_queue_sort
Revises: 0012
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0013_queue_sort"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status <> 'closed'")
# "my cases" in each sort order (the due order's ix_cases_queue_assignee is migration 0009's)
ASSIGNEE_INDEXES = {
    "ix_cases_queue_assignee_amount": ["assignee_id", "amount_requested_cents", "id"],
    "ix_cases_queue_assignee_opened": ["assignee_id", "opened_on", "id"],
    "ix_cases_queue_assignee_customer": ["assignee_id", "customer_name", "id"],
}
KEYS = ("due_on", "amount_requested_cents", "opened_on")
SEARCH_INDEXES = {
    "ix_queue_search_due": "due_on, case_id",
    "ix_queue_search_amount": "amount_requested_cents, case_id",
    "ix_queue_search_opened": "opened_on, case_id",
}

FILL = (
    "INSERT INTO queue_search (case_id, name, email, due_on, amount_requested_cents, opened_on) "
    "SELECT c.id, cu.name, cu.email, c.due_on, c.amount_requested_cents, c.opened_on FROM cases c "
    "JOIN customers cu ON cu.id = c.customer_id WHERE c.status <> 'closed'"
)

SQLITE_TABLE = (
    "CREATE TABLE queue_search (case_id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL, "
    "email VARCHAR(254) NOT NULL, due_on DATE NOT NULL, amount_requested_cents INTEGER NOT NULL, "
    "opened_on DATE NOT NULL, folded TEXT GENERATED ALWAYS AS (lower(name || char(10) || email)) STORED)"
)
_CASE_ROW = (
    "INSERT INTO queue_search (case_id, name, email, due_on, amount_requested_cents, opened_on) "
    "SELECT NEW.id, name, email, NEW.due_on, NEW.amount_requested_cents, NEW.opened_on FROM customers "
)
SQLITE_TRIGGERS = {
    # the full-text index follows its content table (FTS5 external content: 'delete' needs the old values)
    "queue_search_fts_insert": (
        "AFTER INSERT ON queue_search BEGIN "
        "INSERT INTO queue_search_fts (rowid, name, email) VALUES (NEW.case_id, NEW.name, NEW.email); END"
    ),
    "queue_search_fts_delete": (
        "AFTER DELETE ON queue_search BEGIN INSERT INTO queue_search_fts (queue_search_fts, rowid, name, email) "
        "VALUES ('delete', OLD.case_id, OLD.name, OLD.email); END"
    ),
    "queue_search_fts_update": (
        "AFTER UPDATE OF name, email ON queue_search BEGIN "
        "INSERT INTO queue_search_fts (queue_search_fts, rowid, name, email) "
        "VALUES ('delete', OLD.case_id, OLD.name, OLD.email); "
        "INSERT INTO queue_search_fts (rowid, name, email) VALUES (NEW.case_id, NEW.name, NEW.email); END"
    ),
    # the open cases (as in 0011, with the sort keys)
    "queue_search_insert": (
        f"AFTER INSERT ON cases WHEN NEW.status <> 'closed' BEGIN {_CASE_ROW} WHERE id = NEW.customer_id; END"
    ),
    "queue_search_update": (
        "AFTER UPDATE OF status, customer_id ON cases WHEN (OLD.status = 'closed') <> (NEW.status = 'closed') "
        "OR OLD.customer_id <> NEW.customer_id BEGIN "
        "DELETE FROM queue_search WHERE case_id = OLD.id; "
        f"{_CASE_ROW} WHERE id = NEW.customer_id AND NEW.status <> 'closed'; END"
    ),
    "queue_search_keys": (
        "AFTER UPDATE OF due_on, amount_requested_cents, opened_on ON cases WHEN NEW.status <> 'closed' AND "
        "(OLD.due_on IS NOT NEW.due_on OR OLD.amount_requested_cents IS NOT NEW.amount_requested_cents "
        "OR OLD.opened_on IS NOT NEW.opened_on) BEGIN "
        "UPDATE queue_search SET due_on = NEW.due_on, amount_requested_cents = NEW.amount_requested_cents, "
        "opened_on = NEW.opened_on WHERE case_id = NEW.id; END"
    ),
    "queue_search_delete": (
        "AFTER DELETE ON cases WHEN OLD.status <> 'closed' BEGIN DELETE FROM queue_search WHERE case_id = OLD.id; END"
    ),
    "queue_search_customer": (
        "AFTER UPDATE OF name, email ON customers BEGIN "
        "UPDATE queue_search SET name = NEW.name, email = NEW.email WHERE case_id IN "
        "(SELECT id FROM cases WHERE customer_id = NEW.id AND status <> 'closed'); END"
    ),
}

# PostgreSQL: `folded` is written by a trigger, not GENERATED: a generated column refuses a plain
# INSERT ... SELECT * of the table (the test suite's template copies, a restore by hand)
PG_FOLDED = "lower({row}.name || E'\\n' || {row}.email)"
PG_FOLDED_TRIGGER = (
    "CREATE TRIGGER queue_search_folded BEFORE INSERT OR UPDATE OF name, email ON queue_search "
    "FOR EACH ROW EXECUTE FUNCTION queue_search_folded()"
)
PG_FUNCTIONS = {
    "queue_search_case": (
        "BEGIN "
        "IF TG_OP IN ('UPDATE', 'DELETE') THEN DELETE FROM queue_search WHERE case_id = OLD.id; END IF; "
        "IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'closed' THEN "
        "INSERT INTO queue_search (case_id, name, email, due_on, amount_requested_cents, opened_on) "
        "SELECT NEW.id, name, email, NEW.due_on, NEW.amount_requested_cents, NEW.opened_on FROM customers "
        "WHERE id = NEW.customer_id; END IF; "
        "RETURN NULL; END"
    ),
    "queue_search_folded": f"BEGIN NEW.folded := {PG_FOLDED.format(row='NEW')}; RETURN NEW; END",
    "queue_search_keys": (
        "BEGIN UPDATE queue_search SET due_on = NEW.due_on, amount_requested_cents = NEW.amount_requested_cents, "
        "opened_on = NEW.opened_on WHERE case_id = NEW.id; RETURN NULL; END"
    ),
}
PG_KEYS_TRIGGER = (
    "CREATE TRIGGER queue_search_keys AFTER UPDATE OF due_on, amount_requested_cents, opened_on ON cases "
    "FOR EACH ROW WHEN (NEW.status <> 'closed' AND (OLD.due_on IS DISTINCT FROM NEW.due_on OR "
    "OLD.amount_requested_cents IS DISTINCT FROM NEW.amount_requested_cents OR "
    "OLD.opened_on IS DISTINCT FROM NEW.opened_on)) EXECUTE FUNCTION queue_search_keys()"
)
# 0011's function, put back by the downgrade
PG_CASE_0011 = (
    "BEGIN "
    "IF TG_OP IN ('UPDATE', 'DELETE') THEN DELETE FROM queue_search WHERE case_id = OLD.id; END IF; "
    "IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status <> 'closed' THEN "
    "INSERT INTO queue_search (case_id, name, email) SELECT NEW.id, name, email FROM customers "
    "WHERE id = NEW.customer_id; END IF; "
    "RETURN NULL; END"
)


def _migration_0011():
    """Migration 0011's module (its SQLite triggers and fill, put back by the downgrade): not a package."""
    path = Path(__file__).with_name("0011_queue_search.py")
    spec = importlib.util.spec_from_file_location("_refund_desk_migration_0011", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(name: str, body: str) -> None:
    op.execute(f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name, columns in ASSIGNEE_INDEXES.items():
        op.create_index(name, "cases", columns, sqlite_where=OPEN, postgresql_where=OPEN)
    if dialect == "sqlite":
        for name in _migration_0011().SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE queue_search")  # 0011's FTS5 table
        op.execute(SQLITE_TABLE)
        op.execute(FILL)
        op.execute(
            "CREATE VIRTUAL TABLE queue_search_fts USING fts5(name, email, content='queue_search', "
            "content_rowid='case_id', tokenize='trigram')"
        )
        op.execute("INSERT INTO queue_search_fts (queue_search_fts) VALUES ('rebuild')")
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        for name, columns in {**SEARCH_INDEXES, "ix_queue_search_name": "name, case_id"}.items():
            op.execute(f"CREATE INDEX {name} ON queue_search ({columns})")
        op.execute("ANALYZE queue_search")
        return
    op.execute(
        "ALTER TABLE queue_search ADD COLUMN due_on DATE, ADD COLUMN amount_requested_cents BIGINT, "
        "ADD COLUMN opened_on DATE, ADD COLUMN folded TEXT"
    )
    op.execute(
        "UPDATE queue_search q SET due_on = c.due_on, amount_requested_cents = c.amount_requested_cents, "
        f"opened_on = c.opened_on, folded = {PG_FOLDED.format(row='q')} FROM cases c WHERE c.id = q.case_id"
    )
    for column in (*KEYS, "folded"):
        op.execute(f"ALTER TABLE queue_search ALTER COLUMN {column} SET NOT NULL")
    for name, columns in {**SEARCH_INDEXES, "ix_queue_search_name": 'name COLLATE "C", case_id'}.items():
        op.execute(f"CREATE INDEX {name} ON queue_search ({columns})")
    for name, body in PG_FUNCTIONS.items():
        _function(name, body)
    op.execute(PG_KEYS_TRIGGER)
    op.execute(PG_FOLDED_TRIGGER)
    op.execute("ANALYZE queue_search")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        m0011 = _migration_0011()
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE queue_search_fts")
        op.execute("DROP TABLE queue_search")
        op.execute("CREATE VIRTUAL TABLE queue_search USING fts5(name, email, tokenize='trigram')")
        op.execute(m0011.FILL.format(id="rowid"))
        for name, body in m0011.SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
    else:
        op.execute("DROP TRIGGER IF EXISTS queue_search_keys ON cases")
        op.execute("DROP FUNCTION IF EXISTS queue_search_keys()")
        op.execute("DROP TRIGGER IF EXISTS queue_search_folded ON queue_search")
        op.execute("DROP FUNCTION IF EXISTS queue_search_folded()")
        _function("queue_search_case", PG_CASE_0011)
        for name in (*SEARCH_INDEXES, "ix_queue_search_name"):
            op.execute(f"DROP INDEX IF EXISTS {name}")
        op.execute(
            "ALTER TABLE queue_search DROP COLUMN folded, DROP COLUMN due_on, DROP COLUMN amount_requested_cents, "
            "DROP COLUMN opened_on"
        )
    for name in ASSIGNEE_INDEXES:
        op.drop_index(name, table_name="cases")
