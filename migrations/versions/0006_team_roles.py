"""A settled decision stays as it was published, even for the app's own database role; writes notify every
app server (PostgreSQL).

The desk runs on PostgreSQL as an app role that may UPDATE decisions only to settle a pending exception
(`data/pg_roles.py` grants it the approval columns and `superseded`, nothing else). Row-level security
narrows that to rows still pending: once a decision is approved, rejected or needed no approval, the app
role can neither change its approval nor delete it. The owner role (migrations, maintenance) is not subject
to these policies; SQLite has no roles, so this revision does nothing there.

Several app servers on one database: every statement that adds audit events (every desk write, imports,
the generator) sends `NOTIFY refund_desk_changed, '<schema>'` at commit; each server listens
(ui/changes.py) and clears its cached queue, home and analytics numbers at once.

Revision ID: 0006
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICIES = {
    "decisions_read": "FOR SELECT USING (true)",
    "decisions_add": "FOR INSERT WITH CHECK (true)",
    # Only a pending exception may be settled; what it becomes is checked by the desk and the constraints.
    "decisions_settle_pending": "FOR UPDATE USING (approval_status = 'pending') WITH CHECK (true)",
    # No DELETE policy: a role under row-level security deletes no decision at all.
}
CHANNEL = "refund_desk_changed"  # ui/changes.py listens on it


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE decisions ENABLE ROW LEVEL SECURITY")
    for name, body in POLICIES.items():
        op.execute(f"CREATE POLICY {name} ON decisions {body}")
    op.execute(
        "CREATE FUNCTION refund_desk_notify_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"BEGIN PERFORM pg_notify('{CHANNEL}', TG_TABLE_SCHEMA); RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER case_events_notify AFTER INSERT ON case_events "
        "FOR EACH STATEMENT EXECUTE FUNCTION refund_desk_notify_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS case_events_notify ON case_events")
    op.execute("DROP FUNCTION IF EXISTS refund_desk_notify_change()")
    for name in POLICIES:
        op.execute(f"DROP POLICY IF EXISTS {name} ON decisions")
    op.execute("ALTER TABLE decisions DISABLE ROW LEVEL SECURITY")
