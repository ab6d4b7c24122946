"""The one mapping from a case and its service to the policy's facts.

``facts_from_row(row)`` works on a plain row or mapping holding the columns of ``cases`` and ``services``
(see ``FACT_COLUMNS``), so every reader can use it: the deciding code (``desk.decisions.facts_for_case``
delegates here), the what-if replay reading 50,000-row chunks with SQLAlchemy Core, and the importer
checking a file before it is written. One mapping means a replay re-judges a case exactly as a reviewer's
screen judged it.

The policy's words for the dates (issue 3): the service date is the day the service was rendered or
completed; for a service in progress, the day it was initiated; for one not started, the day it is
scheduled (the purchase day when no schedule is known); for a subscription, the start of the billing cycle
that was charged. The request date is the day the case was opened. The amount paid is the service's price.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from functools import lru_cache

from data.models import SERVICE_DATE_COLUMN, VERDICT_SERVICE_COLUMNS, Service
from policy import Facts, InvalidFacts, Subscription

# The columns facts_from_row reads. Service columns keep their names except services.status, which is
# read as ``service_status`` (cases have a status of their own). ``documentation`` may be replaced by a
# precomputed boolean ``documentation_provided`` (the replay asks SQL for it instead of parsing JSON).
CASE_FACT_COLUMNS = ("opened_on", "reason", "fix_attempted", "fix_succeeded", "documentation")
SERVICE_FACT_COLUMNS = tuple("service_status" if c == "status" else c for c in VERDICT_SERVICE_COLUMNS)
FACT_COLUMNS = CASE_FACT_COLUMNS + SERVICE_FACT_COLUMNS


def service_fact_columns() -> list:
    """The services columns a verdict needs, labelled as facts_from_row reads them (for a Core select)."""
    table = Service.__table__
    return [table.c[column].label(name) for column, name in zip(VERDICT_SERVICE_COLUMNS, SERVICE_FACT_COLUMNS)]


# SERVICE_DATE_COLUMN (data.models): which column holds the service date, by service status
# (subscriptions always use cycle_start).


@lru_cache(maxsize=8192)
def _iso_date(text: str) -> date:
    return date.fromisoformat(text)


def _as_date(value: object, column: str, field: str) -> date | None:
    """A date from a date, an ISO string (raw SQLite) or None; a datetime counts as its day."""
    if value is None or type(value) is date:
        return value
    if isinstance(value, datetime):  # an xlsx cell, a pandas Timestamp
        return value.date()
    if isinstance(value, str):
        try:
            return _iso_date(value[:10])
        except ValueError:
            pass
    raise InvalidFacts(field, f"{column} is not a date: {value!r}")


def _documentation_provided(row: Mapping) -> bool:
    try:
        provided = row["documentation_provided"]  # the replay asks SQL for it
    except KeyError:
        provided = None
    if provided is not None:
        return bool(provided)
    docs = row["documentation"]
    if isinstance(docs, str):  # JSON text, as raw SQLite or a CSV cell holds it
        try:
            docs = json.loads(docs)
        except ValueError:
            return bool(docs.strip())
    return bool(docs)


def service_date_of(row: Mapping) -> date | None:
    """The date the policy counts from for this service (None when the row lacks it)."""
    if row["service_type"] == "subscription":
        return _as_date(row["cycle_start"], "cycle_start", "service_date")
    status = row["service_status"]
    column = SERVICE_DATE_COLUMN.get(status)
    if column is None:
        raise InvalidFacts("service_status", f"unknown service status {status!r}")
    day = _as_date(row[column], column, "service_date")
    if day is None and status == "not_started":
        day = _as_date(row["purchased_on"], "purchased_on", "service_date")
    return day


def facts_from_row(row: Mapping) -> Facts:
    """The policy facts of one case, from its row joined with its service's columns.

    Raises ``InvalidFacts`` (naming the fact) when the row cannot be judged: an unknown value, a date the
    service's status needs is missing. A request dated before a started service is the rule table's row 2:
    ``policy.evaluate`` raises that one.
    """
    service_type = row["service_type"]
    service_status = row["service_status"]
    # the replay calls this a million times: plain dates take the short way, anything else service_date_of
    column = "cycle_start" if service_type == "subscription" else SERVICE_DATE_COLUMN.get(service_status)
    service_date = row[column] if column is not None else None
    if type(service_date) is not date:
        service_date = service_date_of(row)
    if service_date is None:
        raise InvalidFacts("service_date", f"the service is {service_status.replace('_', ' ')} but has no {column}")
    subscription = None
    if service_type == "subscription":
        cycle_end = _as_date(row["cycle_end"], "cycle_end", "subscription.cycle_end")
        if cycle_end is None:
            raise InvalidFacts("subscription.cycle_end", "the subscription has no cycle_end")
        subscription = Subscription(
            row["cycle"],
            service_date,
            cycle_end,
            _as_date(row["cancelled_on"], "cancelled_on", "subscription.cancelled_on"),
        )
    request_date = row["opened_on"]
    if type(request_date) is not date:
        request_date = _as_date(request_date, "opened_on", "request_date")
    fix_attempted = bool(row["fix_attempted"])
    fix_succeeded = row["fix_succeeded"]
    if fix_succeeded is not None:
        fix_succeeded = bool(fix_succeeded) if fix_attempted else None
    price = row["price_cents"]
    return Facts(
        service_type,
        service_status,
        service_date,
        request_date,
        row["reason"],
        (price / 100) if price is not None else price,  # type: ignore[arg-type]  # Facts refuses None
        fix_attempted,
        fix_succeeded,
        _documentation_provided(row),
        subscription,
    )


def fact_row(case: object, service: object) -> dict:
    """The row ``facts_from_row`` reads, from a case and its service as ORM objects (or anything with those
    attributes)."""
    row = {name: getattr(case, name) for name in CASE_FACT_COLUMNS}
    for name in SERVICE_FACT_COLUMNS:
        row[name] = getattr(service, "status" if name == "service_status" else name)
    return row


def facts_for_objects(case: object, service: object) -> Facts:
    """The policy facts of a case loaded with the ORM: what ``desk.decisions.facts_for_case`` should return."""
    return facts_from_row(fact_row(case, service))
