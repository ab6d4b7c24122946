"""The open-case queue: the read side reviewers work from.

    page = open_cases(db, actor=actor, filters=QueueFilters(reasons=("our_error",)), after=None, today=today)
    page.rows, page.next_cursor            # 50 rows and the cursor of the next page (None on the last one)
    count_matching(db, actor=actor, filters=..., today=today).total

Paging is keyset, never OFFSET: each sort order walks its own partial index over the open cases (see SORTS),
so page 300 costs what page 1 costs. Filters are SQL WHERE clauses; a name or email search goes through the
open cases' search table (`queue_search`, migrations 0011 and 0013: SQLite FTS5 trigram, PostgreSQL pg_trgm, and
the sort keys of each case) and means the same on both: the text occurs in the customer's name or email, ignoring
case; the contact-window status of each row comes from the policy engine, evaluated on the facts of the 50 rows
shown (desk.facts.facts_from_row, the one mapping), so it always agrees with the case page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Date,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    column,
    func,
    literal,
    literal_column,
    or_,
    select,
    table,
    tuple_,
)
from sqlalchemy import text as sql_text
from sqlalchemy.sql import ColumnElement, TextClause

from data.db import Database
from data.models import Case, Customer, Service, User
from desk.auth import PERMISSIONS, Actor
from desk.decisions import default_book
from desk.facts import facts_from_row, service_fact_columns
from desk.money import format_money
from policy import OUTCOME_LABELS, REASON_LABELS, SERVICE_TYPE_LABELS, PolicyBook, PolicyError, evaluate

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
OPEN_STATUSES = ("open", "awaiting_approval")
STATUS_LABELS = {"open": "Open", "awaiting_approval": "Awaiting approval"}
MAX_LIMIT = 500

# sort key -> (label, column, descending). Each is served by a partial index over the open cases
# (WHERE status <> 'closed'), read forwards or backwards, keyset-paged on (column, id):
#   due, due_desc:                ix_cases_queue (due_on, id); "my cases": ix_cases_queue_assignee
#   amount_desc, amount:          ix_cases_queue_amount (amount_requested_cents, id)
#   age (oldest first), opened:   ix_cases_queue_opened (opened_on, id)
#   customer:                     ix_cases_queue_customer (customer_name, id) — a trigger-kept copy of the name
# "my cases" in each order: ix_cases_queue_assignee (assignee_id, due_on, id) and ix_cases_queue_assignee_amount /
# _opened / _customer (migration 0013). A search with many matches walks queue_search's own (key, case_id) index
# instead (ix_queue_search_due / _amount / _opened / _name; SEARCH_KEYS).
SORTS: dict[str, tuple[str, Any, bool]] = {
    "due": ("Due date — overdue first", Case.due_on, False),
    "due_desc": ("Due date — newest first", Case.due_on, True),
    "amount_desc": ("Amount — largest first", Case.amount_requested_cents, True),
    "amount": ("Amount — smallest first", Case.amount_requested_cents, False),
    "age": ("Age — oldest request first", Case.opened_on, False),
    "opened": ("Opened — newest first", Case.opened_on, True),
    "customer": ("Customer — A to Z", Case.customer_name, False),
}
DUE_SOON_DAYS = 2  # the SLA colours: overdue (past the due date), due soon (due within 2 days), on time
SLA_LABELS = {"overdue": "Overdue", "due_soon": "Due soon", "on_time": "On time"}
MIN_INDEXED_SEARCH = 3  # trigram indexes need three characters; shorter texts scan queue_search (open cases only)
# queue_search's column for each sort key (its `name` is the customer's name, the customer sort's key)
SEARCH_KEYS = {
    "due_on": "due_on",
    "amount_requested_cents": "amount_requested_cents",
    "opened_on": "opened_on",
    "customer_name": "name",
}
FOLD_SEPARATOR = "\n"  # queue_search.folded = lower(name || newline || email)


def sla(days_left: int) -> str:
    """The SLA state of an open case from the days left to its due date."""
    if days_left < 0:
        return "overdue"
    return "due_soon" if days_left <= DUE_SOON_DAYS else "on_time"


Assignee = Literal["any", "mine", "unassigned"] | int


@dataclass(frozen=True)
class QueueFilters:
    """What the reviewer filters on. Empty tuples / None mean "any"."""

    service_types: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()  # subset of OPEN_STATUSES
    assignee: Assignee = "any"
    amount_min_cents: int | None = None
    amount_max_cents: int | None = None
    text: str = ""
    sort: str = "due"

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"unknown sort {self.sort!r}; expected one of {', '.join(SORTS)}")
        bad = [s for s in self.statuses if s not in OPEN_STATUSES]
        if bad:
            raise ValueError(f"unknown status {bad[0]!r}; the queue holds {', '.join(OPEN_STATUSES)}")
        if ordered_amount_range(self.amount_min_cents, self.amount_max_cents)[2]:
            raise ValueError("the amount range ends below its start; use ordered_amount_range first")


def ordered_amount_range(low_cents: int | None, high_cents: int | None) -> tuple[int | None, int | None, bool]:
    """An amount filter "from low to high" in order: a range typed backwards (from 500 to 10) would match
    nothing, so it is read as from 10 to 500. Returns (low, high, swapped)."""
    if low_cents is not None and high_cents is not None and low_cents > high_cents:
        return high_cents, low_cents, True
    return low_cents, high_cents, False


@dataclass(frozen=True)
class QueueCursor:
    """Where the next page starts: the sort key and id of the last row shown (exclusive)."""

    sort: str
    value: Any
    id: int


class QueueRow(NamedTuple):
    """One row of a queue page. A named tuple, not a frozen dataclass: a page builds 50 of them, and a frozen
    dataclass's ``__init__`` (an ``object.__setattr__`` per field) cost ~0.15 ms of a ~2.5 ms PostgreSQL first
    page at 1,000,000 cases; a tuple is as read-only and several times cheaper to build."""

    case_id: int
    version: int
    status: str
    customer_name: str
    customer_email: str
    service_type: str
    reason: str
    amount_requested_cents: int
    currency: str  # of the amount (the service's)
    opened_on: date
    due_on: date
    age_days: int
    days_left: int
    window: str  # "within", "late", "not started" (the window does not apply) or "check facts"
    assignee_id: int | None
    assignee_name: str | None
    recommended: str | None = None  # the policy's recommended outcome (None when the facts do not evaluate)

    @property
    def sla(self) -> str:
        return sla(self.days_left)

    @property
    def awaiting_approval(self) -> bool:
        return self.status == "awaiting_approval"


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: QueueCursor | None
    sort: str = "due"

    def frame(self, *, export: bool = False) -> pd.DataFrame:
        """The rows as the table a reviewer reads (plain values; the page formats them). `export` adds the
        customer's email, the dates and the raw codes (for a CSV)."""
        df = pd.DataFrame(
            {
                "Case": [r.case_id for r in self.rows],
                "Due": [SLA_LABELS[r.sla] for r in self.rows],
                "Customer": [r.customer_name for r in self.rows],
                "Service": [SERVICE_TYPE_LABELS.get(r.service_type, r.service_type) for r in self.rows],
                "Reason": [REASON_LABELS.get(r.reason, r.reason) for r in self.rows],
                # formatted in each case's own currency: the queue mixes currencies
                "Requested": [format_money(r.amount_requested_cents, r.currency) for r in self.rows],
                "Age (days)": [r.age_days for r in self.rows],
                "Days left": [r.days_left for r in self.rows],
                "Window": [r.window for r in self.rows],
                "Recommended": [
                    OUTCOME_LABELS.get(r.recommended, "check facts") if r.recommended else "check facts"
                    for r in self.rows
                ],
                "Assignee": [r.assignee_name or "—" for r in self.rows],
                "Status": [STATUS_LABELS.get(r.status, r.status) for r in self.rows],
            }
        )
        if export:
            df.insert(2, "Email", [r.customer_email for r in self.rows])
            df["Opened on"] = [r.opened_on.isoformat() for r in self.rows]
            df["Due on"] = [r.due_on.isoformat() for r in self.rows]
            df["Status"] = [r.status for r in self.rows]
            df["Version"] = [r.version for r in self.rows]
        return df


