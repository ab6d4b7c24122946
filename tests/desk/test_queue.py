"""The open-case queue in desk/: keyset paging (every open case exactly once, no OFFSET), each filter and its
count, the sort orders, and window statuses that agree with the policy engine. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from data.models import Case, Customer, Service
from desk.auth import find_active_user
from desk.cases import case_detail
from desk.queue import SORTS, QueueCursor, QueueFilters, count_matching, open_cases
from tests.support.cases import TODAY, add_case, user_id
from tests.support.sql import statements_sent


def all_open(db) -> list[dict]:
    """Every open case with its customer, read plainly (the expectation the queue is checked against)."""
    with db.read() as s:
        rows = s.execute(
            select(Case, Customer).join(Customer, Customer.id == Case.customer_id).where(Case.status != "closed")
        ).all()
        return [
            dict(
                id=c.id,
                due_on=c.due_on,
                status=c.status,
                service_type=c.service_type,
                reason=c.reason,
                amount=c.amount_requested_cents,
                assignee_id=c.assignee_id,
                name=cu.name,
                email=cu.email,
            )
            for c, cu in rows
        ]


def walk(db, filters: QueueFilters, actor=None, limit: int = 5) -> list:
    """Every row of the queue, page by page, following the cursors."""
    rows, cursor, pages = [], None, 0
    while True:
        page = open_cases(db, actor=actor, filters=filters, after=cursor, limit=limit, today=TODAY)
        rows += page.rows
        pages += 1
        assert len(page.rows) <= limit
        if page.next_cursor is None:
            return rows
        assert len(page.rows) == limit
        cursor = page.next_cursor
        assert pages < 1000


@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_paging_returns_every_open_case_exactly_once_in_order(demo_db, sort):
    expected = all_open(demo_db)
    assert len(expected) >= 20
    rows = walk(demo_db, QueueFilters(sort=sort), limit=7)
    ids = [r.case_id for r in rows]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == {e["id"] for e in expected}
    keys = [(sort_value(r, sort), r.case_id) for r in rows]
    assert keys == sorted(keys, reverse=SORTS[sort][2])


def sort_value(row, sort: str):
    """The value a sort orders by, read from the row (the customer's name as shown, not the trigger's copy)."""
    return {
        "due": row.due_on,
        "due_desc": row.due_on,
        "amount": row.amount_requested_cents,
        "amount_desc": row.amount_requested_cents,
        "age": row.opened_on,
        "opened": row.opened_on,
        "customer": row.customer_name,
    }[sort]


def test_the_default_order_puts_overdue_cases_first(demo_db):
    page = open_cases(demo_db, actor=None, filters=QueueFilters(), today=TODAY)
    days_left = [r.days_left for r in page.rows]
    assert days_left == sorted(days_left)
    assert days_left[0] < 0, "the demo desk has overdue cases"
    assert count_matching(demo_db, actor=None, filters=QueueFilters(), today=TODAY).overdue == sum(
        1 for e in all_open(demo_db) if e["due_on"] < TODAY
    )


def test_a_cursor_of_another_sort_order_starts_again(demo_db):
    first = open_cases(demo_db, actor=None, filters=QueueFilters(), limit=3, today=TODAY)
    other = open_cases(
        demo_db, actor=None, filters=QueueFilters(sort="due_desc"), after=first.next_cursor, limit=3, today=TODAY
    )
    again = open_cases(demo_db, actor=None, filters=QueueFilters(sort="due_desc"), limit=3, today=TODAY)
    assert [r.case_id for r in other.rows] == [r.case_id for r in again.rows]


def test_no_query_pages_with_offset(demo_db):
    """Page 2 is found by the keyset (due_on, id) > (...), never by skipping rows (SQLite's dialect always
    appends a constant `OFFSET 0`, which skips nothing)."""
    with statements_sent(demo_db.engine) as statements:
        page1 = open_cases(demo_db, actor=None, filters=QueueFilters(), limit=5, today=TODAY)
        open_cases(demo_db, actor=None, filters=QueueFilters(), after=page1.next_cursor, limit=5, today=TODAY)
    queue_sql = [(sql, p) for sql, p in statements if "FROM cases" in sql and "ORDER BY" in sql]
    assert len(queue_sql) == 2
    page2_sql, params = queue_sql[1]
    assert "(cases.due_on, cases.id) >" in page2_sql
    if "OFFSET" in page2_sql:
        values = list(params.values()) if isinstance(params, dict) else list(params)
        assert values[-1] == 0 and demo_db.backend == "sqlite"


def _expect(db, pred) -> set[int]:
    return {e["id"] for e in all_open(db) if pred(e)}


def _filtered(db, filters, actor=None) -> set[int]:
    rows = walk(db, filters, actor=actor, limit=4)
    ids = {r.case_id for r in rows}
    assert len(ids) == len(rows)
    assert count_matching(db, actor=actor, filters=filters, today=TODAY).total == len(rows)
    return ids


def test_each_filter_matches_exactly_the_cases_it_names_and_counts_them(demo_db):
    db = demo_db
    rita = find_active_user(db, "rita@refund-desk.example")
    omar = user_id(db, "omar")
    cases = {
        "service type": (QueueFilters(service_types=("subscription",)), lambda e: e["service_type"] == "subscription"),
        "two reasons": (
            QueueFilters(reasons=("our_error", "technical_issue")),
            lambda e: e["reason"] in ("our_error", "technical_issue"),
        ),
        "awaiting approval": (
            QueueFilters(statuses=("awaiting_approval",)),
            lambda e: e["status"] == "awaiting_approval",
        ),
        "open only": (QueueFilters(statuses=("open",)), lambda e: e["status"] == "open"),
        "mine": (QueueFilters(assignee="mine"), lambda e: e["assignee_id"] == rita.id),
        "unassigned": (QueueFilters(assignee="unassigned"), lambda e: e["assignee_id"] is None),
        "a colleague": (QueueFilters(assignee=omar), lambda e: e["assignee_id"] == omar),
        "amount range": (
            QueueFilters(amount_min_cents=5_000, amount_max_cents=15_000),
            lambda e: 5_000 <= e["amount"] <= 15_000,
        ),
    }
    for name, (filters, pred) in cases.items():
        expected = _expect(db, pred)
        assert expected, f"the demo desk has no case for {name}"
        assert _filtered(db, filters, actor=rita) == expected, name
    everything = _expect(db, lambda e: True)
    assert _filtered(db, QueueFilters(), actor=rita) == everything
    combined = QueueFilters(reasons=("our_error", "technical_issue"), assignee="unassigned")
    assert _filtered(db, combined, actor=rita) == _expect(
        db, lambda e: e["reason"] in ("our_error", "technical_issue") and e["assignee_id"] is None
    )


def test_the_text_search_finds_name_email_and_case_number(demo_db):
    db = demo_db
    a = add_case(db, customer_name="Bartholomew Quill", customer_email="b.quill@firm.example")
    b = add_case(db, customer_name="Anna 100% Sure_Thing", customer_email="anna@firm.example")
    closed = add_case(db, customer_name="Bartholomew Closed", status="closed")
    assert _filtered(db, QueueFilters(text="bartholomew")) == {a}  # case-insensitive; closed cases never show
    assert _filtered(db, QueueFilters(text="QUILL@FIRM")) == {a}  # part of an email
    assert _filtered(db, QueueFilters(text="b.quill@firm.example")) == {a}  # a whole email: exact match
    assert _filtered(db, QueueFilters(text=str(b))) == {b}  # digits: the case number
    assert _filtered(db, QueueFilters(text=f"#{a}")) == {a}
    assert _filtered(db, QueueFilters(text=str(closed))) == set()
    assert _filtered(db, QueueFilters(text="100%")) == {b}  # LIKE wildcards are literal
    assert _filtered(db, QueueFilters(text="a_1")) == set()  # "_" would match the space in "Anna 100"
    assert _filtered(db, QueueFilters(text="Sure_")) == {b}


def test_the_window_status_agrees_with_the_policy_engine(demo_db):
    db = demo_db
    late = add_case(db, service_date=TODAY - timedelta(days=30), opened_on=TODAY - timedelta(days=3))
    within = add_case(db, service_date=TODAY - timedelta(days=10), opened_on=TODAY - timedelta(days=3))
    not_started = add_case(db, service_status="not_started", service_date=TODAY + timedelta(days=3))
    rows = {r.case_id: r for r in walk(db, QueueFilters(), limit=50)}
    assert (rows[late].window, rows[within].window, rows[not_started].window) == ("late", "within", "not started")
    for r in rows.values():
        verdict = case_detail(db, r.case_id, TODAY).verdict
        if verdict.rule == 1:
            assert r.window == "not started"
        else:
            assert r.window == ("within" if verdict.within_window else "late"), r.case_id


def test_rows_carry_what_the_table_shows(demo_db):
    db = demo_db
    cid = add_case(
        db, customer_name="Row Person", price_cents=4_250, assignee="li", opened_on=TODAY - timedelta(days=4)
    )
    row = next(r for r in walk(db, QueueFilters(), limit=50) if r.case_id == cid)
    assert (row.customer_name, row.amount_requested_cents, row.assignee_name) == ("Row Person", 4_250, "Li Wei")
    assert (row.age_days, row.days_left, row.version) == (4, 10, 1)
    frame = open_cases(db, actor=None, filters=QueueFilters(text=str(cid)), today=TODAY).frame()
    assert list(frame.columns) == [
        "Case",
        "Due",
        "Customer",
        "Service",
        "Reason",
        "Requested",
        "Age (days)",
        "Days left",
        "Window",
        "Recommended",
        "Assignee",
        "Status",
    ]
    assert frame.iloc[0]["Requested"] == "$42.50" and frame.iloc[0]["Assignee"] == "Li Wei"


def test_the_queue_shows_each_amount_in_its_own_currency(demo_db):
    db = demo_db
    cids = {cur: add_case(db, customer_name=f"Buyer {cur}", price_cents=123_456) for cur in ("USD", "EUR", "GBP")}
    with db.write.begin() as s:
        for cur, cid in cids.items():
            service_id = s.scalar(select(Case.service_id).where(Case.id == cid))
            s.execute(update(Service).where(Service.id == service_id).values(currency=cur))
    page = open_cases(db, actor=None, filters=QueueFilters(text="Buyer"), today=TODAY)
    shown = dict(zip(page.frame()["Customer"], page.frame()["Requested"]))
    assert shown == {"Buyer USD": "$1,234.56", "Buyer EUR": "€1,234.56", "Buyer GBP": "£1,234.56"}
    assert {r.currency for r in page.rows} == {"USD", "EUR", "GBP"}


def test_an_awaiting_approval_case_carries_its_badge(demo_db):
    page = open_cases(demo_db, actor=None, filters=QueueFilters(statuses=("awaiting_approval",)), today=TODAY)
    assert page.rows and all(r.awaiting_approval for r in page.rows)
    assert set(page.frame()["Status"]) == {"Awaiting approval"}


def test_the_queue_uses_the_partial_index_on_sqlite(demo_db):
    if demo_db.backend != "sqlite":
        pytest.skip("query plans differ; PostgreSQL plans small test tables with sequential scans")
    from sqlalchemy import text

    cursor = QueueCursor("due", TODAY, 0)
    with statements_sent(demo_db.engine, "ORDER BY") as statements:
        open_cases(demo_db, actor=None, filters=QueueFilters(), after=cursor, today=TODAY)
    sql, params = statements[0]
    with demo_db.engine.connect() as c:
        plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        c.execute(text("SELECT 1"))
    assert "ix_cases_queue" in plan and "TEMP B-TREE" not in plan


def test_the_search_means_the_same_on_every_backend_long_or_short(demo_db):
    """A text of three characters or more goes through the trigram index (FTS5 / pg_trgm), a shorter one through
    LIKE; both mean "occurs in the name or the email, ignoring case"."""
    db = demo_db
    a = add_case(db, customer_name="Zoë Ngata-Whitlock", customer_email="zn@kiwi.example")
    b = add_case(db, customer_name="Ola Qx", customer_email="q.x@kiwi.example")
    expected = {
        "ngata-whit": {a},
        "WHITLOCK": {a},
        "kiwi.example": {a, b},
        "@kiwi": {a, b},
        "qx": {b},
        "Q.": {b},
        'ol"a': set(),
        "Zoë": {a},
    }
    for text, ids in expected.items():
        found = _filtered(db, QueueFilters(text=text))
        assert ids <= found, text
        if text not in ("@kiwi", "kiwi.example"):
            assert found == {
                e["id"] for e in all_open(db) if text.lower() in e["name"].lower() or text.lower() in e["email"]
            }, text


def test_search_and_the_customer_sort_follow_a_renamed_customer(demo_db):
    """Triggers keep the search index and the cases' copy of the name in step with the customers table."""
    from sqlalchemy import update

    db = demo_db
    cid = add_case(db, customer_name="Persephone Old", customer_email="p.old@example.test")
    with db.write.begin() as s:
        customer_id = s.scalar(select(Case.customer_id).where(Case.id == cid))
        s.execute(update(Customer).where(Customer.id == customer_id).values(name="Aaaa Renamed"))
    assert _filtered(db, QueueFilters(text="persephone")) == set()
    assert _filtered(db, QueueFilters(text="aaaa renamed")) == {cid}
    first = open_cases(db, actor=None, filters=QueueFilters(sort="customer"), limit=1, today=TODAY).rows[0]
    assert (first.case_id, first.customer_name) == (cid, "Aaaa Renamed")


