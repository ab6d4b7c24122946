"""The case page's workbench in desk/: previous/next case of a queue view (same filters and sort, also after the
case was decided) and who else has a case open. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from desk.audit import utcnow
from desk.presence import REFRESH, due, others_viewing, touch
from desk.queue import SORTS, Neighbours, QueueFilters, neighbours, open_cases
from tests.support.cases import TODAY, add_case, user_id


def _all(db, filters):
    rows, cursor = [], None
    while True:
        page = open_cases(db, actor=None, filters=filters, after=cursor, limit=100, today=TODAY)
        rows += [r.case_id for r in page.rows]
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_previous_and_next_follow_the_queue_order_of_every_sort_and_filter(demo_db):
    db = demo_db
    for filters in [QueueFilters(sort=s) for s in SORTS] + [
        QueueFilters(reasons=("our_error", "technical_issue", "billing_error"), sort="amount_desc")
    ]:
        order = _all(db, filters)
        assert len(order) >= 3
        for i in (0, 1, len(order) // 2, len(order) - 1):
            near = neighbours(db, actor=None, filters=filters, case_id=order[i])
            assert near.previous == (order[i - 1] if i > 0 else None), (filters.sort, i)
            assert near.next == (order[i + 1] if i + 1 < len(order) else None), (filters.sort, i)


def test_next_after_a_decided_case_is_the_one_that_followed_it(demo_db):
    from sqlalchemy import update

    from data.models import Case

    db = demo_db
    order = _all(db, QueueFilters())
    with db.write.begin() as s:  # the case leaves the queue (as a decision closes it)
        s.execute(update(Case).where(Case.id == order[3]).values(status="closed"))
    assert neighbours(db, actor=None, filters=QueueFilters(), case_id=order[3]).next == order[4]
    assert neighbours(db, actor=None, filters=QueueFilters(), case_id=order[3]).previous == order[2]
    assert neighbours(db, actor=None, filters=QueueFilters(), case_id=10**9) == Neighbours(None, None)


def test_a_colleague_who_opened_the_case_is_named_with_how_long_ago(demo_db):
    db = demo_db
    cid = add_case(db)
    rita, li, omar = user_id(db, "rita"), user_id(db, "li"), user_id(db, "omar")
    now = utcnow()
    touch(db, cid, li, now - timedelta(minutes=2))
    touch(db, cid, omar, now - timedelta(minutes=40))  # long gone
    touch(db, cid, rita, now)
    viewers = others_viewing(db, cid, rita, now)
    assert [v.line(now) for v in viewers] == ["Li Wei opened this case 2 minutes ago."]
    assert others_viewing(db, cid, li, now)[0].line(now) == "Rita Ramos opened this case just now."
    touch(db, cid, li, now)  # a second visit overwrites, never appends
    assert len(others_viewing(db, cid, rita, now)) == 1
    assert due(None) and not due(now, now + REFRESH / 2) and due(now, now + REFRESH)