@dataclass(frozen=True)
class QueueCount:
    total: int
    overdue: int
    awaiting_approval: int
    capped: bool = False  # a search matching more than COUNT_CAP cases: `total` reads "more than COUNT_CAP"


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def case_number(text: str) -> int | None:
    """The case id a search text names ("123" or "#123"), else None."""
    t = text.strip().lstrip("#").strip()
    return int(t) if t.isdigit() and t.isascii() and len(t) <= 18 else None


def _fts_phrase(text: str) -> str:
    """The text as one FTS5 phrase (a trigram phrase matches the text anywhere in a column)."""
    return '"' + text.replace('"', '""') + '"'


def search_text(filters: QueueFilters) -> str | None:
    """The text of a name-or-email search (None for no text, a case number or a whole address)."""
    text = filters.text.strip()
    if not text or case_number(text) is not None or _EMAIL.fullmatch(text):
        return None
    return text


_QUEUE_SEARCH = table(
    "queue_search",
    column("case_id", Integer),
    column("name", String),
    column("email", String),
    column("folded", String),
    column("due_on", Date),
    column("amount_requested_cents", BigInteger),
    column("opened_on", Date),
)


def _fts_ids(text: str) -> Select:
    """SQLite: the case ids whose name or email holds `text` (three characters or more), from the trigram index."""
    return (
        select(literal_column("rowid"))
        .select_from(sql_text("queue_search_fts"))
        .where(sql_text("queue_search_fts MATCH :fts_phrase").bindparams(fts_phrase=_fts_phrase(text)))
    )