def test_rows_carry_the_sla_state_and_the_recommended_outcome(demo_db):
    from desk.queue import sla

    assert [sla(d) for d in (-1, 0, 2, 3)] == ["overdue", "due_soon", "due_soon", "on_time"]
    rows = walk(demo_db, QueueFilters(), limit=50)[:30]
    for r in rows:
        assert r.recommended == case_detail(demo_db, r.case_id, TODAY).verdict.recommended_outcome
    frame = open_cases(demo_db, actor=None, filters=QueueFilters(), today=TODAY).frame()
    assert set(frame["Due"]) <= {"Overdue", "Due soon", "On time"} and "Overdue" in set(frame["Due"])


@pytest.mark.parametrize(
    "sort, assignee, index",
    [
        ("due", "any", "ix_cases_queue"),
        ("due_desc", "any", "ix_cases_queue"),
        ("amount_desc", "any", "ix_cases_queue_amount"),
        ("amount", "any", "ix_cases_queue_amount"),
        ("age", "any", "ix_cases_queue_opened"),
        ("opened", "any", "ix_cases_queue_opened"),
        ("customer", "any", "ix_cases_queue_customer"),
        ("due", "mine", "ix_cases_queue_assignee"),
        ("due_desc", "mine", "ix_cases_queue_assignee"),
        ("amount_desc", "mine", "ix_cases_queue_assignee_amount"),
        ("amount", "mine", "ix_cases_queue_assignee_amount"),
        ("age", "mine", "ix_cases_queue_assignee_opened"),
        ("opened", "mine", "ix_cases_queue_assignee_opened"),
        ("customer", "mine", "ix_cases_queue_assignee_customer"),
    ],
)
def test_every_sort_and_my_cases_walk_their_own_index_on_sqlite(demo_db, sort, assignee, index):
    if demo_db.backend != "sqlite":
        pytest.skip("PostgreSQL plans small test tables with sequential scans; see benchmarks/queue.py at scale")
    rita = find_active_user(demo_db, "rita@refund-desk.example")
    with statements_sent(demo_db.engine, "ORDER BY") as statements:
        first = open_cases(
            demo_db, actor=rita, filters=QueueFilters(sort=sort, assignee=assignee), limit=3, today=TODAY
        )
        open_cases(
            demo_db,
            actor=rita,
            filters=QueueFilters(sort=sort, assignee=assignee),
            limit=3,
            after=first.next_cursor,
            today=TODAY,
        )
    for sql, params in statements:
        with demo_db.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert f"USING INDEX {index} " in plan + " " and "TEMP B-TREE" not in plan, plan


