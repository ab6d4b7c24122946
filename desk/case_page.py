"""What the case page reads on every run, in one read session: one connection and one snapshot, instead of one
session per panel (on PostgreSQL each session is a pool checkout with its ping, BEGIN and ROLLBACK, and each
statement a round trip — on a busy machine the waits for them were most of a rerun).

    page = case_page(db, case_id, today, viewer_id=actor.id)   # NotFound if there is no such case
    page.detail, page.history, page.viewers

Eight statements: the case with its service and customer, the users, the timeline, the current decision
(desk.cases); the customer's latest other cases, their counts with the frequent-requester threshold, what was
paid to them (desk.history); who else has the case open (desk.presence). The queue neighbours (desk.queue) and
the policy book's freshness check (desk.book, every 2 s) are read apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from data.db import Database
from desk.cases import CaseDetail, read_case_detail
from desk.decisions import default_book
from desk.history import CustomerHistory, read_customer_history
from desk.presence import Viewer, read_others_viewing
from policy import PolicyBook


@dataclass(frozen=True)
class CasePage:
    detail: CaseDetail
    history: CustomerHistory  # the customer's other cases, what was paid to them, the frequent-requester flag
    viewers: list[Viewer]  # colleagues who have the case open (never the viewer)


def case_page(
    db: Database,
    case_id: int,
    today: date,
    *,
    viewer_id: int,
    now: datetime | None = None,
    book: PolicyBook | None = None,
) -> CasePage:
    """Everything the case page shows about a case, read in one session. NotFound if there is no such case."""
    book = book or default_book(db)
    with db.read() as s:
        detail = read_case_detail(s, case_id, today, book)
        history = read_customer_history(s, detail.customer_id or 0, case_id, today)
        viewers = read_others_viewing(s, case_id, viewer_id, now)
    return CasePage(detail, history, viewers)
