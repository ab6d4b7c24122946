"""Read side for the analytics page: SQL aggregates in, small DataFrames out. Never writes.

Every metric is defined in docs/metrics.md; this module is the one place that computes them.

How it stays fast at a million cases: the database keeps decisions and opened cases summed in rollups
(`decision_rollup`, `lead_time_rollup`, `case_rollup`; migration 0002, maintained by triggers) at three
grains — day, week (Monday) and month. `cover` answers a date range from its whole months, then whole
weeks, then loose days, so the default 12-month view reads some 20,000 rollup rows and never the
decisions, cases or services tables; denominators come from the `sales_by_currency` rollup. The SQL groups by
the few decision states (outcome, recommendation, exception, approval, superseded); `measures` and
`summarise` turn those small frames into the metrics, so a rate means the same on every tile, chart and
table.

Money is per currency (docs/metrics.md, "Currencies"): `Filters.currency` picks the currency of every
amount, revenue and value rate (the desk's reporting currency by default); counts and count rates are of
every currency; amounts of different currencies are never added (the rollups carry a currency, migration
0004), only shown side by side (`money_by_currency`).

Reviewers see only their own numbers: `scope` forces the reviewer filter to the actor, here in desk/, not
only in the page.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Date, Integer, and_, case, cast, func, or_, select, type_coerce
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import aliased

from data.db import Database
from data.models import (
    LEAD_COLUMNS,
    LEAD_DAYS_MAX,
    REASONS,
    SERVICE_TYPES,
    Case,
    CaseEvent,
    Decision,
    Service,
    User,
    case_rollup,
    decision_rollup,
    lead_time_rollup,
    requested_rollup,
    sale_month_rollup,
    sales_by_currency,
)
from desk.auth import Actor
from desk.errors import DatabaseNotReady, InvalidInput, NotAllowed
from desk.home import EFFECTIVE_APPROVAL_STATUSES as EFFECTIVE_STATUSES
from desk.money import DEFAULT_CURRENCY, MoneyError, check_currency
from policy import MONEY_OUTCOMES

# ---- vocabulary ------------------------------------------------------------------------------------------

CASH_OUTCOMES = ("full_refund", "partial_refund")
# Outcomes from least to most generous to the customer (docs/metrics.md, "Override direction").
GENEROSITY = ("deny", "fix", "credit", "partial_refund", "full_refund")
GRANULARITIES = ("month", "week")
STATE = ("outcome", "recommended_outcome", "is_exception", "approval_status", "superseded")
# Backlog age buckets (days since the case was opened, as of today): (label, lowest, highest or None).
AGE_BUCKETS = (
    ("0–2 days", 0, 2),
    ("3–7 days", 3, 7),
    ("8–14 days", 8, 14),
    ("15–30 days", 15, 30),
    ("31+ days", 31, None),
)
LEAD_CAPPED = LEAD_DAYS_MAX + 1  # a percentile of 31 means "31 days or more"
EXCEPTION_LIST_LIMIT = 500


# ---- filters and scope -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    """What the page asks for. Empty tuples mean "all". Dates are inclusive."""

    start: date
    end: date
    service_types: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    reviewers: tuple[int, ...] = ()
    granularity: str = "month"  # of the trend charts: "month" or "week"
    # Money figures (amounts, revenue, value rates) are of this currency only; counts are of every currency.
    currency: str = DEFAULT_CURRENCY
    # The desk time zone (IANA name): where a month ends, for the restated months (times are stored in UTC).
    zone: str = "UTC"

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The equal-length period just before this one (the KPI tiles' comparison)."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start - timedelta(days=1))


def default_filters(today: date, currency: str = DEFAULT_CURRENCY) -> Filters:
    """The last 12 months ending today: from the day after today's date one year ago, through today; money
    in `currency` (the desk's reporting currency)."""
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February
        year_ago = today.replace(year=today.year - 1, day=28)
    return Filters(start=year_ago + timedelta(days=1), end=today, currency=currency)


def validate(f: Filters) -> Filters:
    if f.start > f.end:
        raise InvalidInput("The start date is after the end date.", field="dates")
    if f.granularity not in GRANULARITIES:
        raise InvalidInput(f"Trends are by month or by week, not {f.granularity!r}.", field="granularity")
    unknown = set(f.service_types) - set(SERVICE_TYPES)
    if unknown:
        raise InvalidInput(f"Unknown service type: {', '.join(sorted(unknown))}.", field="service_types")
    unknown = set(f.reasons) - set(REASONS)
    if unknown:
        raise InvalidInput(f"Unknown reason: {', '.join(sorted(unknown))}.", field="reasons")
    try:
        ZoneInfo(f.zone)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"{f.zone!r} is not a time zone.", field="zone") from None
    try:
        currency = check_currency(f.currency)
    except MoneyError as exc:
        raise InvalidInput(f"Money is shown per currency: {exc}.", field="currency") from None
    return replace(
        f,
        currency=currency,
        service_types=tuple(sorted(set(f.service_types))),
        reasons=tuple(sorted(set(f.reasons))),
        reviewers=tuple(sorted(set(f.reviewers))),
    )


def scope(f: Filters, actor: Actor) -> Filters:
    """Who may see what: managers and admins everything; a reviewer only their own numbers."""
    if not actor.may("view_analytics"):
        raise NotAllowed("Analytics are for reviewers, managers and admins.")
    if not actor.may("view_all_analytics"):
        return replace(f, reviewers=(actor.id,))
    return f


@dataclass(frozen=True)
class Person:
    id: int
    name: str
    role: str
    active: bool


def people(db: Database, actor: Actor) -> list[Person]:
    """Who the reviewer filter can pick: everyone who decides cases (reviewers and managers), or only
    the actor themselves when they are a reviewer."""
    if not actor.may("view_analytics"):
        raise NotAllowed("Analytics are for reviewers, managers and admins.")
    with _reading(db) as conn:
        rows = conn.execute(
            select(User.id, User.display_name, User.role, User.active)
            .where(User.role.in_(("reviewer", "manager")))
            .order_by(User.active.desc(), User.display_name)
        ).all()
    found = [Person(r.id, r.display_name, r.role, bool(r.active)) for r in rows]
    if not actor.may("view_all_analytics"):
        found = [p for p in found if p.id == actor.id]
    return found


# ---- covering a date range with rollup grains -----------------------------------------------------------


def _unit_start(d: date, unit: str) -> date:
    return d.replace(day=1) if unit == "month" else d - timedelta(days=d.weekday())


def _next_unit(d: date, unit: str) -> date:
    if unit == "week":
        return d + timedelta(days=7)
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def _whole_units(start: date, end: date, unit: str) -> list[tuple[str, date, date]]:
    """[start, end] as its whole units (months or weeks) plus the loose days at either edge."""
    first = _unit_start(start, unit)
    if first < start:
        first = _next_unit(first, unit)
    last = _unit_start(end, unit)
    if _next_unit(last, unit) - timedelta(days=1) > end:  # the unit holding `end` is not whole
        last = _unit_start(last - timedelta(days=1), unit)
    if first > last:
        return [("day", start, end)]
    pieces = []
    if start < first:
        pieces.append(("day", start, first - timedelta(days=1)))
    pieces.append((unit, first, last))
    after = _next_unit(last, unit)
    if after <= end:
        pieces.append(("day", after, end))
    return pieces