def row_matches(text: str, dialect: str) -> ColumnElement[bool]:
    """Whether the queue_search row holds `text` in its name or email, ignoring case, checked on the row itself:
    `instr` (SQLite) / `strpos` (PostgreSQL) of the lowered text in `folded`, the lowered name and email. Each
    backend lowers as its LIKE / ILIKE folds (SQLite: ASCII letters; PostgreSQL: lower(), which ILIKE applies
    too), so this is LIKE's / ILIKE's answer. On SQLite a text of three characters or more with a non-ASCII letter
    asks the trigram index instead (FTS5 folds those letters, SQLite's lower() does not)."""
    q = _QUEUE_SEARCH.c
    if FOLD_SEPARATOR not in text and (dialect != "sqlite" or text.isascii() or len(text) < MIN_INDEXED_SEARCH):
        lowered = func.lower(bindparam("search_text", text, type_=String))
        return (func.instr if dialect == "sqlite" else func.strpos)(q.folded, lowered) > 0
    if dialect == "sqlite" and len(text) >= MIN_INDEXED_SEARCH:
        return q.case_id.in_(_fts_ids(text))
    like = _like(text)  # a text holding the separator: each column on its own
    if dialect == "sqlite":
        return or_(q.name.like(like, escape="\\"), q.email.like(like, escape="\\"))
    return or_(q.name.ilike(like, escape="\\"), q.email.ilike(like, escape="\\"))


def matching_cases(text: str, dialect: str) -> Select:
    """Ids of the open cases whose customer's name or email contains `text`, ignoring case, read from
    `queue_search` (one row per open case; migrations 0011, 0013) through its trigram index: FTS5
    (`queue_search_fts`) on SQLite, pg_trgm GIN indexes on PostgreSQL. A text shorter than a trigram scans the
    table's `folded` column (25,000 rows at 1,000,000 cases)."""
    if len(text) < MIN_INDEXED_SEARCH:
        return select(_QUEUE_SEARCH.c.case_id).where(row_matches(text, dialect))
    if dialect == "sqlite":
        return _fts_ids(text)
    like = _like(text)
    return select(_QUEUE_SEARCH.c.case_id).where(
        or_(_QUEUE_SEARCH.c.name.ilike(like, escape="\\"), _QUEUE_SEARCH.c.email.ilike(like, escape="\\"))
    )


def search_key(sort: str, dialect: str) -> Any:
    """queue_search's column for a sort order's key (the name compared byte-wise on PostgreSQL, as
    cases.customer_name is: COLLATE "C", the collation of ix_queue_search_name)."""
    key = _QUEUE_SEARCH.c[SEARCH_KEYS[SORTS[sort][1].key]]
    return key.collate("C") if key.name == "name" and dialect != "sqlite" else key


SEARCH_FEW = 200  # up to this many matching open cases: read them by id and sort them; more: walk queue_search
COUNT_CAP = 1_000  # a search's count line stops counting here ("more than 1,000")
Search = tuple[Literal["ids", "walk", "check"] | None, dict[str, Any]]
# PostgreSQL estimates a walk badly (it merge-joined all open cases to the matches, 450 ms for 'e' newest first at
# 1,000,000 cases): for a walk or a check the statement's transaction turns merge and hash joins and parallel
# workers off, leaving the nested loop along the sort index (5-20 ms)
_PG_WALK = (
    "SET LOCAL enable_mergejoin = off",
    "SET LOCAL enable_hashjoin = off",
    "SET LOCAL max_parallel_workers_per_gather = 0",
)