@pytest.mark.parametrize("assignee", ["any", "mine"])
def test_a_postgresql_page_read_keeps_its_prepared_statement_and_reuses_its_plan(demo_db, assignee):
    """A page read outside a transaction (no ROLLBACK, so psycopg keeps what it prepared), with the reviewer's
    id written into the statement: from the sixth run on one connection the server reuses a generic plan, and
    the pages are the same as the first one, planned afresh."""
    if demo_db.backend != "postgresql":
        pytest.skip("prepared statements and generic plans are PostgreSQL's")
    from data.db import open_database

    db = open_database(demo_db.url, pool_size=1, max_overflow=0)  # one connection: every read on it
    try:
        rita = find_active_user(db, "rita@refund-desk.example")
        filters = QueueFilters(sort="due_desc", assignee=assignee)
        first = open_cases(db, actor=rita, filters=filters, limit=3, today=TODAY)
        assert first.rows
        for _ in range(12):
            assert open_cases(db, actor=rita, filters=filters, limit=3, today=TODAY) == first
        with db.engine.connect() as c:
            prepared = c.exec_driver_sql(
                "SELECT statement, generic_plans FROM pg_prepared_statements WHERE strpos(statement, 'ORDER BY') > 0"
            ).all()
        assert len(prepared) == 1 and prepared[0].generic_plans >= 1, prepared
        if assignee == "mine":
            assert f"cases.assignee_id = {rita.id} " in prepared[0].statement
    finally:
        db.dispose()