def cover(start: date, end: date, unit: str) -> list[tuple[str, date, date]]:
    """Pieces (grain, first period, last period) that cover [start, end] exactly with as few rollup rows
    as possible, each piece inside one trend bucket of `unit`:

    - unit "week": whole weeks, and loose days at the edges;
    - unit "month": whole months; what is left at the edges, month by month, as whole weeks and loose days
      (a week is only used inside one month, so a monthly trend can bucket it by its Monday).
    """
    if unit == "week":
        return _whole_units(start, end, "week")
    pieces: list[tuple[str, date, date]] = []
    for grain, lo, hi in _whole_units(start, end, "month"):
        if grain == "month":
            pieces.append((grain, lo, hi))
            continue
        while lo <= hi:  # the loose days, split at month ends, then as weeks and days
            month_end = min(hi, _next_unit(_unit_start(lo, "month"), "month") - timedelta(days=1))
            pieces += _whole_units(lo, month_end, "week")
            lo = month_end + timedelta(days=1)
    return pieces


def _in_range(table, f: Filters, unit: str):
    return or_(*(and_(table.c.grain == g, table.c.period.between(lo, hi)) for g, lo, hi in cover(f.start, f.end, unit)))


# ---- SQL helpers -----------------------------------------------------------------------------------------


def _bucket(col, unit: str, dialect: str):
    """The month (1st) or week (Monday) a date falls in, as a date."""
    if dialect == "sqlite":
        expr = func.date(col, "start of month") if unit == "month" else func.date(col, "weekday 0", "-6 days")
        return type_coerce(expr, Date)
    return cast(func.date_trunc(unit, col), Date)


def _frame(conn: Connection, query) -> pd.DataFrame:
    result = conn.execute(query)
    columns = list(result.keys())
    # plain tuples: pandas probing SQLAlchemy Row objects attribute by attribute is slow
    return pd.DataFrame([tuple(row) for row in result], columns=columns)


def _schema_missing(exc: OperationalError | ProgrammingError) -> bool:
    """The analytics tables do not exist (SQLite's "no such table", PostgreSQL's undefined_table 42P01).
    Not any error whose SQL happens to name a rollup: a statement timeout on a rollup query is a timeout."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig if orig is not None else exc)


@contextmanager
def _reading(db: Database) -> Iterator[Connection]:
    """One read transaction (a consistent snapshot); a missing schema becomes DatabaseNotReady, every other
    database error (a statement timeout, a lost connection) goes on as it is, for the page to name it."""
    try:
        with db.engine.connect() as conn:
            yield conn
            conn.rollback()
    except (OperationalError, ProgrammingError) as exc:
        if _schema_missing(exc):
            raise DatabaseNotReady(
                "The analytics tables are missing: run the database migrations (`alembic upgrade head`, "
                "or restart with `make run`)."
            ) from exc
        raise


@dataclass
class Timer:
    """Milliseconds per named query, for the benchmark and the page's "how fresh" caption."""

    ms: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.ms[name] = self.ms.get(name, 0.0) + (time.perf_counter() - t0) * 1000


# ---- the queries ---------------------------------------------------------------------------------------


def _dims_where(table, f: Filters, unit: str, reviewers: bool = True):
    cond = [_in_range(table, f, unit)]
    if f.service_types:
        cond.append(table.c.service_type.in_(f.service_types))
    if f.reasons:
        cond.append(table.c.reason.in_(f.reasons))
    if f.reviewers and reviewers:
        cond.append(table.c.decided_by_id.in_(f.reviewers))
    return and_(*cond)


def _keys(table, by: Sequence[str], unit: str, dialect: str) -> list:
    return [_bucket(table.c.period, unit, dialect).label("bucket") if k == "bucket" else table.c[k] for k in by]


