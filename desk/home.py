"""Today's headline numbers for the home page: a handful of cheap SQL aggregates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError

from data.db import Database
from data.models import EFFECTIVE_APPROVAL_STATUSES, Case, Decision, SalesDaily, decision_rollup, sales_by_currency
from desk.errors import DatabaseNotReady
from desk.money import DEFAULT_CURRENCY
from policy import MONEY_OUTCOMES


@dataclass(frozen=True)
class Headline:
    today: date
    open_cases: int
    overdue_cases: int
    awaiting_approval: int
    decided_30d: int
    refunds_30d: int
    services_sold_30d: int
    refunded_cents_30d: int  # in `currency` only, like the revenue: amounts of currencies are never summed
    revenue_cents_30d: int
    currency: str = DEFAULT_CURRENCY

    @property
    def refund_rate_30d(self) -> float | None:
        return self.refunds_30d / self.services_sold_30d if self.services_sold_30d else None

    @property
    def refund_value_rate_30d(self) -> float | None:
        return self.refunded_cents_30d / self.revenue_cents_30d if self.revenue_cents_30d else None


def headline(db: Database, today: date, currency: str = DEFAULT_CURRENCY) -> Headline:
    """Counts of every currency; the money (refunded, revenue) of `currency` only (the reporting currency)."""
    since = today - timedelta(days=29)
    try:
        with db.read() as s:
            open_q = select(
                func.count(),
                func.coalesce(func.sum(case((Case.due_on < today, 1), else_=0)), 0),
                func.coalesce(func.sum(case((Case.status == "awaiting_approval", 1), else_=0)), 0),
            ).where(Case.status != "closed")
            open_n, overdue, awaiting = s.execute(open_q).one()
            dec_q = select(
                func.count(),
                func.coalesce(func.sum(case((Decision.outcome.in_(MONEY_OUTCOMES), 1), else_=0)), 0),
            ).where(Decision.decided_on.between(since, today), Decision.counts)
            decided, refunds = s.execute(dec_q).one()
            # money from the day rows of the per-currency rollup (migration 0004): the decision rows hold no
            # currency, and looking each one up would cost more than these few hundred rollup rows
            r = decision_rollup.c
            refunded = s.scalar(
                select(func.coalesce(func.sum(r.amount_cents), 0)).where(
                    r.grain == "day",
                    r.period.between(since, today),
                    r.currency == currency,
                    r.superseded == False,  # noqa: E712 (a column, not a Python bool)
                    r.approval_status.in_(EFFECTIVE_APPROVAL_STATUSES),
                    r.outcome.in_(MONEY_OUTCOMES),
                )
            )
            sold = s.scalar(
                select(func.coalesce(func.sum(SalesDaily.services_sold), 0)).where(SalesDaily.day.between(since, today))
            )
            sales = sales_by_currency.c
            revenue = s.scalar(
                select(func.coalesce(func.sum(sales.revenue_cents), 0)).where(
                    sales.day.between(since, today), sales.currency == currency
                )
            )
    except (OperationalError, ProgrammingError) as exc:
        raise DatabaseNotReady(
            "The case database has no tables yet. Run `make run` (or `alembic upgrade head`) first."
        ) from exc
    return Headline(
        today,
        open_n,
        int(overdue),
        int(awaiting),
        decided,
        int(refunds),
        int(sold or 0),
        int(refunded or 0),
        int(revenue or 0),
        currency,
    )