@pytest.mark.parametrize("few", [0, 2, 10_000])
@pytest.mark.parametrize("sort", list(SORTS))
def test_a_search_gives_the_same_pages_whether_it_has_few_or_many_matches(demo_db, monkeypatch, few, sort):
    """desk.queue asks the index for at most SEARCH_FEW + 1 matches: fewer are read by id and sorted, more make it
    walk the sort order's index. Both ways give every matching open case once, in order, on both backends."""
    from desk import queue as q

    db = demo_db
    ids = {add_case(db, customer_name=f"Common Walker {i}", customer_email=f"w{i}@walk.example") for i in range(7)}
    monkeypatch.setattr(q, "SEARCH_FEW", few)
    for text in ("walker", "walk.example", "wa", "w", "e", "ALK"):
        expected = {
            e["id"] for e in all_open(db) if text.lower() in e["name"].lower() or text.lower() in e["email"].lower()
        }
        rows = walk(db, QueueFilters(text=text, sort=sort), limit=3)
        found = [r.case_id for r in rows]
        assert len(found) == len(set(found)) and set(found) == expected, text
        keys = [(sort_value(r, sort), r.case_id) for r in rows]
        assert keys == sorted(keys, reverse=SORTS[sort][2]), text
        if text == "walker":
            assert set(found) == ids
        assert count_matching(db, actor=None, filters=QueueFilters(text=text), today=TODAY).total == len(expected)


