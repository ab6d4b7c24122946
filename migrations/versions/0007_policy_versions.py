"""Policy versions in the case database: drafts, published versions, withdrawals (issue 14).

Append-only like the audit trail: no row is ever deleted, and a published version's content never changes
(triggers on SQLite and PostgreSQL refuse it). The one change a published row accepts is its withdrawal
(status -> 'withdrawn', with who and when), and a withdrawn or discarded row accepts none. Drafts are edited
in place until they are published or discarded. One published version per effective date (a partial unique
index), so two managers publishing for the same day at once cannot both succeed. The TOML versions of
policy/versions are stored on the desk's first run (desk.policy_store.sync_files), not here: the directory
is configurable ($REFUND_DESK_POLICY_DIR).

Revision ID: 0007
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REFUSAL = "policy_versions: a published version never changes and no version is deleted"
PUBLISHED = sa.text("status = 'published'")
# Columns a published version keeps forever (a withdrawal changes status, withdrawn_by_id, withdrawn_at).
FROZEN = ("name", "effective_from", "window_days", "toml", "content_hash", "origin", "based_on",
          "created_by_id", "created_at", "approved_by_id", "published_at", "revision")


def upgrade() -> None:
    op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("toml", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("based_on", sa.String(length=32), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("approved_by_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("withdrawn_by_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'published', 'withdrawn', 'discarded')", name=op.f("ck_policy_versions_status")
        ),
        sa.CheckConstraint("origin IN ('file', 'desk', 'demo')", name=op.f("ck_policy_versions_origin")),
        sa.CheckConstraint(
            "approved_by_id IS NULL OR created_by_id IS NULL OR approved_by_id <> created_by_id",
            name=op.f("ck_policy_versions_approver_not_author"),
        ),
        sa.CheckConstraint(
            "status = 'draft' OR status = 'discarded' OR published_at IS NOT NULL",
            name=op.f("ck_policy_versions_published_at"),
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_policy_versions_created_by_id_users")),
        sa.ForeignKeyConstraint(["approved_by_id"], ["users.id"], name=op.f("fk_policy_versions_approved_by_id_users")),
        sa.ForeignKeyConstraint(
            ["withdrawn_by_id"], ["users.id"], name=op.f("fk_policy_versions_withdrawn_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policy_versions")),
        sa.UniqueConstraint("name", name=op.f("uq_policy_versions_name")),
    )
    op.create_index(
        "ux_policy_versions_published_day", "policy_versions", ["effective_from"], unique=True,
        sqlite_where=PUBLISHED, postgresql_where=PUBLISHED,
    )
    _create_triggers()


def _create_triggers() -> None:
    if op.get_bind().dialect.name == "sqlite":
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in FROZEN)
        op.execute(
            "CREATE TRIGGER policy_versions_no_delete BEFORE DELETE ON policy_versions "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )
        op.execute(
            "CREATE TRIGGER policy_versions_frozen BEFORE UPDATE ON policy_versions "
            f"WHEN OLD.status <> 'draft' AND NOT (OLD.status = 'published' AND NEW.status = 'withdrawn' AND {same}) "
            f"BEGIN SELECT RAISE(ABORT, '{REFUSAL}'); END"
        )
    else:
        same = " AND ".join(f"NEW.{c} IS NOT DISTINCT FROM OLD.{c}" for c in FROZEN)
        op.execute(
            "CREATE FUNCTION policy_versions_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF TG_OP = 'UPDATE' AND (OLD.status = 'draft' OR "
            f"(OLD.status = 'published' AND NEW.status = 'withdrawn' AND {same})) THEN RETURN NEW; END IF; "
            f"RAISE EXCEPTION '{REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER policy_versions_frozen BEFORE UPDATE OR DELETE ON policy_versions "
            "FOR EACH ROW EXECUTE FUNCTION policy_versions_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions "
            "FOR EACH STATEMENT EXECUTE FUNCTION policy_versions_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS policy_versions_no_delete")
        op.execute("DROP TRIGGER IF EXISTS policy_versions_frozen")
    else:
        op.execute("DROP TRIGGER IF EXISTS policy_versions_frozen ON policy_versions")
        op.execute("DROP TRIGGER IF EXISTS policy_versions_no_truncate ON policy_versions")
        op.execute("DROP FUNCTION IF EXISTS policy_versions_refuse_change()")
    op.drop_index("ux_policy_versions_published_day", table_name="policy_versions")
    op.drop_table("policy_versions")
