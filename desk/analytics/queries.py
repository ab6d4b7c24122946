"""The SQL of the analytics page: each function reads one rollup (or one small partial index) for the filters
and returns a small DataFrame; nothing here computes a rate. `_reading` is the one read transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Date, Integer, Select, and_, case, cast, func, or_, select, type_coerce, union_all
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import aliased

from data.db import Database
from data.models import EFFECTIVE_APPROVAL_STATUSES as EFFECTIVE_STATUSES
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
    decision_state_rollup,
    lead_time_rollup,
    requested_rollup,
    sale_month_rollup,
    sales_by_currency,
)
from desk.analytics.filters import (
    AGE_BUCKETS,
    CASH_OUTCOMES,
    EXCEPTION_LIST_LIMIT,
    GENEROSITY,
    STATE,
    Filters,
    _in_range,
    _next_unit,
    _unit_start,
    cover,
    scope,
    validate,
)
from desk.analytics.metrics import summarise
from desk.auth import PERMISSIONS, Actor
from desk.errors import DatabaseNotReady, InvalidInput, NotAllowed
from desk.money import DEFAULT_CURRENCY, MoneyError, check_currency
from policy import MONEY_OUTCOMES


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
            .where(User.role.in_(PERMISSIONS["act_on_case"]))
            .order_by(User.active.desc(), User.display_name)
        ).all()
    found = [Person(r.id, r.display_name, r.role, bool(r.active)) for r in rows]
    if not actor.may("view_all_analytics"):
        found = [p for p in found if p.id == actor.id]
    return found


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
    return and_(_in_range(table, f, unit), *_dims(table, f, reviewers))


def _dims(table, f: Filters, reviewers: bool = True) -> list:
    cond = []
    if f.service_types:
        cond.append(table.c.service_type.in_(f.service_types))
    if f.reasons:
        cond.append(table.c.reason.in_(f.reasons))
    if f.reviewers and reviewers:
        cond.append(table.c.decided_by_id.in_(f.reviewers))
    return cond


def _covered(table, f: Filters, unit: str, columns: Sequence[str], reviewers: bool = True):
    """The rows of rollup `table` (its `period` and `columns`) that cover the date range of `f` at `unit`
    (`cover`) and match its filters: one SELECT per piece of the cover, UNION ALL, as a subquery. The pieces
    are disjoint (another grain, or other periods), so nothing is counted twice; read so, each piece is one
    range of the primary key, where an OR of the pieces made SQLite collect and de-duplicate the keys of
    every row it read and PostgreSQL recheck a bitmap of them (2-3x slower at a million cases)."""
    wanted = [table.c.period, *(table.c[c] for c in columns if c not in ("period", "bucket"))]
    cond = _dims(table, f, reviewers)
    pieces = [
        select(*wanted).where(table.c.grain == grain, table.c.period.between(lo, hi), *cond)
        for grain, lo, hi in cover(f.start, f.end, unit)
    ]
    return (pieces[0] if len(pieces) == 1 else union_all(*pieces)).subquery("covered")


def _keys(table, by: Sequence[str], unit: str, dialect: str) -> list:
    return [_bucket(table.c.period, unit, dialect).label("bucket") if k == "bucket" else table.c[k] for k in by]


# What decision_state_rollup (migration 0014) has: decision_rollup without reason, reviewer and policy version.
_STATE_ROLLUP_KEYS = frozenset(("bucket", "service_type", "currency"))


def _states_table(f: Filters, by: Sequence[str]):
    """The smallest rollup that answers `decision_states` for `f` and `by`: decision_state_rollup (~11x fewer
    rows) unless the grouping or a filter needs the reason, the reviewer or the policy version."""
    if f.reasons or f.reviewers or not set(by) <= _STATE_ROLLUP_KEYS:
        return decision_rollup
    return decision_state_rollup


def decision_states(conn: Connection, f: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Decisions recorded in the period (by decided_on), counted per `by` (any of "bucket", service_type,
    reason, decided_by_id, policy_version, currency) and per decision state. Without "currency" in `by`,
    `amount_cents` sums the amounts of the decisions in `f.currency` only (the counts are of every
    currency); with it, each row's amounts are of its own currency. Never a sum across currencies."""
    unit = f.granularity if "bucket" in by else "month"
    t = _covered(_states_table(f, by), f, unit, [*by, *STATE, "currency", "decisions", "amount_cents"])
    keys = _keys(t, by, unit, conn.dialect.name) + [t.c[k] for k in STATE]
    if "currency" in by:
        amount = func.sum(t.c.amount_cents)
    else:
        amount = func.sum(case((t.c.currency == f.currency, t.c.amount_cents), else_=0))
    q = (
        select(*keys, func.sum(t.c.decisions).label("decisions"), amount.label("amount_cents"))
        .group_by(*keys)
        .having(func.sum(t.c.decisions) != 0)
    )
    return _frame(conn, q)