def _many_matches(filters: QueueFilters) -> Literal["walk", "check"]:
    """How a search with many matches runs: "walk" along queue_search's sort index; "check" — with one reviewer's
    cases asked for, which are few — along the cases' own index (ix_cases_queue_assignee*), each case checked by
    its queue_search row."""
    who = filters.assignee
    return "check" if who == "mine" or (isinstance(who, int) and not isinstance(who, bool)) else "walk"


def _prepare(conn: Any, search: str | None, dialect: str) -> None:
    if search in ("walk", "check") and dialect == "postgresql":
        for statement in _PG_WALK:
            conn.exec_driver_sql(statement)


def plan_search(conn: Any, filters: QueueFilters, dialect: str, few: int | None = None) -> Search:
    """How a name-or-email search is run, decided by asking the index for at most `few` + 1 matches (default
    SEARCH_FEW; never all of them): "ids" — few matches, read by id (their ids go in as a bound list) and
    sorted; "walk" — many, so queue_search is walked in the sort order (its own (key, case_id) index, the keys
    copied from the case) and each row checked by itself (`row_matches`) until a page is full: the more cases
    match, the sooner it fills, and no set of all matches is ever built. (None, {}) when the filters hold no
    such search."""
    text = search_text(filters)
    if text is None:
        return None, {}
    few = SEARCH_FEW if few is None else few
    ids = conn.execute(matching_cases(text, dialect).limit(few + 1)).scalars().all()
    if len(ids) <= few:
        return "ids", {"search_ids": list(ids)}
    return _many_matches(filters), {}


def _written(number: int, dialect: str) -> Any:
    """A whole number of the filters written into a PostgreSQL statement rather than bound (see `_where`): the
    statement is built once per filter combination and actor anyway (`_page_statement`), and a generic plan made
    for one reviewer's id or one amount is then the plan of that reviewer or amount, not of an average one."""
    return literal_column(str(int(number)), Integer) if dialect != "sqlite" else number


def _where(
    filters: QueueFilters, actor_id: int | None, dialect: str, search: str | None = None
) -> list[ColumnElement[bool] | TextClause]:
    # `status <> 'closed'` verbatim: it is the partial index's predicate, so the planner may use the index. On
    # PostgreSQL it is written into the statement, not bound: psycopg prepares a statement run five times, and
    # the server's generic plan of a prepared statement cannot use a partial index whose predicate depends on a
    # parameter (338 ms a first page at 1,000,000 cases), so with 'closed' bound every execution was planned
    # afresh (0.7-1 ms of the first page's ~1.5 ms on the server); with it written in, the generic plan walks the
    # same index and is reused.
    closed: Any = literal_column("'closed'", String) if dialect != "sqlite" else "closed"
    clauses: list[ColumnElement[bool] | TextClause] = [Case.status != closed]
    if filters.statuses and set(filters.statuses) != set(OPEN_STATUSES):
        clauses.append(Case.status.in_(filters.statuses))
    if filters.service_types:
        clauses.append(Case.service_type.in_(filters.service_types))
    if filters.reasons:
        clauses.append(Case.reason.in_(filters.reasons))
    if filters.assignee == "mine":
        clauses.append(Case.assignee_id == _written(actor_id if actor_id is not None else -1, dialect))
    elif filters.assignee == "unassigned":
        clauses.append(Case.assignee_id.is_(None))
    elif isinstance(filters.assignee, int) and not isinstance(filters.assignee, bool):
        clauses.append(Case.assignee_id == _written(filters.assignee, dialect))
    if filters.amount_min_cents is not None:
        clauses.append(Case.amount_requested_cents >= _written(filters.amount_min_cents, dialect))
    if filters.amount_max_cents is not None:
        clauses.append(Case.amount_requested_cents <= _written(filters.amount_max_cents, dialect))
    text = filters.text.strip()
    if text:
        clauses.append(_text_clause(text, dialect, search))
    return clauses


