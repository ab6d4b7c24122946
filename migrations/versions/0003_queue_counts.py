"""A covering partial index for the open-case queue's filter counts.

The queue shows how many open cases match the current filter. With this index the count is answered
from the index alone (measured on the 1M-case demo: all open cases 14.7 -> 2.2 ms, reason + unassigned
13.3 -> 0.6 ms on SQLite; see docs/queue.md).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ["due_on", "status", "service_type", "reason", "assignee_id", "amount_requested_cents"]
OPEN = sa.text("status <> 'closed'")


def upgrade() -> None:
    op.create_index("ix_cases_queue_cover", "cases", COLUMNS, sqlite_where=OPEN, postgresql_where=OPEN)


def downgrade() -> None:
    op.drop_index("ix_cases_queue_cover", table_name="cases")