def lead_times(conn: Connection, f: Filters, by: Sequence[str] = ()) -> pd.DataFrame:
    """Effective decisions of the period: how many, how many within the due date, and the histogram of
    days from opening to decision, per `by` (any of service_type, reason, decided_by_id)."""
    sums_of = ("decided", "within_due", *LEAD_COLUMNS)
    t = _covered(lead_time_rollup, f, "month", [*by, *sums_of])
    keys = _keys(t, by, "month", conn.dialect.name)
    sums = [func.sum(t.c[c]).label(c) for c in sums_of]
    q = select(*keys, *sums)
    if keys:
        q = q.group_by(*keys).having(func.sum(t.c.decided) != 0)
    return _frame(conn, q)


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
    unit = f.granularity if "bucket" in by else "month"
    t = _covered(case_rollup, f, unit, [*by, "opened"], reviewers=False)
    keys = _keys(t, by, unit, conn.dialect.name)
    q = select(*keys, func.sum(t.c.opened).label("opened"))
    if keys:
        q = q.group_by(*keys)
    return _frame(conn, q)


def _filter_conditions(f: Filters, service_type, reason, person) -> list:
    """The page's service-type, reason and reviewer filters as conditions on the given columns."""
    cond = []
    if f.service_types:
        cond.append(service_type.in_(f.service_types))
    if f.reasons:
        cond.append(reason.in_(f.reasons))
    if f.reviewers:
        cond.append(person.in_(f.reviewers))
    return cond


def _decision_conditions(f: Filters) -> list:
    """The filters on `decisions` (the drill-down list, the exception list, the approvals): one definition of
    which decisions the filters select; the reviewer is the decider."""
    return _filter_conditions(f, Decision.service_type, Decision.reason, Decision.decided_by_id)


def _case_filters(f: Filters) -> list:
    """The filters on `cases` (the backlog): the reviewer is the assignee."""
    return _filter_conditions(f, Case.service_type, Case.reason, Case.assignee_id)


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
# What a drill-down lists (docs/metrics.md, "Drill-down"). Of the decisions recorded in the range:
#   decided     the effective money decisions (refunds and credits): the refund-rate numbers
#   effective   the effective decisions, any outcome
#   recorded    every decision recorded (superseded, pending and rejected ones too)
#   exceptions  the discretionary exceptions recorded (`approval`: only those in that approval state)
#   overrides   the decisions whose outcome differs from the recommendation (`direction`: "more"/"less" generous)
#   lead        the effective decisions made `days_from`..`days_to` days after their case was opened
#   close       the effective decisions whose case closed (the approval included) that many days after opening
#   answered    the exceptions a manager (`approver`) approved or rejected
# and also:
#   sale_month  the effective money decisions about services sold in the month from `start` (decided any time)
#   awaiting    the decisions waiting for a manager's approval now (the date range does not apply)
#   opened      the cases opened in the range
#   backlog     the cases not closed as of today, opened `days_from`..`days_to` days ago (`overdue`: past due)
DECISION_DRILLS = ("decided", "effective", "recorded", "exceptions", "overrides", "lead", "close", "answered")
CASE_DRILLS = ("opened", "backlog")
DRILL_KINDS = (*DECISION_DRILLS, "sale_month", "awaiting", *CASE_DRILLS)
APPROVAL_STATES = ("approved", "pending", "rejected")
DIRECTIONS = ("more", "less")


