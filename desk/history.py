"""The customer's history on the case page: their other cases and decisions, what they were refunded or credited
in the last 12 months (per currency, never summed across currencies), and whether they are a frequent requester
(more requests in 12 months than the threshold an admin sets; desk.settings).

Every query starts from ix_cases_customer (customer_id, opened_on), so the panel costs the same at 1,000,000
cases as at 1,000: it reads one customer's rows, never a scan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import Case, Decision, Service
from desk.money import add
from desk.settings import frequent_requester_setting, frequent_requester_value

HISTORY_DAYS = 365
MONEY_OUTCOMES = ("full_refund", "partial_refund", "credit")
# the decision that counts: not superseded (a rejected exception, a reopened case) and not waiting for approval


@dataclass(frozen=True)
class PastCase:
    case_id: int
    opened_on: date
    status: str
    reason: str
    amount_requested_cents: int
    currency: str
    outcome: str | None  # the current decision's outcome (None: not decided)
    amount_cents: int | None
    decided_on: date | None
    approval_status: str | None = None  # "pending": an exception waiting for a manager; it does not count yet


@dataclass(frozen=True)
class CustomerHistory:
    cases: list[PastCase]  # the other cases, latest first (at most `limit`)
    other_cases: int  # how many other cases there are in all
    requests_last_12_months: int  # this case included
    paid_last_12_months: dict[str, int] = field(default_factory=dict)  # currency -> minor units refunded/credited
    threshold: int = 0

    @property
    def frequent(self) -> bool:
        return self.requests_last_12_months > self.threshold


def customer_history(db: Database, customer_id: int, case_id: int, today: date, *, limit: int = 20) -> CustomerHistory:
    with db.read() as s:
        return read_customer_history(s, customer_id, case_id, today, limit=limit)


def read_customer_history(
    s: Session, customer_id: int, case_id: int, today: date, *, limit: int = 20
) -> CustomerHistory:
    """`customer_history` in the caller's read session (desk.case_page reads the whole page in one): three
    statements — the latest other cases, the two counts with the threshold, what was paid."""
    since = today - timedelta(days=HISTORY_DAYS)
    current = (
        select(Decision.case_id, Decision.outcome, Decision.amount_cents, Decision.decided_on, Decision.approval_status)
        .where(Decision.superseded.is_(False))
        .subquery()
    )
    rows = s.execute(
        select(
            Case.id,
            Case.opened_on,
            Case.status,
            Case.reason,
            Case.amount_requested_cents,
            Service.currency,
            current.c.outcome,
            current.c.amount_cents,
            current.c.decided_on,
            current.c.approval_status,
        )
        .join(Service, Service.id == Case.service_id)
        .outerjoin(current, current.c.case_id == Case.id)
        .where(Case.customer_id == customer_id, Case.id != case_id)
        .order_by(Case.opened_on.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    other, recent, setting = s.execute(
        select(
            select(func.count()).where(Case.customer_id == customer_id, Case.id != case_id).scalar_subquery(),
            select(func.count()).where(Case.customer_id == customer_id, Case.opened_on >= since).scalar_subquery(),
            frequent_requester_setting(),
        )
    ).one()
    paid = s.execute(
        select(Decision.amount_cents, Service.currency)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(
            Case.customer_id == customer_id,
            Decision.counts,
            Decision.outcome.in_(MONEY_OUTCOMES),
            Decision.decided_on >= since,
        )
    ).all()
    return CustomerHistory(
        cases=[PastCase(*r) for r in rows],
        other_cases=int(other or 0),
        requests_last_12_months=int(recent or 0),
        paid_last_12_months=add((a, c) for a, c in paid),
        threshold=frequent_requester_value(setting),
    )
