"""Documents on a case, reply templates, and the outbox (issue 13).

- ``documents``: one row per distinct file content (sha256 unique: the same file uploaded twice is stored
  once), the bytes in the case database so a backup holds them.
- ``case_documents``: which case a document is on, under which name, who added it and when; removal hides the
  link (``hidden``), it never deletes: the audit trail keeps the file.
- ``reply_templates``: per-outcome reply templates, versioned (a new row per edit; the newest is in force).
- ``outbox``: messages to deliver (customer replies by SMTP, billing webhooks), written in the transaction of
  the action that caused them and delivered by ``python -m desk.outbox``.

Revision ID: 0008
Revises: 0003 (the lead re-chains it after 0004-0007)
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("media_type", sa.String(40), nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("sha256", name="uq_documents_sha256"),
        sa.CheckConstraint("size_bytes > 0", name="ck_documents_size_positive"),
    )
    op.create_table(
        "case_documents",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("case_id", BIG_ID, sa.ForeignKey("cases.id", name="fk_case_documents_case_id_cases"), nullable=False),
        sa.Column(
            "document_id", BIG_ID, sa.ForeignKey("documents.id", name="fk_case_documents_document_id_documents"),
            nullable=False,
        ),
        sa.Column("file_name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("added_by_id", sa.Integer, sa.ForeignKey("users.id", name="fk_case_documents_added_by_id_users")),
        sa.Column("added_by", sa.String(254), nullable=False),
        sa.Column("added_at", sa.DateTime, nullable=False),
        sa.Column("hidden", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("hidden_by", sa.String(254)),
        sa.Column("hidden_at", sa.DateTime),
        sa.UniqueConstraint("case_id", "document_id", name="uq_case_documents_case_id"),
    )
    op.create_table(
        "reply_templates",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("outcome", "version", name="uq_reply_templates_outcome"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", BIG_ID, primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),  # email | webhook
        sa.Column("status", sa.String(16), nullable=False),  # queued | sending | sent | failed | by_hand
        sa.Column("case_id", BIG_ID, sa.ForeignKey("cases.id", name="fk_outbox_case_id_cases")),
        sa.Column("decision_id", BIG_ID, sa.ForeignKey("decisions.id", name="fk_outbox_decision_id_decisions")),
        sa.Column("dedupe_key", sa.String(200), nullable=False),  # Message-ID / webhook idempotency key
        sa.Column("recipient", sa.String(1000), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False, server_default=""),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_attempt_at", sa.DateTime, nullable=False),
        sa.Column("lease_until", sa.DateTime),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("sent_at", sa.DateTime),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        sa.CheckConstraint("kind IN ('email', 'webhook')", name="ck_outbox_kind"),
        sa.CheckConstraint(
            "status IN ('queued', 'sending', 'sent', 'failed', 'by_hand')", name="ck_outbox_status"
        ),
    )
    op.create_index("ix_outbox_due", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_case", "outbox", ["case_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_case", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
    op.drop_table("reply_templates")
    op.drop_table("case_documents")
    op.drop_table("documents")
