"""desk.case_page: everything the case page reads, in one read session — the same case detail, customer history
and colleagues on the case as the separate reads, with one connection from the pool. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event

from desk.audit import utcnow
from desk.case_page import case_page
from desk.cases import case_detail
from desk.decisions import default_book
from desk.errors import NotFound
from desk.history import customer_history
from desk.presence import others_viewing, touch
from tests.support.cases import TODAY, add_case, user_id


def test_the_page_reads_what_the_separate_reads_read_in_one_checkout(demo_db):
    db = demo_db
    cid = add_case(db, reason="our_error", assignee="li")
    rita, li = user_id(db, "rita"), user_id(db, "li")
    now = utcnow()
    touch(db, cid, li, now - timedelta(minutes=2))
    default_book(db)  # the book's freshness check is its own (every 2 s): not part of what is counted
    checkouts = []
    listener = lambda *_args: checkouts.append(1)  # noqa: E731 — a one-line event hook
    event.listen(db.engine.pool, "checkout", listener)
    try:
        page = case_page(db, cid, TODAY, viewer_id=rita, now=now)
    finally:
        event.remove(db.engine.pool, "checkout", listener)
    assert len(checkouts) == 1
    detail = case_detail(db, cid, TODAY)
    assert page.detail == detail
    assert [p.name for p in detail.assignable] == sorted(p.name for p in detail.assignable)
    assert detail.assignee is not None and detail.assignee.id == li
    assert page.history == customer_history(db, detail.customer_id, cid, TODAY)
    assert page.viewers == others_viewing(db, cid, rita, now)
    assert [v.name for v in page.viewers] == ["Li Wei"]


def test_an_unknown_case_is_not_found(demo_db):
    with pytest.raises(NotFound, match="Case #987654321 does not exist"):
        case_page(demo_db, 987654321, TODAY, viewer_id=user_id(demo_db, "rita"))