def _text_clause(text: str, dialect: str, search: str | None) -> ColumnElement[bool] | TextClause:
    """The search box's clause: a case number, a whole email address, or a name/email text (planned by
    `plan_search`: "walk" — checked on the queue_search row the statement joins — or the matching ids bound at
    execution)."""
    number = case_number(text)
    if number is not None:
        return Case.id == number
    if _EMAIL.fullmatch(text):
        # a whole address: exact match through ix_customers_email (emails are stored lower-case)
        return Case.customer_id.in_(select(Customer.id).where(Customer.email == text.lower()))
    if search == "walk":  # the statement reads queue_search joined to the cases (_walked)
        return row_matches(text, dialect)
    if search == "check" and dialect != "sqlite":
        # PostgreSQL: the case's own queue_search row, asked by a scalar subquery (a SubPlan the planner cannot
        # turn into a join), so the statement walks the reviewer's index in the sort order and stops after a page.
        # As an EXISTS it was planned as a join of all the reviewer's cases, sorted afterwards (47 ms for 'm' at
        # 1,000,000 cases); as IN (the set of matches) it joined every match (33-39 ms for 'example.com').
        return (
            select(row_matches(text, dialect))
            .select_from(_QUEUE_SEARCH)
            .where(_QUEUE_SEARCH.c.case_id == Case.id)
            .scalar_subquery()
        )
    if search == "check":  # SQLite: the case's own queue_search row, by its primary key
        return (
            select(literal(1))
            .select_from(_QUEUE_SEARCH)
            .where(_QUEUE_SEARCH.c.case_id == Case.id, row_matches(text, dialect))
            .exists()
        )
    return Case.id.in_(bindparam("search_ids", expanding=True))


def _walked(search: str | None) -> Any:
    """What a statement reads from: the cases, or for a "walk" search queue_search joined to its cases (the
    search table first: the statement walks it in the sort order)."""
    if search == "walk":
        return _QUEUE_SEARCH.join(Case, Case.id == _QUEUE_SEARCH.c.case_id)
    return Case


def _order_key(sort: str, dialect: str, search: str | None) -> tuple[Any, Any]:
    """(key, id) the statement orders and pages by: the case's, or queue_search's copy for a "walk" search."""
    if search == "walk":
        return search_key(sort, dialect), _QUEUE_SEARCH.c.case_id
    return SORTS[sort][1], Case.id


def _keyset(sort: str, dialect: str = "sqlite", search: str | None = None) -> ColumnElement[bool]:
    """(sort column, id) after the cursor's, in the sort's direction; values bound at execution."""
    _, column, descending = SORTS[sort]
    key = tuple_(*_order_key(sort, dialect, search))
    bound = tuple_(bindparam("after_value", type_=column.type), bindparam("after_id", type_=Case.id.type))
    return key < bound if descending else key > bound


@lru_cache(maxsize=512)
def _page_statement(
    filters: QueueFilters, actor_id: int | None, keyset: bool, limit: int, dialect: str, search: str | None = None
) -> Select:
    """The page query for a filter combination, built once (building a select costs more than running it)."""
    _, _column, descending = SORTS[filters.sort]
    q = (
        select(
            Case.id,
            Case.version,
            Case.status,
            Case.reason,
            Case.amount_requested_cents,
            Case.opened_on,
            Case.due_on,
            Case.assignee_id,
            Case.fix_attempted,
            Case.fix_succeeded,
            # asked of SQL, as the replay does (desk.facts reads it instead of parsing the JSON list)
            (func.coalesce(func.json_array_length(Case.documentation), 0) > 0).label("documentation_provided"),
            Customer.name.label("customer_name"),
            Customer.email.label("customer_email"),
            *service_fact_columns(),  # the verdict's service columns, service_type too (cases hold a copy of it)
            Service.currency,
            User.display_name.label("assignee_name"),
        )
        .select_from(_walked(search))
        .join(Customer, Customer.id == Case.customer_id)
        .join(Service, Service.id == Case.service_id)
        .outerjoin(User, User.id == Case.assignee_id)  # the assignee's name in the same statement
        .where(*_where(filters, actor_id, dialect, search))
    )
    if keyset:
        q = q.where(_keyset(filters.sort, dialect, search))
    key, key_id = _order_key(filters.sort, dialect, search)
    order = (key.desc(), key_id.desc()) if descending else (key.asc(), key_id.asc())
    # PostgreSQL: the limit written in too (a bound LIMIT makes the generic plan assume a tenth of the rows and
    # sort them all)
    return q.order_by(*order).limit(_written(limit + 1, dialect))