@pytest.mark.parametrize("sort", list(SORTS))
def test_a_walked_search_with_other_filters_gives_what_the_plain_query_gives(demo_db, monkeypatch, sort):
    """A search walked along queue_search's sort index (many matches) with the case's own filters beside it — my
    cases, a reason, an amount range — returns the rows the unindexed query does, in the same order, and counts
    them; the same with few matches (read by id)."""
    from desk import queue as q

    db = demo_db
    rita = find_active_user(db, "rita@refund-desk.example")
    for i in range(6):
        add_case(
            db,
            customer_name=f"Filter Walker {i}",
            customer_email=f"f{i}@fwalk.example",
            assignee="rita" if i % 2 else None,
            reason="our_error" if i % 3 else "technical_issue",
            price_cents=1_000 * (i + 1),
        )
    by_id = {e["id"]: e for e in all_open(db)}
    combos = [
        (QueueFilters(text="walker", assignee="mine", sort=sort), lambda e: e["assignee_id"] == rita.id),
        (QueueFilters(text="e", reasons=("our_error",), sort=sort), lambda e: e["reason"] == "our_error"),
        (QueueFilters(text="fwalk", amount_min_cents=2_000, sort=sort), lambda e: e["amount"] >= 2_000),
    ]
    for few in (0, 10_000):
        monkeypatch.setattr(q, "SEARCH_FEW", few)
        for filters, keep in combos:
            text = filters.text.lower()
            expected = {
                i for i, e in by_id.items() if (text in e["name"].lower() or text in e["email"].lower()) and keep(e)
            }
            rows = walk(db, filters, actor=rita, limit=2)
            keys = [(sort_value(r, sort), r.case_id) for r in rows]
            assert keys == sorted(keys, reverse=SORTS[sort][2]), (few, filters)
            assert [r.case_id for r in rows] == [k[1] for k in keys] and {k[1] for k in keys} == expected
            assert count_matching(db, actor=rita, filters=filters, today=TODAY).total == len(expected)


