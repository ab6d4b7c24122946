"""The monthly review's late changes: a covering partial index of the decisions a manager answered.

Three numbers of the analytics page read the decisions that were approved or rejected (docs/metrics.md):
the approvals and rejections per manager with the hours to answer, the time to close including the
approval wait, and the "restated" months (a month whose numbers changed after it ended, because an
answer or a supersede came later). They are a few percent of all decisions (15,000 of the 536,000 of a
year at a million cases). Without this index, reading them meant the exceptions index and then one table
lookup per row (275 ms at a million cases on SQLite); with it they are one index-only range scan.

`ix_decisions_answered` covers (decided_on, is_exception, approval_status, superseded, approver_id,
decided_by_id, service_type, reason, decided_at, approved_at, case_id) of the rows with `approved_at IS NOT NULL`.
`ix_decisions_superseded` indexes (decided_on, case_id) of the superseded decisions (reopened cases,
rejected exceptions followed by a new decision), which the restated months look at.

No data changes, nothing to fill: data.generate needs nothing new.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ANSWERED = (
    "decided_on",
    "is_exception",
    "approval_status",
    "superseded",
    "approver_id",
    "decided_by_id",
    "service_type",
    "reason",
    "decided_at",
    "approved_at",
    "case_id",
)


def upgrade() -> None:
    op.create_index(
        "ix_decisions_answered",
        "decisions",
        list(ANSWERED),
        sqlite_where=sa.text("approved_at IS NOT NULL"),
        postgresql_where=sa.text("approved_at IS NOT NULL"),
    )
    op.create_index(
        "ix_decisions_superseded",
        "decisions",
        ["decided_on", "case_id"],
        sqlite_where=sa.text("superseded = 1"),
        postgresql_where=sa.text("superseded"),
    )


def downgrade() -> None:
    op.drop_index("ix_decisions_superseded", table_name="decisions")
    op.drop_index("ix_decisions_answered", table_name="decisions")