@lru_cache(maxsize=512)
def _count_statement(filters: QueueFilters, actor_id: int | None, dialect: str, search: str | None = None) -> Select:
    today = bindparam("today", type_=Case.due_on.type)
    where = and_(*_where(filters, actor_id, dialect, search))
    source: Any
    due_on: Any
    status: Any
    if search in ("walk", "check"):  # many matches: count up to COUNT_CAP + 1 of them, never all
        capped = (
            select(Case.due_on, Case.status)
            .select_from(_walked(search))
            .where(where)
            .limit(bindparam("count_limit"))
            .subquery()
        )
        source, due_on, status = capped, capped.c.due_on, capped.c.status
    else:
        source, due_on, status = Case, Case.due_on, Case.status
    q = select(
        func.count(),
        func.coalesce(func.sum(case((due_on < today, 1), else_=0)), 0),
        func.coalesce(func.sum(case((status == "awaiting_approval", 1), else_=0)), 0),
    ).select_from(source)
    return q if search in ("walk", "check") else q.where(where)


def _window(row: Any, book: PolicyBook) -> tuple[str, str | None]:
    """(contact-window status, recommended outcome) of a row, from the policy engine."""
    try:
        verdict = evaluate(facts_from_row(row), book)
    except PolicyError:
        return "check facts", None
    if verdict.rule == 1:  # not started: the contact window does not apply
        return "not started", verdict.recommended_outcome
    return ("within" if verdict.within_window else "late"), verdict.recommended_outcome


def _one_statement(conn: Any) -> Any:
    """A PostgreSQL page read made of one statement, run outside a transaction. Inside one, the read ends in the
    pool's ROLLBACK, and psycopg forgets its prepared statements at every ROLLBACK: each first page was then
    parsed and planned afresh (planning ~0.75 ms of ~1.3 ms on the server at 1,000,000 cases, with the 15
    indexes of cases to weigh), plus the BEGIN and ROLLBACK round trips. Out of one, psycopg prepares the
    statement from its fifth run on a connection and the server reuses its generic plan, which is the custom
    plan because the filters are written into the statement (`_where`). A single SELECT sees one snapshot
    either way."""
    return conn.execution_options(isolation_level="AUTOCOMMIT")