def test_the_search_tables_sort_keys_follow_the_case(demo_db, monkeypatch):
    """queue_search's copies of the sort keys (migration 0013) follow a changed due date, amount or opening date,
    and the name a customer is renamed to, so a walked search keeps the queue's order."""
    from desk import queue as q

    db = demo_db
    ids = [add_case(db, customer_name=f"Key Follower {i}", customer_email=f"k{i}@keys.example") for i in range(4)]
    with db.write.begin() as s:
        s.execute(update(Case).where(Case.id == ids[2]).values(amount_requested_cents=99_999_999))
        s.execute(update(Case).where(Case.id == ids[1]).values(due_on=TODAY - timedelta(days=900)))
        s.execute(update(Case).where(Case.id == ids[3]).values(opened_on=TODAY - timedelta(days=800)))
        customer = s.scalar(select(Case.customer_id).where(Case.id == ids[0]))
        s.execute(update(Customer).where(Customer.id == customer).values(name="Aaaa Key Follower"))
    monkeypatch.setattr(q, "SEARCH_FEW", 0)  # walk
    first = {
        sort: open_cases(db, actor=None, filters=QueueFilters(text="key follower", sort=sort), limit=1, today=TODAY)
        .rows[0]
        .case_id
        for sort in ("amount_desc", "due", "age", "customer")
    }
    assert first == {"amount_desc": ids[2], "due": ids[1], "age": ids[3], "customer": ids[0]}
    with db.read() as s:
        for sort in SORTS:
            assert [r.case_id for r in walk(db, QueueFilters(text="keys.example", sort=sort))] == list(
                s.scalars(
                    select(Case.id)
                    .where(Case.id.in_(ids))
                    .order_by(
                        *((SORTS[sort][1].desc(), Case.id.desc()) if SORTS[sort][2] else (SORTS[sort][1], Case.id))
                    )
                )
            ), sort


def test_a_walked_search_with_a_non_ascii_letter_means_what_the_index_means(demo_db, monkeypatch):
    """On SQLite a text of three characters or more with a non-ASCII letter is checked through the trigram index
    (FTS5 folds that letter's case); walked or read by id, it finds the same cases."""
    from desk import queue as q

    db = demo_db
    a = add_case(db, customer_name="Zoë Ëlander", customer_email="zoe@umlaut.example")
    for few in (0, 10_000):
        monkeypatch.setattr(q, "SEARCH_FEW", few)
        assert _filtered(db, QueueFilters(text="zoë ë", sort="customer")) == {a}, few
        assert _filtered(db, QueueFilters(text="Zoë", sort="due")) == {a}, few