@dataclass(frozen=True)
class Drill:
    """The cases behind one number of the page: a `kind` of DRILL_KINDS over `start`..`end` (within the
    page's range), narrowed by the fields that are set — on top of the page's filters, never instead."""

    kind: str
    start: date
    end: date
    service_type: str | None = None
    outcome: str | None = None  # one outcome only (a bar of the money-by-outcome chart)
    reason: str | None = None
    reviewer: int | None = None  # the decider; for the backlog, the assignee
    policy_version: str | None = None
    currency: str | None = None  # the service's currency
    approval: str | None = None  # exceptions in one approval state; answered: approved or rejected
    direction: str | None = None  # overrides: "more" or "less" generous than recommended
    days_from: int | None = None  # lead, close: days from opening (0 = same day or before); backlog: age
    days_to: int | None = None  # None: no upper bound (LEAD_DAYS_MAX + 1 means "31 or more")
    overdue: bool | None = None  # backlog: only cases past (True) or within (False) their due date
    approver: int | None = None  # answered: the manager who answered
    whole_months: bool = False  # the dates as they are, not clipped to the page's range (the sale-month table)


def _check_drill(drill: Drill) -> None:
    if drill.kind not in DRILL_KINDS:
        raise InvalidInput(f"Unknown drill-down {drill.kind!r}.", field="drill")
    if drill.service_type is not None and drill.service_type not in SERVICE_TYPES:
        raise InvalidInput(f"Unknown service type: {drill.service_type}.", field="service_types")
    if drill.reason is not None and drill.reason not in REASONS:
        raise InvalidInput(f"Unknown reason: {drill.reason}.", field="reasons")
    if drill.outcome is not None and drill.outcome not in GENEROSITY:
        raise InvalidInput(f"Unknown outcome: {drill.outcome}.", field="outcome")
    if drill.kind in ("decided", "sale_month") and drill.outcome is not None and drill.outcome not in MONEY_OUTCOMES:
        raise InvalidInput(f"Not a money outcome: {drill.outcome}.", field="outcome")
    if drill.approval is not None and drill.approval not in APPROVAL_STATES:
        raise InvalidInput(f"Unknown approval state: {drill.approval}.", field="approval")
    if drill.direction is not None and drill.direction not in DIRECTIONS:
        raise InvalidInput(f"Overrides are more or less generous, not {drill.direction!r}.", field="direction")
    if drill.currency is not None:
        try:
            check_currency(drill.currency)
        except MoneyError as exc:
            raise InvalidInput(f"Not a currency: {exc}.", field="currency") from None


def _capped_days(days):
    """Days as the histograms count them: 0 for the same day (or before), LEAD_DAYS_MAX + 1 for "or more"."""
    cap = LEAD_DAYS_MAX + 1
    return case((days < 0, 0), (days > cap, cap), else_=days)


def _days_between(days, lo: int | None, hi: int | None) -> list:
    cond = []
    if lo is not None:
        cond.append(days >= lo)
    if hi is not None:
        cond.append(days <= hi)
    return cond


def _generosity(column):
    return case({o: i for i, o in enumerate(GENEROSITY)}, value=column)


def _money(d: Drill) -> list:
    return [Decision.counts, Decision.outcome.in_((d.outcome,) if d.outcome else MONEY_OUTCOMES)]


def _exceptions(d: Drill) -> list:
    return [Decision.is_exception == True, *([Decision.approval_status == d.approval] if d.approval else [])]  # noqa: E712