def open_cases(
    db: Database,
    *,
    actor: Actor | None,
    filters: QueueFilters,
    after: QueueCursor | None = None,
    limit: int = 50,
    today: date,
    book: PolicyBook | None = None,
) -> QueuePage:
    """One page of open cases matching `filters`, in `filters.sort` order, starting after `after`."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    sort = filters.sort
    if after is not None and after.sort != sort:
        after = None  # a cursor from another sort order means nothing here: start again
    column = SORTS[sort][1]
    dialect = db.engine.dialect.name
    params = {"after_value": after.value, "after_id": after.id} if after is not None else {}
    book = book or default_book(db)
    with db.engine.connect() as conn:  # Core, not the ORM: plain rows are all the queue needs
        if dialect == "postgresql" and search_text(filters) is None:
            conn = _one_statement(conn)
        search, search_params = plan_search(conn, filters, dialect)
        _prepare(conn, search, dialect)
        q = _page_statement(filters, actor.id if actor else None, after is not None, limit, dialect, search)
        records = conn.execute(q, {**params, **search_params}).all()
    more = len(records) > limit
    records = records[:limit]
    rows = []
    for r in records:
        m = r._mapping  # keyed reads through the mapping: ~7x cheaper than a Row's attributes (50 rows x 15)
        window, recommended = _window(m, book)
        rows.append(
            QueueRow(
                case_id=m["id"],
                version=m["version"],
                status=m["status"],
                customer_name=m["customer_name"],
                customer_email=m["customer_email"],
                service_type=m["service_type"],
                reason=m["reason"],
                amount_requested_cents=m["amount_requested_cents"],
                currency=m["currency"],
                opened_on=m["opened_on"],
                due_on=m["due_on"],
                age_days=(today - m["opened_on"]).days,
                days_left=(m["due_on"] - today).days,
                window=window,
                assignee_id=m["assignee_id"],
                assignee_name=m["assignee_name"],
                recommended=recommended,
            )
        )
    next_cursor = None
    if more and rows:
        last = records[-1]
        next_cursor = QueueCursor(sort, getattr(last, column.key), last.id)
    return QueuePage(rows=rows, next_cursor=next_cursor, sort=sort)


@dataclass(frozen=True)
class Neighbours:
    """The cases before and after one case in a queue view (None at either end)."""

    previous: int | None
    next: int | None


def neighbours(db: Database, *, actor: Actor | None, filters: QueueFilters, case_id: int) -> Neighbours:
    """The previous and next open case around `case_id` in the view's order: one indexed step each way from the
    case's own (sort key, id), so it works whether or not the case is still open or still matches the filters
    (after a decision, "next" is the case that followed it)."""
    _, column, descending = SORTS[filters.sort]
    dialect = db.engine.dialect.name
    with db.engine.connect() as conn:
        search, search_params = plan_search(conn, filters, dialect)
        _prepare(conn, search, dialect)
        where = _where(filters, actor.id if actor else None, dialect, search)
        here = conn.execute(select(column, Case.id).where(Case.id == case_id)).first()
        if here is None:
            return Neighbours(None, None)
        by, by_id = _order_key(filters.sort, dialect, search)
        key, at = tuple_(by, by_id), tuple_(literal(here[0], column.type), literal(here[1], Case.id.type))
        forward = (by.desc(), by_id.desc()) if descending else (by.asc(), by_id.asc())
        backward = (by.asc(), by_id.asc()) if descending else (by.desc(), by_id.desc())
        after = key < at if descending else key > at
        before = key > at if descending else key < at
        ids = select(Case.id).select_from(_walked(search))
        nxt = conn.execute(ids.where(*where, after).order_by(*forward).limit(1), search_params).scalar()
        prev = conn.execute(ids.where(*where, before).order_by(*backward).limit(1), search_params).scalar()
    return Neighbours(prev, nxt)


def export_frame(
    db: Database, *, actor: Actor | None, filters: QueueFilters, today: date, cap: int = 5_000
) -> pd.DataFrame:
    """Up to `cap` matching rows in queue order, walked page by page with the same keyset queries."""
    rows: list[QueueRow] = []
    cursor = None
    while len(rows) < cap:
        page = open_cases(
            db, actor=actor, filters=filters, after=cursor, limit=min(MAX_LIMIT, cap - len(rows)), today=today
        )
        rows += page.rows
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    return QueuePage(rows=rows, next_cursor=None, sort=filters.sort).frame(export=True)


def count_matching(db: Database, *, actor: Actor | None, filters: QueueFilters, today: date) -> QueueCount:
    """How many open cases match the filters (and of those, how many are overdue / awaiting approval). A search
    matching more than COUNT_CAP cases is not counted to the end: `capped` says the total is "more than
    COUNT_CAP", and its overdue and awaiting figures mean nothing (the page does not show them)."""
    dialect = db.engine.dialect.name
    with db.engine.connect() as conn:
        # up to COUNT_CAP matches are counted exactly by id; more, with no other filter, are "more than" at once
        search, search_params = plan_search(conn, filters, dialect, few=COUNT_CAP)
        if search is not None and search != "ids":
            if filters == QueueFilters(text=filters.text, sort=filters.sort):
                return QueueCount(COUNT_CAP, 0, 0, capped=True)
            search = _many_matches(filters)  # with other filters: counted up to the cap
        _prepare(conn, search, dialect)
        q = _count_statement(filters, actor.id if actor else None, dialect, search)
        total, overdue, awaiting = conn.execute(
            q, {"today": today, "count_limit": COUNT_CAP + 1, **search_params}
        ).one()
    if search in ("walk", "check") and int(total) > COUNT_CAP:  # only a search's count stops at the cap
        return QueueCount(COUNT_CAP, int(overdue), int(awaiting), capped=True)
    return QueueCount(int(total), int(overdue), int(awaiting))


def queue_users(db: Database) -> list[tuple[int, str]]:
    """(id, display name) of the users a queue can be filtered by (active reviewers and managers)."""
    with db.read() as s:
        return [
            (uid, name)
            for uid, name in s.execute(
                select(User.id, User.display_name)
                .where(User.active.is_(True), User.role.in_(PERMISSIONS["act_on_case"]))
                .order_by(User.display_name)
            )
        ]