def test_a_search_matching_many_cases_counts_only_up_to_the_cap(demo_db, monkeypatch):
    from desk import queue as q

    db = demo_db
    for i in range(6):
        add_case(db, customer_name=f"Capped Counter {i}", customer_email=f"c{i}@cap.example")
    monkeypatch.setattr(q, "SEARCH_FEW", 2)
    monkeypatch.setattr(q, "COUNT_CAP", 4)
    capped = count_matching(db, actor=None, filters=QueueFilters(text="capped counter"), today=TODAY)
    assert (capped.total, capped.capped) == (4, True)
    with_reason = QueueFilters(text="capped counter", reasons=("technical_issue",))  # counted, up to the cap
    assert count_matching(db, actor=None, filters=with_reason, today=TODAY).capped
    monkeypatch.setattr(q, "COUNT_CAP", 6)
    exact = count_matching(db, actor=None, filters=QueueFilters(text="capped counter"), today=TODAY)
    assert (exact.total, exact.capped) == (6, False)
    monkeypatch.setattr(q, "COUNT_CAP", 5)
    none = QueueFilters(text="capped counter", reasons=("our_error",))  # more than 5 match the text, none this
    assert count_matching(db, actor=None, filters=none, today=TODAY) == q.QueueCount(0, 0, 0)


def test_filters_without_a_search_are_counted_exactly_past_the_cap(demo_db, monkeypatch):
    """The cap is a search's (its matches are walked, never all read); the open cases, my cases or a reason
    are counted to the end with their overdue and awaiting figures, however many there are. At 1,000,000 cases
    the queue had read "More than 1,000 open cases match (a search counts up to 1,000)" with no search, and
    "My cases (1,000)" for a reviewer with more."""
    from desk import queue as q

    monkeypatch.setattr(q, "COUNT_CAP", 2)
    rita = find_active_user(demo_db, "rita@refund-desk.example")
    expected = all_open(demo_db)
    for filters, rows in [
        (QueueFilters(), expected),
        (QueueFilters(assignee="mine"), [r for r in expected if r["assignee_id"] == rita.id]),
        (QueueFilters(reasons=("technical_issue",)), [r for r in expected if r["reason"] == "technical_issue"]),
    ]:
        assert len(rows) > 2, filters
        count = count_matching(demo_db, actor=rita, filters=filters, today=TODAY)
        overdue = sum(r["due_on"] < TODAY for r in rows)
        awaiting = sum(r["status"] == "awaiting_approval" for r in rows)
        assert count == q.QueueCount(len(rows), overdue, awaiting), filters


def test_the_search_index_follows_cases_entering_and_leaving_the_queue(demo_db):
    """queue_search holds the open cases only, kept by triggers: closing a case takes it out, reopening puts it
    back, moving it to another customer or renaming the customer (name or email) rewrites it."""
    db = demo_db
    cid = add_case(db, customer_name="Quentin Tracker", customer_email="q.tracker@follow.example")
    other = add_case(db, customer_name="Olive Elsewhere", customer_email="olive@else.example")
    assert _filtered(db, QueueFilters(text="tracker")) == {cid}
    with db.write.begin() as s:
        s.execute(update(Case).where(Case.id == cid).values(status="closed"))
    assert _filtered(db, QueueFilters(text="tracker")) == set()
    with db.write.begin() as s:
        s.execute(update(Case).where(Case.id == cid).values(status="open"))
        s.execute(update(Case).where(Case.id == cid).values(status="awaiting_approval"))
    assert _filtered(db, QueueFilters(text="q.tracker@follow")) == {cid}
    with db.write.begin() as s:
        olive = s.scalar(select(Case.customer_id).where(Case.id == other))
        s.execute(update(Case).where(Case.id == cid).values(customer_id=olive))
    assert _filtered(db, QueueFilters(text="tracker")) == set()
    assert _filtered(db, QueueFilters(text="elsewhere")) == {cid, other}
    with db.write.begin() as s:
        s.execute(update(Customer).where(Customer.id == olive).values(email="olive.new@moved.example"))
    assert _filtered(db, QueueFilters(text="moved.exa")) == {cid, other}
    assert _filtered(db, QueueFilters(text="else.example")) == set()


