"""What the analytics page asks for: the vocabulary of its numbers, the filters (validated and scoped to who
asks) and how a date range is covered by rollup grains (whole months, then weeks, then days)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_

from data.models import (
    LEAD_DAYS_MAX,
    REASONS,
    SERVICE_TYPES,
)
from desk.auth import Actor
from desk.errors import InvalidInput, NotAllowed
from desk.money import DEFAULT_CURRENCY, MoneyError, check_currency

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