def _overrides(d: Drill) -> list:
    given, advised = _generosity(Decision.outcome), _generosity(Decision.recommended_outcome)
    return [{"more": given > advised, "less": given < advised}.get(d.direction or "", given != advised)]


def _answered_by(d: Drill) -> list:
    return [
        Decision.approved_at.is_not(None),
        Decision.is_exception == True,  # noqa: E712
        Decision.approval_status.in_((d.approval,) if d.approval else ("approved", "rejected")),
        Decision.approver_id.is_not(None) if d.approver is None else Decision.approver_id == d.approver,
    ]


def _days_to(d: Drill, dialect: str) -> list:
    """Effective decisions made (lead) or closed (close: the approval day when a manager approved it)
    `days_from`..`days_to` days after their case was opened, counted as the histograms count them."""
    days = _days(Decision.decided_on, Case.opened_on, dialect)
    if d.kind == "close":
        waited = and_(
            Decision.approval_status == "approved", Decision.approved_at.is_not(None), Case.decided_on.is_not(None)
        )
        days = case((waited, _days(Case.decided_on, Case.opened_on, dialect)), else_=days)
    return [Decision.counts, *_days_between(_capped_days(days), d.days_from, d.days_to)]


# Per decision drill-down kind, what it selects beyond the dates and the dimensions.
_DECISION_KINDS = {
    "decided": lambda d, dialect: _money(d),
    "sale_month": lambda d, dialect: _money(d),
    "effective": lambda d, dialect: [Decision.counts],
    "recorded": lambda d, dialect: [],
    "exceptions": lambda d, dialect: _exceptions(d),
    "overrides": lambda d, dialect: _overrides(d),
    "lead": _days_to,
    "close": _days_to,
    "answered": lambda d, dialect: _answered_by(d),
    "awaiting": lambda d, dialect: [Decision.approval_status == "pending", Decision.superseded.is_(False)],
}


def _decision_drill(drill: Drill, f: Filters, dialect: str) -> list:
    """The conditions on decisions (joined to their case and service) of a decision drill-down: its
    dates, what its kind selects, its own dimensions and the page's filters."""
    if drill.kind == "sale_month":
        month = _unit_start(drill.start, "month")
        cond: list = [Service.purchased_on.between(month, _next_unit(month, "month") - timedelta(days=1))]
    elif drill.kind == "awaiting":  # a snapshot: the date range does not apply
        cond = []
    elif drill.whole_months:
        cond = [Decision.decided_on.between(drill.start, drill.end)]
    else:
        cond = [Decision.decided_on.between(max(drill.start, f.start), min(drill.end, f.end))]
    cond += _DECISION_KINDS[drill.kind](drill, dialect)
    if drill.outcome and drill.kind not in ("decided", "sale_month"):
        cond.append(Decision.outcome == drill.outcome)
    dims = (
        (Decision.service_type, drill.service_type),
        (Decision.reason, drill.reason),
        (Decision.decided_by_id, drill.reviewer),
        (Decision.policy_version, drill.policy_version),
        (Service.currency, drill.currency),
    )
    cond += [column == value for column, value in dims if value is not None]
    return cond + _decision_conditions(f)


def _case_drill(drill: Drill, f: Filters, today: date, dialect: str) -> list:
    """The conditions on cases (joined to their service) of a case drill-down."""
    if drill.kind == "opened":
        if f.reviewers:
            raise InvalidInput(
                "Cases are nobody's when they are opened: clear the reviewer filter to list them.", field="reviewers"
            )
        cond: list = [Case.opened_on.between(max(drill.start, f.start), min(drill.end, f.end))]
    else:  # the backlog: a snapshot as of today
        cond = [Case.status != "closed"]
        if drill.days_to is not None:  # opened at most days_to days ago
            cond.append(Case.opened_on >= today - timedelta(days=drill.days_to))
        if drill.days_from:  # and at least days_from days ago (a case opened after today is 0 days old)
            cond.append(Case.opened_on <= today - timedelta(days=drill.days_from))
        if drill.overdue is not None:
            cond.append(Case.due_on < today if drill.overdue else or_(Case.due_on >= today, Case.due_on.is_(None)))
    if drill.service_type:
        cond.append(Case.service_type == drill.service_type)
    if drill.reason:
        cond.append(Case.reason == drill.reason)
    if drill.reviewer is not None:
        cond.append(Case.assignee_id == drill.reviewer)
    if drill.currency:
        cond.append(Service.currency == drill.currency)
    return cond + _case_filters(f)