SEARCH_INDEXES = {
    "due": "ix_queue_search_due",
    "due_desc": "ix_queue_search_due",
    "amount_desc": "ix_queue_search_amount",
    "amount": "ix_queue_search_amount",
    "age": "ix_queue_search_opened",
    "opened": "ix_queue_search_opened",
    "customer": "ix_queue_search_name",
}


@pytest.mark.parametrize("sort", list(SORTS))
def test_a_search_with_many_matches_walks_the_search_tables_sort_index_on_sqlite(demo_db, monkeypatch, sort):
    """Many matches: queue_search is walked along its own (key, case_id) index, each row checked by itself, and the
    walk stops after a page: no sort, no set of all matches (migration 0013)."""
    if demo_db.backend != "sqlite":
        pytest.skip("PostgreSQL plans small test tables with sequential scans; see benchmarks/queue.py at scale")
    from desk import queue as q

    monkeypatch.setattr(q, "SEARCH_FEW", 1)
    with statements_sent(demo_db.engine, "ORDER BY") as statements:
        for text in ("example", "e"):  # through the trigram index, and under three characters
            first = open_cases(demo_db, actor=None, filters=QueueFilters(text=text, sort=sort), limit=3, today=TODAY)
            open_cases(
                demo_db,
                actor=None,
                filters=QueueFilters(text=text, sort=sort),
                limit=3,
                after=first.next_cursor,
                today=TODAY,
            )
    assert len(statements) == 4
    for sql, params in statements:
        with demo_db.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert plan.split(" SEARCH cases ")[0].endswith(f"queue_search USING INDEX {SEARCH_INDEXES[sort]}") or (
            f"queue_search USING INDEX {SEARCH_INDEXES[sort]} (" in plan.split(" SEARCH cases ")[0]
        ), plan
        assert "TEMP B-TREE" not in plan and "queue_search_fts" not in plan, plan


MINE_INDEXES = {
    "due": "ix_cases_queue_assignee",
    "amount_desc": "ix_cases_queue_assignee_amount",
    "opened": "ix_cases_queue_assignee_opened",
    "customer": "ix_cases_queue_assignee_customer",
}


@pytest.mark.parametrize("sort", list(MINE_INDEXES))
def test_my_cases_with_a_common_search_walk_the_reviewers_own_index_on_sqlite(demo_db, monkeypatch, sort):
    """With one reviewer's cases asked for, a search with many matches walks that reviewer's index, each case
    checked by its own queue_search row (their cases are few; queue_search's order would pass everyone's)."""
    if demo_db.backend != "sqlite":
        pytest.skip("PostgreSQL plans small test tables with sequential scans; see benchmarks/queue.py at scale")
    from desk import queue as q

    monkeypatch.setattr(q, "SEARCH_FEW", 1)
    rita = find_active_user(demo_db, "rita@refund-desk.example")
    with statements_sent(demo_db.engine, "ORDER BY") as statements:
        for text in ("example", "e"):
            open_cases(demo_db, actor=rita, filters=QueueFilters(text=text, sort=sort, assignee="mine"), today=TODAY)
    assert len(statements) == 2
    for sql, params in statements:
        with demo_db.engine.connect() as c:
            plan = " ".join(str(r[-1]) for r in c.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
        assert f"USING INDEX {MINE_INDEXES[sort]} " in plan + " " and "TEMP B-TREE" not in plan, plan
