"""Typed SQLAlchemy 2.0 models of the refund desk's case database.

Money is stored as integer cents (exact, and cheap to aggregate on both SQLite and PostgreSQL).
This module imports nothing from policy/, desk/ or streamlit.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    text,
)
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SERVICE_TYPES = ("technical_support", "software_update", "online_service", "subscription")
SERVICE_STATUSES = ("not_started", "in_progress", "completed")
CYCLES = ("monthly", "annual")
CHANNELS = ("email", "phone")
REASONS = (
    "our_error",
    "technical_issue",
    "billing_error",
    "user_error",
    "changed_requirements",
    "usage_after_completion",
    "unused_subscription",
    "dissatisfied",
)
CASE_STATUSES = ("open", "awaiting_approval", "closed")
OUTCOMES = ("fix", "full_refund", "partial_refund", "credit", "deny")
APPROVAL_STATUSES = ("not_required", "pending", "approved", "rejected")
ROLES = ("reviewer", "manager", "admin")

# Knowledge every layer needs, defined once here because data/ imports neither desk/ nor policy/:
# A decision counts (in analytics, the home page, the replay, billing, the reply) when it is not superseded
# and needs no approval or was approved; a pending or rejected exception does not (`Decision.counts`).
EFFECTIVE_APPROVAL_STATUSES = ("not_required", "approved")
# A case's internal due date: `due_on` = `opened_on` + DUE_DAYS (the generator and the importer set it).
DUE_DAYS = 14
# The service columns a verdict needs (desk.facts maps them to the policy's facts): what the service is and
# what it cost, then when it ran.
SERVICE_TERM_COLUMNS = (
    "purchased_on",
    "scheduled_on",
    "initiated_on",
    "completed_on",
    "cycle",
    "cycle_start",
    "cycle_end",
    "cancelled_on",
)
VERDICT_SERVICE_COLUMNS = ("service_type", "status", "price_cents", *SERVICE_TERM_COLUMNS)
# The policy's service date, by service status: the column that holds it (a subscription: always cycle_start).
SERVICE_DATE_COLUMN = {"completed": "completed_on", "in_progress": "initiated_on", "not_started": "scheduled_on"}

# One naming convention so Alembic migrations name constraints identically on every backend.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Service(Base):
    """Everything the company sold, refunded or not: the denominator of every refund rate."""

    __tablename__ = "services"
    __table_args__ = (
        CheckConstraint(_in("service_type", SERVICE_TYPES), name="service_type"),
        CheckConstraint(_in("status", SERVICE_STATUSES), name="status"),
        CheckConstraint("cycle IS NULL OR " + _in("cycle", CYCLES), name="cycle"),
        CheckConstraint("price_cents >= 0", name="price_nonnegative"),
        CheckConstraint(
            "(service_type = 'subscription') = (cycle IS NOT NULL AND cycle_start IS NOT NULL"
            " AND cycle_end IS NOT NULL)",
            name="subscription_fields",
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    service_type: Mapped[str] = mapped_column(String(24))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default="USD")
    status: Mapped[str] = mapped_column(String(16))
    purchased_on: Mapped[date] = mapped_column(Date)
    scheduled_on: Mapped[date | None] = mapped_column(Date)
    initiated_on: Mapped[date | None] = mapped_column(Date)
    completed_on: Mapped[date | None] = mapped_column(Date)
    cycle: Mapped[str | None] = mapped_column(String(8))
    cycle_start: Mapped[date | None] = mapped_column(Date)
    cycle_end: Mapped[date | None] = mapped_column(Date)
    cancelled_on: Mapped[date | None] = mapped_column(Date)


class SalesDaily(Base):
    """Rollup of services sold per day and type, maintained with the services table.

    Refund rates divide by services sold; counting ten million service rows per chart would be
    slow, so every writer of `services` (generator, importer) adds its rows here in the same
    transaction (see data/rollup.py).
    """

    __tablename__ = "sales_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    service_type: Mapped[str] = mapped_column(String(24), primary_key=True)
    services_sold: Mapped[int] = mapped_column(BigInteger)
    revenue_cents: Mapped[int] = mapped_column(BigInteger)


QUEUE_SORT_INDEXES = {
    "ix_cases_queue_amount": ("amount_requested_cents", "id"),
    "ix_cases_queue_opened": ("opened_on", "id"),
    "ix_cases_queue_customer": ("customer_name", "id"),
    "ix_cases_queue_assignee": ("assignee_id", "due_on", "id"),
    # "my cases" in the other sort orders (migration 0013)
    "ix_cases_queue_assignee_amount": ("assignee_id", "amount_requested_cents", "id"),
    "ix_cases_queue_assignee_opened": ("assignee_id", "opened_on", "id"),
    "ix_cases_queue_assignee_customer": ("assignee_id", "customer_name", "id"),
}


class Case(Base):
    """A refund request about one service."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("reason", REASONS), name="reason"),
        CheckConstraint(_in("status", CASE_STATUSES), name="status"),
        CheckConstraint("amount_requested_cents >= 0", name="amount_nonnegative"),
        CheckConstraint("version >= 1", name="version_positive"),
        # The open-case queue: overdue first, keyset-paged on (due_on, id); partial so it stays small.
        Index(
            "ix_cases_queue",
            "due_on",
            "id",
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        # Filter counts of the queue answered from the index alone (migration 0003).
        Index(
            "ix_cases_queue_cover",
            "due_on",
            "status",
            "service_type",
            "reason",
            "assignee_id",
            "amount_requested_cents",
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_cases_opened", "opened_on", "service_type", "reason"),
        Index("ix_cases_service", "service_id"),
        # Analytics: the backlog by age, covered, over open cases only (migration 0002).
        Index(
            "ix_cases_backlog",
            "opened_on",
            "service_type",
            "reason",
            "assignee_id",
            "due_on",
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        # One index per queue sort, over open cases, keyset-paged on (key, id) (migration 0009).
        *(
            Index(name, *columns, sqlite_where=text("status <> 'closed'"), postgresql_where=text("status <> 'closed'"))
            for name, columns in QUEUE_SORT_INDEXES.items()
        ),
        # The customer's history on the case page (migration 0009).
        Index("ix_cases_customer", "customer_id", "opened_on"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    # The customer's name, copied by database triggers (migration 0009) so the queue can sort by it with an
    # index; never written by Python code.
    customer_name: Mapped[str | None] = mapped_column(String(200))
    # Copied from the service at creation (it never changes) so queue and analytics avoid a join.
    service_type: Mapped[str] = mapped_column(String(24))
    opened_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    amount_requested_cents: Mapped[int] = mapped_column(BigInteger)
    documentation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fix_attempted: Mapped[bool] = mapped_column(Boolean, default=False)
    fix_succeeded: Mapped[bool | None] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), default="open")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    due_on: Mapped[date] = mapped_column(Date)
    decided_on: Mapped[date | None] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class Decision(Base):
    """A reviewer's decision on a case, with the verdict it was made against (a snapshot)."""

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint(_in("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_in("recommended_outcome", OUTCOMES), name="recommended_outcome"),
        CheckConstraint(_in("approval_status", APPROVAL_STATUSES), name="approval_status"),
        CheckConstraint("amount_cents >= 0", name="amount_nonnegative"),
        # Four eyes: whoever approves an exception is never who decided it.
        CheckConstraint("approver_id IS NULL OR approver_id <> decided_by_id", name="approver_not_decider"),
        Index("ix_decisions_month", "decided_on", "service_type", "reason", "outcome"),
        Index("ix_decisions_reviewer", "decided_by_id", "decided_on"),
        Index("ix_decisions_case", "case_id"),
        Index(
            "ix_decisions_pending",
            "decided_at",
            sqlite_where=text("approval_status = 'pending'"),
            postgresql_where=text("approval_status = 'pending'"),
        ),
        # Analytics: the newest discretionary exceptions first (migration 0002).
        Index(
            "ix_decisions_exception",
            "decided_on",
            sqlite_where=text("is_exception = 1"),
            postgresql_where=text("is_exception"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    rationale: Mapped[str] = mapped_column(Text, default="")
    decided_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(DateTime)
    decided_on: Mapped[date] = mapped_column(Date)
    # Copied from the case so analytics aggregate decisions without joins.
    service_type: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[str] = mapped_column(String(32))
    recommended_outcome: Mapped[str] = mapped_column(String(16))
    verdict: Mapped[dict[str, Any]] = mapped_column(JSON)
    is_exception: Mapped[bool] = mapped_column(Boolean, default=False)
    approval_status: Mapped[str] = mapped_column(String(16), default="not_required")
    approver_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    approval_note: Mapped[str | None] = mapped_column(Text)
    # Only the current decision of a case counts; a rejected exception is superseded by the next one.
    superseded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Above the approval limit of its currency (migration 0009): waits for a manager like an exception.
    over_limit: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    @hybrid_property
    def counts(self) -> bool:
        """Does this decision count? Not superseded, and no approval needed or approved (in SQL as well:
        `select(...).where(Decision.counts)`)."""
        return not self.superseded and self.approval_status in EFFECTIVE_APPROVAL_STATUSES

    @counts.inplace.expression
    @classmethod
    def _counts_expression(cls):
        return and_(cls.superseded.is_(False), cls.approval_status.in_(EFFECTIVE_APPROVAL_STATUSES))


class SavedView(Base):
    """A queue view a person saved: its name and the filters and sort (migration 0009)."""

    __tablename__ = "saved_views"
    __table_args__ = (
        UniqueConstraint("user_id", "name", name="uq_saved_views_user_id"),
        CheckConstraint("length(trim(name)) > 0", name="name_not_blank"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CasePresence(Base):
    """Who has a case open, for the case page's "Li Wei opened this case 2 minutes ago" (migration 0009).
    Overwritten, not appended: one row per case and person."""

    __tablename__ = "case_presence"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime)


class ApprovalLimit(Base):
    """Refunds and credits above this amount of the currency need a manager's approval (migration 0009; a
    trigger on decisions enforces it)."""

    __tablename__ = "approval_limits"
    __table_args__ = (CheckConstraint("limit_cents >= 0", name="limit_nonnegative"),)

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    limit_cents: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class DeskSetting(Base):
    """A setting an admin sets (migration 0009), e.g. the frequent-requester threshold; value as JSON."""

    __tablename__ = "desk_settings"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class CaseEvent(Base):
    """Append-only audit trail. UPDATE and DELETE are refused by database triggers."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(254))
    at: Mapped[datetime] = mapped_column(DateTime)
    kind: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), unique=True)


# ---- analytics rollups (migration 0002) -------------------------------------------------------------
# Derived tables, maintained by database triggers on `decisions` and `cases` (SQLite and PostgreSQL), so
# every writer — the desk, the importer, plain SQL — keeps them right without knowing they exist. They are
# read with SQLAlchemy Core by desk/analytics.py and never written by Python code, hence plain Tables.
# Each fact is counted once per grain: its day, the Monday of its week and the first of its month, so a
# date range is answered from whole months (or weeks) plus the days at its edges.

LEAD_DAYS_MAX = 30  # time-to-decision histogram: exact days 0..30, then one bucket for 31 days or more
LEAD_COLUMNS = tuple(f"lead_{d:02d}" for d in range(LEAD_DAYS_MAX + 1)) + ("lead_31p",)


def _grain_key() -> list[Column]:
    return [
        Column("grain", String(5), primary_key=True),
        Column("period", Date, primary_key=True),  # the day, the Monday of its week, or the 1st of its month
    ]


decision_rollup = Table(
    "decision_rollup",
    Base.metadata,
    *_grain_key(),
    Column("service_type", String(24), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("decided_by_id", Integer, primary_key=True),
    Column("policy_version", String(32), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("recommended_outcome", String(16), primary_key=True),
    Column("is_exception", Boolean, primary_key=True),
    Column("approval_status", String(16), primary_key=True),
    Column("superseded", Boolean, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("decisions", BigInteger, nullable=False),  # decision rows (of decided_on in the period)
    Column("amount_cents", BigInteger, nullable=False),  # their amounts, summed
    CheckConstraint("grain IN ('day', 'week', 'month')", name="grain"),
    sqlite_with_rowid=False,
)

# `decision_rollup` summed over reason, reviewer and policy version (migration 0014): what the analytics
# page reads for the questions that need none of those and have no reason or reviewer filter.
decision_state_rollup = Table(
    "decision_state_rollup",
    Base.metadata,
    *_grain_key(),
    Column("service_type", String(24), primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("recommended_outcome", String(16), primary_key=True),
    Column("is_exception", Boolean, primary_key=True),
    Column("approval_status", String(16), primary_key=True),
    Column("superseded", Boolean, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("decisions", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    CheckConstraint("grain IN ('day', 'week', 'month')", name="grain"),
    sqlite_with_rowid=False,
)

# Time to decision of *effective* decisions (not superseded; approval not required or approved).
lead_time_rollup = Table(
    "lead_time_rollup",
    Base.metadata,
    *_grain_key(),
    Column("service_type", String(24), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("decided_by_id", Integer, primary_key=True),
    Column("decided", BigInteger, nullable=False),  # effective decisions
    Column("within_due", BigInteger, nullable=False),  # of them, decided on or before the case's due date
    # of them, decided N days after the case was opened (lead_31p: 31 days or more)
    *(Column(name, Integer, nullable=False) for name in LEAD_COLUMNS),
    CheckConstraint("grain IN ('day', 'week', 'month')", name="grain"),
    sqlite_with_rowid=False,
)

case_rollup = Table(
    "case_rollup",
    Base.metadata,
    *_grain_key(),  # of opened_on
    Column("service_type", String(24), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("opened", BigInteger, nullable=False),  # cases opened
    CheckConstraint("grain IN ('day', 'week', 'month')", name="grain"),
    sqlite_with_rowid=False,
)

# Services sold and revenue per purchase day, service type and currency (migration 0004), kept by triggers on
# `services`: revenue of different currencies is never summed. (`sales_daily` keeps the counts per day and type.)
sales_by_currency = Table(
    "sales_by_currency",
    Base.metadata,
    Column("day", Date, primary_key=True),
    Column("service_type", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("services_sold", BigInteger, nullable=False),
    Column("revenue_cents", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Decisions by the month their service was sold (the sale-month cohort; migration 0010), any decision date.
sale_month_rollup = Table(
    "sale_month_rollup",
    Base.metadata,
    Column("sale_month", Date, primary_key=True),
    Column("service_type", String(24), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("decided_by_id", Integer, primary_key=True),
    Column("outcome", String(16), primary_key=True),
    Column("approval_status", String(16), primary_key=True),
    Column("superseded", Boolean, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("decisions", BigInteger, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

# Effective decisions with the amounts requested, granted and paid in cash, per grain and currency of the
# case's service (migration 0010).
requested_rollup = Table(
    "requested_rollup",
    Base.metadata,
    *_grain_key(),
    Column("service_type", String(24), primary_key=True),
    Column("reason", String(32), primary_key=True),
    Column("decided_by_id", Integer, primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("decisions", BigInteger, nullable=False),
    Column("requested_cents", BigInteger, nullable=False),
    Column("granted_cents", BigInteger, nullable=False),
    Column("cash_cents", BigInteger, nullable=False),
    CheckConstraint("grain IN ('day', 'week', 'month')", name="grain"),
    sqlite_with_rowid=False,
)

# One row here pauses the rollup triggers for a bulk load; deleting it rebuilds the rollups (see
# data.bulk.rollups_paused and migration 0002).
rollup_pause = Table(
    "rollup_pause",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("note", String(200), nullable=False),
    CheckConstraint("id = 1", name="single_row"),
)


# ---- policy versions (migration 0007) ---------------------------------------------------------------

POLICY_VERSION_STATUSES = ("draft", "published", "withdrawn", "discarded")
POLICY_VERSION_ORIGINS = ("file", "desk", "demo")


class StoredPolicyVersion(Base):
    """A policy version as the desk stores it: its TOML text (the same as policy/versions/*.toml) and where
    it is in its life. Append-only: triggers refuse DELETE and any change to a published version except its
    withdrawal; one published version per effective date (a partial unique index)."""

    __tablename__ = "policy_versions"
    __table_args__ = (
        CheckConstraint(_in("status", POLICY_VERSION_STATUSES), name="status"),
        CheckConstraint(_in("origin", POLICY_VERSION_ORIGINS), name="origin"),
        CheckConstraint(
            "approved_by_id IS NULL OR created_by_id IS NULL OR approved_by_id <> created_by_id",
            name="approver_not_author",
        ),
        CheckConstraint("status = 'draft' OR status = 'discarded' OR published_at IS NOT NULL", name="published_at"),
        Index(
            "ux_policy_versions_published_day",
            "effective_from",
            unique=True,
            sqlite_where=text("status = 'published'"),
            postgresql_where=text("status = 'published'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    effective_from: Mapped[date] = mapped_column(Date)
    window_days: Mapped[int] = mapped_column(Integer)
    toml: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    origin: Mapped[str] = mapped_column(String(8))
    based_on: Mapped[str | None] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime)


# ---- documents, reply templates, outbox (migration 0008) ------------------------------------------------------

OUTBOX_KINDS = ("email", "webhook")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed", "by_hand")


class Document(Base):
    """One distinct file content (the same bytes uploaded twice are stored once)."""

    __tablename__ = "documents"
    __table_args__ = (CheckConstraint("size_bytes > 0", name="size_positive"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    media_type: Mapped[str] = mapped_column(String(40))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)


class CaseDocument(Base):
    """A document on a case. Removal hides it (kept for the audit trail)."""

    __tablename__ = "case_documents"
    __table_args__ = (UniqueConstraint("case_id", "document_id", name="uq_case_documents_case_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_by: Mapped[str] = mapped_column(String(254))
    added_at: Mapped[datetime] = mapped_column(DateTime)
    hidden: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    hidden_by: Mapped[str | None] = mapped_column(String(254))
    hidden_at: Mapped[datetime | None] = mapped_column(DateTime)


class ReplyTemplate(Base):
    """A version of the reply template of one outcome; the highest version is in force."""

    __tablename__ = "reply_templates"
    __table_args__ = (UniqueConstraint("outcome", "version", name="uq_reply_templates_outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    outcome: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class OutboxMessage(Base):
    """A message to deliver: a customer reply (email) or a billing webhook. See desk/outbox.py."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_in("kind", OUTBOX_KINDS), name="kind"),
        CheckConstraint(_in("status", OUTBOX_STATUSES), name="status"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
        Index("ix_outbox_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    decision_id: Mapped[int | None] = mapped_column(ForeignKey("decisions.id"))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    recipient: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    body: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