def drill_cases(
    db: Database,
    filters: Filters,
    actor: Actor,
    drill: Drill,
    limit: int = DRILL_LIMIT,
    today: date | None = None,
    exact: bool = True,
):
    """(cases, how many in all): the cases behind `drill` under the page's filters (scoped to what `actor`
    may see), newest first, at most `limit` rows. Decision drill-downs list one row per decision (its case,
    when, by whom, outcome, amount); case drill-downs (opened, backlog — as of `today`) one row per case.
    With `exact=False` a list cut at `limit` is not counted (how many in all: None, "more than `limit`"):
    counting a year of a million-case desk's decisions takes seconds, and the page shows the number
    already."""
    f = scope(validate(filters), actor)
    _check_drill(drill)
    q: Select
    # First the ids of the newest `limit` matches, read from the tables the conditions need (so the planner
    # walks an index of decisions or cases alone), then their columns: joining every table before the LIMIT
    # made PostgreSQL hash-join a million cases for a list of a thousand.
    with _reading(db) as conn:
        dialect = conn.dialect.name
        if drill.kind in CASE_DRILLS:
            cond = _case_drill(drill, f, today or date.today(), dialect)
            base = select(Case.id).where(*cond)
            if drill.currency:
                base = base.join(Service, Service.id == Case.service_id)
            newest = base.order_by(Case.opened_on.desc(), Case.id.desc()).limit(limit).subquery("newest")
            assignee = aliased(User)
            q = (
                select(
                    Case.id.label("case_id"),
                    Case.opened_on,
                    Case.due_on,
                    Case.status,
                    assignee.display_name.label("assignee"),
                    Case.service_type,
                    Case.reason,
                    Case.amount_requested_cents,
                    Service.currency,
                    Service.purchased_on,
                )
                .select_from(newest)
                .join(Case, Case.id == newest.c.id)
                .join(Service, Service.id == Case.service_id)
                .outerjoin(assignee, assignee.id == Case.assignee_id)
                .order_by(Case.opened_on.desc(), Case.id.desc())
            )
        else:
            cond = _decision_drill(drill, f, dialect)
            base = select(Decision.id).where(*cond)
            if drill.kind in ("lead", "close", "sale_month") or drill.currency:  # conditions on the case
                base = base.join(Case, Case.id == Decision.case_id).join(Service, Service.id == Case.service_id)
            newest = base.order_by(Decision.decided_on.desc(), Decision.id.desc()).limit(limit).subquery("newest")
            decider = aliased(User)
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
                    Decision.superseded,
                )
                .select_from(newest)
                .join(Decision, Decision.id == newest.c.id)
                .join(decider, decider.id == Decision.decided_by_id)
                .join(Case, Case.id == Decision.case_id)
                .join(Service, Service.id == Case.service_id)
                .order_by(Decision.decided_on.desc(), Decision.id.desc())
            )
        rows = _frame(conn, q)
        total = len(rows)
        if total < limit:
            return rows, total
        if not exact:
            return rows, None
        # more than listed: count them (only the tables the conditions need)
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
    columns = ["currency", "decisions", "requested_cents", "granted_cents", "cash_cents"]
    t = _covered(requested_rollup, f, "month", columns)
    q = (
        select(t.c.currency, *(func.sum(t.c[c]).label(c) for c in columns[1:]))
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