def decision_states(conn: Connection, f: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Decisions recorded in the period (by decided_on), counted per `by` (any of "bucket", service_type,
    reason, decided_by_id, policy_version, currency) and per decision state. Without "currency" in `by`,
    `amount_cents` sums the amounts of the decisions in `f.currency` only (the counts are of every
    currency); with it, each row's amounts are of its own currency. Never a sum across currencies."""
    t = decision_rollup
    unit = f.granularity if "bucket" in by else "month"
    keys = _keys(t, by, unit, conn.dialect.name) + [t.c[k] for k in STATE]
    if "currency" in by:
        amount = func.sum(t.c.amount_cents)
    else:
        amount = func.sum(case((t.c.currency == f.currency, t.c.amount_cents), else_=0))
    q = (
        select(*keys, func.sum(t.c.decisions).label("decisions"), amount.label("amount_cents"))
        .where(_dims_where(t, f, unit))
        .group_by(*keys)
        .having(func.sum(t.c.decisions) != 0)
    )
    return _frame(conn, q)


def lead_times(conn: Connection, f: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Effective decisions of the period: how many, how many within the due date, and the histogram of
    days from opening to decision, per `by` (any of service_type, reason, decided_by_id)."""
    t = lead_time_rollup
    keys = _keys(t, by, "month", conn.dialect.name)
    sums = [func.sum(t.c[c]).label(c) for c in ("decided", "within_due", *LEAD_COLUMNS)]
    q = select(*keys, *sums).where(_dims_where(t, f, "month"))
    if keys:
        q = q.group_by(*keys).having(func.sum(t.c.decided) != 0)
    return _frame(conn, q)


def summarise_lead(lead: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """decided, within_due, within_due_share, lead_median and lead_p90 (days; 31 means 31 or more)."""
    by = list(by)
    cols = ["decided", "within_due", *LEAD_COLUMNS]
    if lead.empty:
        values = np.zeros((0, len(cols)), dtype=np.int64)
        keys = pd.DataFrame(columns=by)
    else:
        values = np.nan_to_num(lead[cols].to_numpy(dtype=np.float64)).astype(np.int64)  # SUM() of nothing: NULL
        keys = lead[by]
    if by:
        frame = pd.concat([keys.reset_index(drop=True), pd.DataFrame(values, columns=cols)], axis=1)
        out = frame.groupby(by, sort=True, as_index=False)[cols].sum()
    else:
        out = pd.DataFrame([values.sum(axis=0)], columns=cols)
    hist = out[list(LEAD_COLUMNS)].to_numpy()
    out["within_due_share"] = _ratio(out["within_due"], out["decided"])
    out["lead_median"] = [percentile(h, 0.5) for h in hist]
    out["lead_p90"] = [percentile(h, 0.9) for h in hist]
    return out


def sales(conn: Connection, f: Filters, by_bucket: bool) -> pd.DataFrame:
    """Services sold (of every currency) and revenue (of `f.currency` only): the denominators, per bucket and
    service type or in total."""
    s = sales_by_currency
    cond = [s.c.day.between(f.start, f.end)]
    if f.service_types:
        cond.append(s.c.service_type.in_(f.service_types))
    revenue = func.sum(case((s.c.currency == f.currency, s.c.revenue_cents), else_=0))
    sums = [func.sum(s.c.services_sold).label("sold"), revenue.label("revenue_cents")]
    if by_bucket:
        keys = [_bucket(s.c.day, f.granularity, conn.dialect.name).label("bucket"), s.c.service_type]
        return _frame(conn, select(*keys, *sums).where(*cond).group_by(*keys))
    return _frame(conn, select(*sums).where(*cond))


def cases_opened(conn: Connection, f: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Cases opened in the period (by opened_on), per `by` (any of "bucket", service_type, reason)."""
    t = case_rollup
    unit = f.granularity if "bucket" in by else "month"
    keys = _keys(t, by, unit, conn.dialect.name)
    q = select(*keys, func.sum(t.c.opened).label("opened")).where(_dims_where(t, f, unit, reviewers=False))
    if keys:
        q = q.group_by(*keys)
    return _frame(conn, q)


def _decision_conditions(f: Filters) -> list:
    """The page's service-type, reason and reviewer filters as conditions on `decisions` (the drill-down list,
    the exception list, the approvals): one definition of which decisions the filters select."""
    cond = []
    if f.service_types:
        cond.append(Decision.service_type.in_(f.service_types))
    if f.reasons:
        cond.append(Decision.reason.in_(f.reasons))
    if f.reviewers:
        cond.append(Decision.decided_by_id.in_(f.reviewers))
    return cond


def _case_filters(f: Filters) -> list:
    cond = []
    if f.service_types:
        cond.append(Case.service_type.in_(f.service_types))
    if f.reasons:
        cond.append(Case.reason.in_(f.reasons))
    if f.reviewers:
        cond.append(Case.assignee_id.in_(f.reviewers))
    return cond


def backlog(conn: Connection, f: Filters, today: date) -> pd.DataFrame:
    """Cases not closed as of today (open or awaiting approval), by age bucket, with how many are overdue.
    A snapshot: the date range does not apply; service type, reason and reviewer (assignee) do."""
    q = (
        select(
            Case.opened_on,
            func.count().label("cases"),
            func.sum(case((Case.due_on < today, 1), else_=0)).label("overdue"),
        )
        .where(Case.status != "closed", *_case_filters(f))
        .group_by(Case.opened_on)
    )
    by_day = _frame(conn, q)
    if by_day.empty:
        age = np.zeros(0, dtype=np.int64)
    else:
        opened = pd.to_datetime(by_day["opened_on"]).to_numpy(dtype="datetime64[D]")
        age = np.maximum((np.datetime64(today, "D") - opened).astype(np.int64), 0)
    cases, overdue = by_day["cases"].to_numpy(dtype=np.int64), by_day["overdue"].to_numpy(dtype=np.int64)
    rows = []
    for label, lo, hi in AGE_BUCKETS:
        sel = (age >= lo) & (age <= (hi if hi is not None else age.max(initial=lo)))
        rows.append({"age": label, "cases": int(cases[sel].sum()), "overdue": int(overdue[sel].sum())})
    return pd.DataFrame(rows)


def pending_approvals(conn: Connection, f: Filters) -> int:
    """Exceptions waiting for a manager right now (a snapshot; the date range does not apply).

    Counted per reviewer, service type and reason through the small partial index of pending decisions,
    then filtered here: a reviewer filter in SQL would lure SQLite onto the reviewer index and through
    all of that reviewer's decisions."""
    keys = (Decision.decided_by_id, Decision.service_type, Decision.reason)
    q = (
        select(*keys, func.count().label("n"))
        .where(Decision.approval_status == "pending", Decision.superseded.is_(False))
        .group_by(*keys)
    )
    d = _frame(conn, q)
    keep = np.ones(len(d), dtype=bool)
    for column, wanted in (("decided_by_id", f.reviewers), ("service_type", f.service_types), ("reason", f.reasons)):
        if wanted:
            keep &= d[column].isin(wanted).to_numpy()
    return int(d.loc[keep, "n"].sum())


def by_sale_month(conn: Connection, f: Filters) -> pd.DataFrame:
    """The refund rate by sale month beside the rate by decision month, for every month the range touches
    (whole months: a cohort is a month's sales). Per month: services sold and revenue (`f.currency`), the
    effective money decisions about services sold that month (decided at any time, up to now) with their
    amounts and the cash part, and the effective money decisions recorded that month with their amounts.
    From `sale_month_rollup` (migration 0010), `decision_rollup` and `sales_by_currency`: no table scan."""
    first, last = _unit_start(f.start, "month"), _unit_start(f.end, "month")
    whole = replace(f, start=first, end=_next_unit(last, "month") - timedelta(days=1), granularity="month")
    months = []
    m = first
    while m <= last:
        months.append(m)
        m = _next_unit(m, "month")
    t = sale_month_rollup
    cond = [t.c.sale_month.between(first, last), t.c.superseded.is_(False)]
    cond.append(t.c.approval_status.in_(EFFECTIVE_STATUSES))
    cond.append(t.c.outcome.in_(MONEY_OUTCOMES))
    for column, wanted in (("service_type", f.service_types), ("reason", f.reasons), ("decided_by_id", f.reviewers)):
        if wanted:
            cond.append(t.c[column].in_(wanted))
    mine = t.c.currency == f.currency
    q = (
        select(
            t.c.sale_month.label("month"),
            func.sum(t.c.decisions).label("by_sale_money"),
            func.sum(case((mine, t.c.amount_cents), else_=0)).label("by_sale_money_cents"),
            func.sum(case((t.c.outcome.in_(CASH_OUTCOMES), t.c.decisions), else_=0)).label("by_sale_refunds"),
        )
        .where(*cond)
        .group_by(t.c.sale_month)
    )
    cohort = _frame(conn, q)
    sold = sales(conn, whole, by_bucket=True)
    decided = summarise(decision_states(conn, whole, by=("bucket",)), ["bucket"])
    out = pd.DataFrame({"month": months})
    parts = [
        (cohort, "month", ["by_sale_money", "by_sale_money_cents", "by_sale_refunds"]),
        (
            sold.groupby("bucket", as_index=False)[["sold", "revenue_cents"]].sum() if not sold.empty else sold,
            "bucket",
            ["sold", "revenue_cents"],
        ),
        (
            decided.rename(columns={"money": "by_decision_money", "money_cents": "by_decision_money_cents"}),
            "bucket",
            ["by_decision_money", "by_decision_money_cents"],
        ),
    ]
    for frame, key, columns in parts:
        if frame.empty or key not in frame:
            for c in columns:
                out[c] = 0
            continue
        frame = frame.assign(month=pd.to_datetime(frame[key]).dt.date)[["month", *columns]]
        out = out.merge(frame, on="month", how="left")
    counts = [c for c in out.columns if c != "month"]
    out[counts] = out[counts].fillna(0).astype("int64")
    return out


DRILL_LIMIT = 1000
DRILL_KINDS = ("decided", "sale_month")


@dataclass(frozen=True)
class Drill:
    """The cases behind one number of the page: the effective money decisions (refunds and credits) of a
    slice of the report — recorded between `start` and `end` ("decided"), or about services sold in the
    month starting `start` ("sale_month", any decision date) — optionally of one service type."""

    kind: str
    start: date
    end: date
    service_type: str | None = None
    outcome: str | None = None  # one money outcome only (a bar of the money-by-outcome chart)


def drill_cases(db: Database, filters: Filters, actor: Actor, drill: Drill, limit: int = DRILL_LIMIT):
    """(cases, how many in all): the cases behind `drill` under the page's filters (scoped to what `actor`
    may see), newest decision first, at most `limit` rows."""
    f = scope(validate(filters), actor)
    if drill.kind not in DRILL_KINDS:
        raise InvalidInput(f"Unknown drill-down {drill.kind!r}.", field="drill")
    if drill.service_type is not None and drill.service_type not in SERVICE_TYPES:
        raise InvalidInput(f"Unknown service type: {drill.service_type}.", field="service_types")
    if drill.outcome is not None and drill.outcome not in MONEY_OUTCOMES:
        raise InvalidInput(f"Not a money outcome: {drill.outcome}.", field="outcome")
    decider = aliased(User)
    cond = [
        Decision.superseded.is_(False),
        Decision.approval_status.in_(EFFECTIVE_STATUSES),
        Decision.outcome.in_((drill.outcome,) if drill.outcome else MONEY_OUTCOMES),
    ]
    if drill.kind == "decided":
        cond.append(Decision.decided_on.between(max(drill.start, f.start), min(drill.end, f.end)))
    else:
        month = _unit_start(drill.start, "month")
        cond.append(Service.purchased_on.between(month, _next_unit(month, "month") - timedelta(days=1)))
    cond += _decision_conditions(replace(f, service_types=(drill.service_type,)) if drill.service_type else f)
    base = (
        select(Decision.id)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(*cond)
    )
    q = (
        select(
            Decision.case_id,
            Decision.decided_on,
            decider.display_name.label("decided_by"),
            Decision.service_type,
            Decision.reason,
            Decision.outcome,
            Decision.amount_cents,
            Service.currency,
            Service.purchased_on,
            Case.amount_requested_cents,
            Decision.approval_status,
        )
        .join(decider, decider.id == Decision.decided_by_id)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(*cond)
        .order_by(Decision.decided_on.desc(), Decision.id.desc())
        .limit(limit)
    )
    with _reading(db) as conn:
        rows = _frame(conn, q)
        total = int(conn.execute(select(func.count()).select_from(base.subquery())).scalar_one())
    return rows, total


def _keep(d: pd.DataFrame, f: Filters) -> np.ndarray:
    """Rows of `d` matching the reviewer, service-type and reason filters (applied in pandas, see above)."""
    keep = np.ones(len(d), dtype=bool)
    for column, wanted in (("decided_by_id", f.reviewers), ("service_type", f.service_types), ("reason", f.reasons)):
        if wanted:
            keep &= d[column].isin(wanted).to_numpy()
    return keep


def awaiting_approval(conn: Connection, f: Filters, today: date) -> pd.DataFrame:
    """Money awaiting approval right now, per currency (a snapshot; the date range does not apply): how many
    exceptions wait, their amounts, and how long they have waited (days since the decision was recorded,
    as of today): the median and the oldest."""
    q = (
        select(
            Decision.decided_by_id,
            Decision.service_type,
            Decision.reason,
            Decision.decided_on,
            Decision.amount_cents,
            Service.currency,
        )
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(Decision.approval_status == "pending", Decision.superseded.is_(False))
    )
    d = _frame(conn, q)
    d = d[_keep(d, f)] if not d.empty else d
    columns = ["currency", "pending", "amount_cents", "median_wait_days", "oldest_wait_days"]
    if d.empty:
        return pd.DataFrame(columns=columns)
    waited = (np.datetime64(today, "D") - pd.to_datetime(d["decided_on"]).to_numpy(dtype="datetime64[D]")).astype(
        np.int64
    )
    d = d.assign(waited=np.maximum(waited, 0))
    out = d.groupby("currency", as_index=False).agg(
        pending=("waited", "size"),
        amount_cents=("amount_cents", "sum"),
        median_wait_days=("waited", "median"),
        oldest_wait_days=("waited", "max"),
    )
    return out[columns].sort_values("currency").reset_index(drop=True)


def _seconds(later, earlier, dialect: str):
    """Whole seconds from `earlier` to `later` (two timestamps), in SQL."""
    if dialect == "sqlite":
        return func.round((func.julianday(later) - func.julianday(earlier)) * 86400)
    return func.round(func.extract("epoch", later - earlier))


def _days(later, earlier, dialect: str):
    """Whole days from date `earlier` to date `later`, in SQL."""
    if dialect == "sqlite":
        return cast(func.julianday(later) - func.julianday(earlier), Integer)
    return later - earlier


def _answered(f: Filters) -> list:
    """Decisions of the period a manager answered: the rows of the covering index ix_decisions_answered
    (migration 0012). The reviewer, type and reason filters are applied to the grouped rows (`_keep`)."""
    return [Decision.approved_at.is_not(None), Decision.decided_on.between(f.start, f.end)]


def approvals_by_manager(conn: Connection, f: Filters) -> pd.DataFrame:
    """Exceptions decided in the period that a manager approved or rejected, per manager: approvals,
    rejections, and the median hours from the decision to the manager's answer (of those with a time; the
    waits counted in tenths of an hour, as the page shows them). Grouped in SQL by manager, answer and
    wait, through the covering index ix_decisions_answered (migration 0012): no table row is read."""
    tenths = func.round(_seconds(Decision.approved_at, Decision.decided_at, conn.dialect.name) / 360).label("tenths")
    cond = [
        *_answered(f),
        Decision.is_exception == True,  # noqa: E712
        Decision.approval_status.in_(("approved", "rejected")),
        Decision.approver_id.is_not(None),
    ]
    cond += _decision_conditions(f)  # every column is in the covering index: no detour through another index
    keys = (Decision.approver_id, Decision.approval_status, tenths)
    d = _frame(conn, select(*keys, func.count().label("n")).where(*cond).group_by(*keys))
    columns = ["approver_id", "approvals", "rejections", "median_wait_hours"]
    if d.empty:
        return pd.DataFrame(columns=columns)
    d = d.assign(
        approvals=np.where(d["approval_status"] == "approved", d["n"], 0),
        rejections=np.where(d["approval_status"] == "rejected", d["n"], 0),
    )
    rows = []
    for approver, g in d.groupby("approver_id", sort=False):
        hours = np.repeat(np.maximum(g["tenths"].to_numpy(dtype=np.float64), 0) / 10, g["n"].to_numpy(np.int64))
        rows.append(
            {
                "approver_id": approver,
                "approvals": int(g["approvals"].sum()),
                "rejections": int(g["rejections"].sum()),
                "median_wait_hours": float(np.median(hours)),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["approvals", "approver_id"], ascending=[False, True]).reset_index(drop=True)


def close_times(conn: Connection, f: Filters) -> pd.DataFrame:
    """What the approval wait adds to the time to decision (docs/metrics.md, "Time to close"): the effective
    decisions of the period that waited for a manager's approval, counted per reviewer, type, reason, days
    from opening to the decision and to the close (the case's `decided_on`, the day of the approval), and
    whether each was within the due date. Through ix_decisions_answered plus one case lookup per row."""
    dialect = conn.dialect.name
    cap = LEAD_DAYS_MAX + 1
    to_decision = _days(Decision.decided_on, Case.opened_on, dialect)
    to_close = _days(Case.decided_on, Case.opened_on, dialect)

    def capped(days):
        return case((days < 0, 0), (days > cap, cap), else_=days)

    keys = (
        Decision.decided_by_id,
        Decision.service_type,
        Decision.reason,
        capped(to_decision).label("decision_days"),
        capped(to_close).label("close_days"),
        case((Decision.decided_on <= Case.due_on, 1), else_=0).label("decided_within"),
        case((Case.decided_on <= Case.due_on, 1), else_=0).label("closed_within"),
    )
    q = (
        select(*keys, func.count().label("n"))
        .join(Case, Case.id == Decision.case_id)
        .where(
            *_answered(f),
            Decision.approval_status == "approved",
            Decision.superseded.is_(False),
            Case.decided_on.is_not(None),
        )
        .group_by(*keys)
    )
    d = _frame(conn, q)
    return d[_keep(d, f)].reset_index(drop=True) if not d.empty else d


def closing(lead: pd.DataFrame, waited: pd.DataFrame) -> pd.DataFrame:
    """The time to close including the approval wait, from the time to decision (`summarise_lead(lead)`,
    every effective decision) and the decisions that waited (`close_times`): those move from their decision
    day to their close day in the histogram. One row: closed, closed_within_due, closed_within_due_share,
    close_median, close_p90 (days; 31 means 31 or more)."""
    base = summarise_lead(lead)
    hist = base[list(LEAD_COLUMNS)].iloc[0].to_numpy(dtype=np.int64).copy()
    within = int(base["within_due"].iloc[0])
    if not waited.empty:
        n = waited["n"].to_numpy(dtype=np.int64)
        np.subtract.at(hist, waited["decision_days"].to_numpy(dtype=np.int64), n)
        np.add.at(hist, waited["close_days"].to_numpy(dtype=np.int64), n)
        within += int((n * (waited["closed_within"].to_numpy() - waited["decided_within"].to_numpy())).sum())
    hist = np.maximum(hist, 0)
    closed = int(base["decided"].iloc[0])
    out = pd.DataFrame({"days": range(len(LEAD_COLUMNS)), "decisions": hist})
    out.attrs.update(
        closed=closed,
        closed_within_due=within,
        closed_within_due_share=within / closed if closed else None,
        close_median=percentile(hist, 0.5),
        close_p90=percentile(hist, 0.9),
        waited=int(waited["n"].sum()) if not waited.empty else 0,
    )
    return out


def _month_ends_utc(first: date, last: date, zone: str) -> list[tuple[date, date, datetime]]:
    """(first day, last day, the instant it ended as naive UTC) of each month from `first` to `last`."""
    tz = ZoneInfo(zone)
    out = []
    m = first
    while m <= last:
        following = _next_unit(m, "month")
        ended = datetime.combine(following, datetime.min.time(), tz).astimezone(UTC).replace(tzinfo=None)
        out.append((m, following - timedelta(days=1), ended))
        m = following
    return out


RESTATED_COLUMNS = ["month", "late_answers", "late_supersedes", "changes", "last_change_at"]


def restated_months(conn: Connection, f: Filters, today: date) -> pd.DataFrame:
    """The closed months of the range whose numbers changed after they ended (docs/metrics.md, "Restated
    months"): per month, the decisions dated in it that a manager answered (approved or rejected) after its
    last day, and the decisions dated in it that were superseded after its last day (by a reopen or by the
    case's next decision); `last_change_at` is the latest of those times (naive UTC). Only months with a
    late change are listed. Reads ix_decisions_answered and ix_decisions_superseded (migration 0012), never
    the whole decisions table."""
    first = _unit_start(f.start, "month")
    last = _unit_start(today, "month") - timedelta(days=1)  # a month is closed once today is past its end
    last = min(last, f.end)
    if last < first:
        return pd.DataFrame(columns=RESTATED_COLUMNS)
    months = _month_ends_utc(first, _unit_start(last, "month"), f.zone)
    late_answer = or_(
        *(and_(Decision.decided_on.between(lo, hi), Decision.approved_at >= ended) for lo, hi, ended in months)
    )
    month = _bucket(Decision.decided_on, "month", conn.dialect.name).label("month")
    keys = (month, Decision.decided_by_id, Decision.service_type, Decision.reason)
    answers = _frame(
        conn,
        select(*keys, func.count().label("n"), func.max(Decision.approved_at).label("at"))
        .where(
            Decision.approved_at.is_not(None),
            Decision.decided_on.between(first, months[-1][1]),
            Decision.approval_status.in_(("approved", "rejected")),
            late_answer,
        )
        .group_by(*keys),
    )
    later = aliased(Decision)
    reopened = (
        select(func.min(CaseEvent.at))
        .where(CaseEvent.case_id == Decision.case_id, CaseEvent.kind == "case_reopened")
        .where(CaseEvent.at >= Decision.decided_at)
        .scalar_subquery()
    )
    next_decision = (
        select(func.min(later.decided_at))
        .where(later.case_id == Decision.case_id, later.id > Decision.id)
        .scalar_subquery()
    )
    superseded = _frame(
        conn,
        select(
            Decision.decided_on,
            Decision.decided_by_id,
            Decision.service_type,
            Decision.reason,
            func.coalesce(reopened, next_decision).label("at"),
        ).where(
            Decision.superseded == True,  # noqa: E712 (`= 1`/`= true`: the partial index ix_decisions_superseded)
            Decision.decided_on.between(first, months[-1][1]),
            Decision.approval_status
            != "rejected",  # a rejected decision counted for nothing; superseding it changes nothing
        ),
    )
    rows = []
    answers = answers[_keep(answers, f)] if not answers.empty else answers
    superseded = superseded[_keep(superseded, f)] if not superseded.empty else superseded
    if not answers.empty:
        answers = answers.assign(month=pd.to_datetime(answers["month"]).dt.date, at=pd.to_datetime(answers["at"]))
    if not superseded.empty:
        superseded = superseded.assign(
            decided_on=pd.to_datetime(superseded["decided_on"]).dt.date, at=pd.to_datetime(superseded["at"])
        )
    for lo, hi, ended in months:
        a = answers[answers["month"] == lo] if not answers.empty else answers
        if not superseded.empty:
            s_ = superseded[
                (superseded["decided_on"] >= lo) & (superseded["decided_on"] <= hi) & (superseded["at"] >= ended)
            ]
        else:
            s_ = superseded
        n_a = int(a["n"].sum()) if not a.empty else 0
        n_s = len(s_)
        if n_a + n_s == 0:
            continue
        times = [t for t in (a["at"].max() if n_a else None, s_["at"].max() if n_s else None) if t is not None]
        rows.append(
            {
                "month": lo,
                "late_answers": n_a,
                "late_supersedes": n_s,
                "changes": n_a + n_s,
                "last_change_at": max(times).to_pydatetime(),
            }
        )
    return pd.DataFrame(rows, columns=RESTATED_COLUMNS)


def granted_vs_requested(conn: Connection, f: Filters) -> pd.DataFrame:
    """Effective decisions of the period per currency: how many, the amounts their customers asked for, the
    money granted (full + partial refunds + credits) and the cash part of it (refunds only). Never summed
    across currencies. From `requested_rollup` (migration 0010)."""
    t = requested_rollup
    columns = ["currency", "decisions", "requested_cents", "granted_cents", "cash_cents"]
    q = (
        select(t.c.currency, *(func.sum(t.c[c]).label(c) for c in columns[1:]))
        .where(_dims_where(t, f, "month"))
        .group_by(t.c.currency)
        .having(func.sum(t.c.decisions) != 0)
        .order_by(t.c.currency)
    )
    out = _frame(conn, q)
    if out.empty:
        return pd.DataFrame(columns=columns)
    for c in columns[1:]:
        out[c] = out[c].fillna(0).astype("int64")
    return out


def exception_list(conn: Connection, f: Filters, limit: int = EXCEPTION_LIST_LIMIT) -> pd.DataFrame:
    """The newest discretionary exceptions decided in the period, with rationale and approver."""
    decider, approver = aliased(User), aliased(User)
    cond = [Decision.is_exception == True, Decision.decided_on.between(f.start, f.end)]  # noqa: E712 (partial index)
    cond += _decision_conditions(f)
    q = (
        select(
            Decision.case_id,
            Decision.decided_on,
            decider.display_name.label("decided_by"),
            Decision.service_type,
            Decision.reason,
            Decision.outcome,
            Decision.recommended_outcome,
            Decision.amount_cents,
            Service.currency,
            Decision.approval_status,
            Decision.superseded,
            approver.display_name.label("approver"),
            Decision.rationale,
            Decision.approval_note,
        )
        .join(decider, decider.id == Decision.decided_by_id)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .outerjoin(approver, approver.id == Decision.approver_id)
        .where(*cond)
        .order_by(Decision.decided_on.desc(), Decision.id.desc())
        .limit(limit)
    )
    return _frame(conn, q)


def in_currency(states: pd.DataFrame, currency: str) -> pd.DataFrame:
    """`decision_states` rows per currency -> the same rows with the amounts of `currency` only (the other
    currencies' rows keep their counts, their amounts become 0)."""
    out = states.copy()
    if not out.empty:
        out["amount_cents"] = np.where(out["currency"] == currency, out["amount_cents"].fillna(0), 0)
    return out


def money_per_currency(states: pd.DataFrame) -> dict[str, int]:
    """Money granted (amounts of effective money decisions) per currency, from `decision_states` rows per
    currency: how the page shows amounts of several currencies together — side by side, never summed."""
    if states.empty:
        return {}
    per = summarise(states, ["currency"])
    per = per[(per["money"] > 0) & (per["currency"] != "")]  # '': amounts of 0 (see migration 0004)
    return {str(c): int(v) for c, v in zip(per["currency"], per["money_cents"])}


def currencies(db: Database, actor: Actor, reporting: str = DEFAULT_CURRENCY) -> list[str]:
    """The currencies the desk sells in (from the sales rollup), the reporting currency first."""
    if not actor.may("view_analytics"):
        raise NotAllowed("Analytics are for reviewers, managers and admins.")
    with _reading(db) as conn:
        found = {r[0] for r in conn.execute(select(sales_by_currency.c.currency).distinct())}
    reporting = check_currency(reporting)
    return [reporting, *sorted(found - {reporting})]


def user_names(conn: Connection) -> dict[int, str]:
    return {r.id: r.display_name for r in conn.execute(select(User.id, User.display_name))}


# ---- from decision states to metrics ---------------------------------------------------------------------


def _int(x: Any) -> int:
    return int(x) if x is not None and not pd.isna(x) else 0


MEASURES = (
    "decisions",
    "effective",
    "money",
    "money_cents",
    "refunds",
    "refund_cents",
    "full_refunds",
    "full_refund_cents",
    "partial_refunds",
    "partial_refund_cents",
    "credits",
    "credit_cents",
    "fixes",
    "denials",
    "pending",
    "exceptions",
    "exceptions_approved",
    "exceptions_pending",
    "exceptions_rejected",
    "exception_money_cents",
    "overrides",
    "more_generous",
    "less_generous",
)


def measures(states: pd.DataFrame) -> pd.DataFrame:
    """Per `decision_states` row, what it adds to each metric (the columns of MEASURES), with the row's
    dimension columns kept. The definitions of docs/metrics.md, in one place."""
    d = states
    key_columns = [c for c in d.columns if c not in STATE and c not in ("decisions", "amount_cents")]
    if d.empty:
        return pd.DataFrame(columns=[*key_columns, *MEASURES])
    n = d["decisions"].to_numpy(dtype=np.int64)
    amount = d["amount_cents"].to_numpy(dtype=np.int64)
    outcome = d["outcome"].to_numpy(dtype=object)
    advised = d["recommended_outcome"].to_numpy(dtype=object)
    approval = d["approval_status"].to_numpy(dtype=object)
    superseded = d["superseded"].to_numpy().astype(bool)
    exc = d["is_exception"].to_numpy().astype(bool)
    effective = ~superseded & np.isin(approval, EFFECTIVE_STATUSES)
    money = effective & np.isin(outcome, MONEY_OUTCOMES)
    cash = effective & np.isin(outcome, CASH_OUTCOMES)

    def outcome_is(o: str) -> np.ndarray:
        return effective & (outcome == o)

    rank = {o: i for i, o in enumerate(GENEROSITY)}
    given = np.array([rank[o] for o in outcome])
    recommended = np.array([rank[o] for o in advised])
    values = {
        "decisions": n,
        "effective": n * effective,
        "money": n * money,
        "money_cents": amount * money,
        "refunds": n * cash,
        "refund_cents": amount * cash,
        "full_refunds": n * outcome_is("full_refund"),
        "full_refund_cents": amount * outcome_is("full_refund"),
        "partial_refunds": n * outcome_is("partial_refund"),
        "partial_refund_cents": amount * outcome_is("partial_refund"),
        "credits": n * outcome_is("credit"),
        "credit_cents": amount * outcome_is("credit"),
        "fixes": n * outcome_is("fix"),
        "denials": n * outcome_is("deny"),
        "pending": n * ((approval == "pending") & ~superseded),
        "exceptions": n * exc,
        "exceptions_approved": n * (exc & (approval == "approved")),
        "exceptions_pending": n * (exc & (approval == "pending")),
        "exceptions_rejected": n * (exc & (approval == "rejected")),
        "exception_money_cents": amount * (exc & money),
        "overrides": n * (given != recommended),
        "more_generous": n * (given > recommended),
        "less_generous": n * (given < recommended),
    }
    return pd.concat([d[key_columns].reset_index(drop=True), pd.DataFrame(values)], axis=1)


def summarise(states: pd.DataFrame, by: Sequence[str] = (), *, measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """The decision metrics of docs/metrics.md from `decision_states` rows, per `by` (one row if empty).

    Counts: decisions (recorded), effective, money, money_cents, refunds (cash: full + partial),
    refund_cents, full_refunds, full_refund_cents, partial_refunds, partial_refund_cents, credits,
    credit_cents, fixes, denials (all of effective decisions), pending, exceptions, exceptions_approved,
    exceptions_pending, exceptions_rejected, exception_money_cents, overrides, more_generous,
    less_generous. Rates: money_share (of effective decisions), exception_share and override_rate (of
    decisions recorded). Pass `measured=measures(states)` to reuse it across several groupings.
    """
    by = list(by)
    parts = measures(states) if measured is None else measured
    if by:
        out = parts.groupby(by, sort=True, as_index=False)[list(MEASURES)].sum()
        out[list(MEASURES)] = out[list(MEASURES)].astype("int64")
    else:
        out = pd.DataFrame([parts[list(MEASURES)].to_numpy(dtype=np.int64).sum(axis=0)], columns=list(MEASURES))
    out["money_share"] = _ratio(out["money"], out["effective"])
    out["exception_share"] = _ratio(out["exceptions"], out["decisions"])
    out["override_rate"] = _ratio(out["overrides"], out["decisions"])
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype("float64")
    return (num.astype("float64") / den.where(den != 0)).astype("float64")


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile of a day histogram (index = days): the smallest day by which at least a
    share q of the decisions were made. None when there are none."""
    total = sum(int(x) for x in histogram)
    if total <= 0:
        return None
    need, seen = q * total, 0
    for day, count in enumerate(histogram):
        seen += int(count)
        if seen >= need:
            return float(day)
    return float(len(histogram) - 1)


# ---- the report: everything the page shows, in one call --------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of one period (see docs/metrics.md)."""

    sold: int
    revenue_cents: int
    opened: int | None  # None when a reviewer filter applies (cases are not attributed to reviewers)
    decisions: int
    effective: int
    money: int
    money_cents: int
    refunds: int  # cash: full + partial refunds
    refund_cents: int
    credits: int
    credit_cents: int
    exceptions: int
    exception_money_cents: int
    overrides: int
    within_due: int
    lead_median: float | None
    lead_p90: float | None
    # time to close including the approval wait (docs/metrics.md, "Time to close")
    closed_within_due: int = 0
    close_median: float | None = None
    close_p90: float | None = None
    waited_for_approval: int = 0  # effective decisions that waited for a manager

    @staticmethod
    def _rate(num: int | None, den: int) -> float | None:
        return num / den if den and num is not None else None

    @property
    def refund_rate(self) -> float | None:
        return self._rate(self.money, self.sold)

    @property
    def refund_value_rate(self) -> float | None:
        return self._rate(self.money_cents, self.revenue_cents)

    @property
    def cash_refund_rate(self) -> float | None:
        """Full and partial refunds only (no credits) ÷ services sold."""
        return self._rate(self.refunds, self.sold)

    @property
    def cash_refund_value_rate(self) -> float | None:
        return self._rate(self.refund_cents, self.revenue_cents)

    @property
    def credit_rate(self) -> float | None:
        return self._rate(self.credits, self.sold)

    @property
    def credit_value_rate(self) -> float | None:
        return self._rate(self.credit_cents, self.revenue_cents)

    @property
    def request_rate(self) -> float | None:
        return self._rate(self.opened, self.sold)

    @property
    def exception_share(self) -> float | None:
        return self._rate(self.exceptions, self.decisions)

    @property
    def override_rate(self) -> float | None:
        return self._rate(self.overrides, self.decisions)

    @property
    def within_due_share(self) -> float | None:
        return self._rate(self.within_due, self.effective)

    @property
    def money_share(self) -> float | None:
        return self._rate(self.money, self.effective)

    @property
    def closed_within_due_share(self) -> float | None:
        """Effective decisions whose case closed (the approval included) by its due date ÷ effective decisions."""
        return self._rate(self.closed_within_due, self.effective)


def _kpis(
    summary: pd.DataFrame, lead: pd.DataFrame, sold: pd.DataFrame, opened: int | None, close: pd.DataFrame | None = None
) -> Kpis:
    s, t = summary.iloc[0], lead.iloc[0]
    c = close.attrs if close is not None else {}
    return Kpis(
        sold=_int(sold["sold"].iloc[0]) if not sold.empty else 0,
        revenue_cents=_int(sold["revenue_cents"].iloc[0]) if not sold.empty else 0,
        opened=opened,
        decisions=_int(s["decisions"]),
        effective=_int(s["effective"]),
        money=_int(s["money"]),
        money_cents=_int(s["money_cents"]),
        refunds=_int(s["refunds"]),
        refund_cents=_int(s["refund_cents"]),
        credits=_int(s["credits"]),
        credit_cents=_int(s["credit_cents"]),
        exceptions=_int(s["exceptions"]),
        exception_money_cents=_int(s["exception_money_cents"]),
        overrides=_int(s["overrides"]),
        within_due=_int(t["within_due"]),
        lead_median=None if pd.isna(t["lead_median"]) else float(t["lead_median"]),
        lead_p90=None if pd.isna(t["lead_p90"]) else float(t["lead_p90"]),
        closed_within_due=int(c.get("closed_within_due", 0)),
        close_median=c.get("close_median"),
        close_p90=c.get("close_p90"),
        waited_for_approval=int(c.get("waited", 0)),
    )


@dataclass(frozen=True)
class Report:
    filters: Filters  # as scoped: a reviewer's own id is forced into `reviewers`
    previous: Filters
    today: date
    own_numbers_only: bool  # the actor is a reviewer: every number is theirs
    kpis: Kpis
    kpis_previous: Kpis
    pending_approvals: int  # right now (a snapshot)
    money_by_currency: dict[str, int]  # money granted in the period per currency (kpis: filters.currency only)
    trend: pd.DataFrame  # bucket x service_type: sold, revenue_cents, opened, decision metrics
    lead_histogram: pd.DataFrame  # days (0..31, 31 = "31 or more"), decisions (effective)
    by_reason: pd.DataFrame  # reason: opened, share_of_cases, decision metrics
    by_reason_type: pd.DataFrame  # reason x service_type: opened, decision metrics
    reason_trend: pd.DataFrame  # bucket x reason: opened
    by_reviewer: pd.DataFrame  # decided_by_id, reviewer, decision metrics, lead-time metrics
    by_version: pd.DataFrame  # policy_version: decision metrics
    exceptions_by_bucket: pd.DataFrame  # bucket: exceptions by approval status, their money, share
    exception_list: pd.DataFrame  # newest first, at most EXCEPTION_LIST_LIMIT rows
    backlog: pd.DataFrame  # age bucket: cases, overdue (a snapshot as of today)
    timings_ms: dict[str, float]
    # the monthly review (docs/metrics.md, "Approvals and money asked for")
    awaiting: pd.DataFrame = field(default_factory=pd.DataFrame)  # currency: pending, amount_cents, waits
    approvals: pd.DataFrame = field(default_factory=pd.DataFrame)  # approver: approvals, rejections, wait
    granted: pd.DataFrame = field(default_factory=pd.DataFrame)  # currency: decisions, requested, granted
    sale_months: pd.DataFrame = field(default_factory=pd.DataFrame)  # month: by sale month, by decision month
    close_histogram: pd.DataFrame = field(default_factory=pd.DataFrame)  # days (0..31), decisions: to close
    restated: pd.DataFrame = field(default_factory=pd.DataFrame)  # month: late answers and supersedes

    @property
    def partial_buckets(self) -> frozenset[date]:
        """The trend periods (months or weeks) that the date range covers only in part: the first and the
        last, unless the range starts and ends on their boundaries."""
        f, unit = self.filters, self.filters.granularity
        out = set()
        if _unit_start(f.start, unit) != f.start:
            out.add(_unit_start(f.start, unit))
        if _next_unit(_unit_start(f.end, unit), unit) - timedelta(days=1) != f.end:
            out.add(_unit_start(f.end, unit))
        return frozenset(out)

    @property
    def has_decisions(self) -> bool:
        return self.kpis.decisions > 0

    @property
    def cases_attributable(self) -> bool:
        """Opened-case numbers (request rate, reason mix) exist only without a reviewer filter: a case
        is nobody's when it is opened."""
        return not self.filters.reviewers


def report(db: Database, filters: Filters, actor: Actor, today: date) -> Report:
    """Every number of the analytics page for `filters`, scoped to what `actor` may see."""
    f = scope(validate(filters), actor)
    prev = f.previous()
    timer = Timer()
    cases_ok = not f.reviewers
    dims = ("service_type", "reason", "decided_by_id", "policy_version")
    with _reading(db) as conn:
        with timer("decisions by type, reason, reviewer, version"):
            states = decision_states(conn, f, by=dims)
        with timer("decisions by period, type and currency"):
            trend_by_currency = decision_states(conn, f, by=("bucket", "service_type", "currency"))
        with timer("decisions, previous period"):
            states_prev = decision_states(conn, prev)
        with timer("lead times by reviewer"):
            lead = lead_times(conn, f, by=("decided_by_id",))
        with timer("lead times, previous period"):
            lead_prev = lead_times(conn, prev)
        with timer("services sold by period and type"):
            trend_sales = sales(conn, f, by_bucket=True)
        with timer("services sold, previous period"):
            sold_prev = sales(conn, prev, by_bucket=False)
        with timer("cases opened by period, type and reason"):
            opened_detail = (
                cases_opened(conn, f, by=("bucket", "service_type", "reason"))
                if cases_ok
                else pd.DataFrame(columns=["bucket", "service_type", "reason", "opened"])
            )
        with timer("cases opened, every reason"):  # the reason mix's denominator ignores the reason filter
            opened_all_reasons = (
                _int(cases_opened(conn, replace(f, reasons=()))["opened"].iloc[0]) if cases_ok and f.reasons else None
            )
        with timer("cases opened, previous period"):
            opened_prev = _int(cases_opened(conn, prev)["opened"].iloc[0]) if cases_ok else None
        with timer("exception list"):
            exceptions = exception_list(conn, f)
        with timer("pending approvals"):
            pending = pending_approvals(conn, f)
        with timer("backlog"):
            ages = backlog(conn, f, today)
        with timer("users"):
            names = user_names(conn)
        with timer("money awaiting approval"):
            awaiting = awaiting_approval(conn, f, today)
        with timer("approvals per manager"):
            approvals = approvals_by_manager(conn, f)
        with timer("granted against requested"):
            granted = granted_vs_requested(conn, f)
        with timer("refund rate by sale month"):
            sale_months = by_sale_month(conn, f)
        with timer("time to close: the approval waits"):
            waited = close_times(conn, f)  # (the previous period's time to close is not shown)
        with timer("restated months"):
            restated = restated_months(conn, f, today)

    with timer("pandas: shaping"):
        trend_states = in_currency(trend_by_currency, f.currency)
        per_currency = money_per_currency(trend_by_currency)
        sold = trend_sales[["sold", "revenue_cents"]].sum().to_frame().T
        opened = int(opened_detail["opened"].sum()) if cases_ok else None
        measured = measures(states)
        close = closing(lead, waited)
        kpis = _kpis(summarise(states, measured=measured), summarise_lead(lead), sold, opened, close)
        kpis_prev = _kpis(summarise(states_prev), summarise_lead(lead_prev), sold_prev, opened_prev)
        trend = _trend(trend_states, trend_sales, opened_detail)
        by_reason, by_reason_type, reason_trend = _reasons(measured, opened_detail, opened_all_reasons)
        by_reviewer = summarise(states, ["decided_by_id"], measured=measured).merge(
            summarise_lead(lead, ["decided_by_id"]), on="decided_by_id", how="outer"
        )
        by_reviewer.insert(1, "reviewer", by_reviewer["decided_by_id"].map(names).fillna("(unknown user)"))
        by_version = summarise(states, ["policy_version"], measured=measured)
        exc = summarise(trend_states, ["bucket"])
        exc = exc[exc["exceptions"] > 0][
            ["bucket", "exceptions", "exceptions_approved", "exceptions_pending", "exceptions_rejected"]
            + ["exception_money_cents", "decisions", "exception_share"]
        ].reset_index(drop=True)
        hist = summarise_lead(lead)[list(LEAD_COLUMNS)].iloc[0].to_numpy()
        lead_hist = pd.DataFrame({"days": range(len(LEAD_COLUMNS)), "decisions": [int(x) for x in hist]})
        approvals.insert(1, "manager", approvals["approver_id"].map(names).fillna("(unknown user)"))
    return Report(
        filters=f,
        previous=prev,
        today=today,
        own_numbers_only=not actor.may("view_all_analytics"),
        kpis=kpis,
        kpis_previous=kpis_prev,
        pending_approvals=pending,
        money_by_currency=per_currency,
        trend=trend,
        lead_histogram=lead_hist,
        by_reason=by_reason,
        by_reason_type=by_reason_type,
        reason_trend=reason_trend,
        by_reviewer=by_reviewer,
        by_version=by_version,
        exceptions_by_bucket=exc,
        exception_list=exceptions,
        backlog=ages,
        timings_ms=timer.ms,
        awaiting=awaiting,
        approvals=approvals,
        granted=granted,
        sale_months=sale_months,
        close_histogram=close,
        restated=restated,
    )


def _trend(states: pd.DataFrame, sold: pd.DataFrame, opened: pd.DataFrame) -> pd.DataFrame:
    """Per bucket and service type: services sold, revenue, cases opened and the decision metrics."""
    keys = ["bucket", "service_type"]
    frames = [
        sold if not sold.empty else pd.DataFrame(columns=[*keys, "sold", "revenue_cents"]),
        summarise(states, keys),
    ]
    if not opened.empty:
        frames.append(opened.groupby(keys, as_index=False)["opened"].sum())
    for frame in frames:
        frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.date
    out = frames[0]
    for frame in frames[1:]:
        out = out.merge(frame, on=keys, how="outer")
    counts = [c for c in out.columns if c not in keys and not c.endswith(("_share", "_rate"))]
    out[counts] = out[counts].fillna(0).astype("int64")
    if opened.empty:
        out["opened"] = pd.NA  # not attributable to reviewers
    return out.sort_values(keys).reset_index(drop=True)


def _reasons(
    measured: pd.DataFrame, opened: pd.DataFrame, all_reasons: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """By reason, and by reason and service type: cases opened (and their share), decision metrics; and
    cases opened per bucket and reason. ``all_reasons``: the cases opened under the same filters but every
    reason (with a reason filter), the share's denominator as docs/metrics.md defines it."""
    by_r = summarise(pd.DataFrame(), ["reason"], measured=measured)
    by_rt = summarise(pd.DataFrame(), ["reason", "service_type"], measured=measured)
    if opened.empty:
        by_r["opened"] = pd.NA
        by_r["share_of_cases"] = float("nan")
        by_rt["opened"] = pd.NA
        trend = pd.DataFrame(columns=["bucket", "reason", "opened"])
    else:
        by_r = opened.groupby("reason", as_index=False)["opened"].sum().merge(by_r, on="reason", how="outer")
        by_rt = (
            opened.groupby(["reason", "service_type"], as_index=False)["opened"]
            .sum()
            .merge(by_rt, on=["reason", "service_type"], how="outer")
        )
        for frame in (by_r, by_rt):
            counts = [
                c for c in frame.columns if c not in ("reason", "service_type") and not c.endswith(("_share", "_rate"))
            ]
            frame[counts] = frame[counts].fillna(0).astype("int64")
        total = by_r["opened"].sum() if all_reasons is None else all_reasons
        by_r["share_of_cases"] = by_r["opened"] / total if total else float("nan")
        trend = opened.groupby(["bucket", "reason"], as_index=False)["opened"].sum()
        trend["bucket"] = pd.to_datetime(trend["bucket"]).dt.date
        trend = trend.sort_values(["bucket", "reason"]).reset_index(drop=True)
    order = {r: i for i, r in enumerate(REASONS)}
    by_r = by_r.sort_values("reason", key=lambda col: col.map(order)).reset_index(drop=True)
    return by_r, by_rt, trend
