"""Helpers for the queue / case / decision tests: demo users by email, bespoke cases with exact facts, and a
valid decision for any case."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from data.db import Database
from data.models import Case, CaseEvent, Customer, Decision, Service, User
from desk import audit

TODAY = date(2026, 11, 26)
_serial = itertools.count(1)


def user_id(db: Database, email_prefix: str) -> int:
    """The id of a demo user by the part of the email before the @ (rita, omar, max, priya, ada, victor...)."""
    with db.read() as s:
        return s.scalar(select(User.id).where(User.email == f"{email_prefix}@refund-desk.example"))


def add_case(
    db: Database,
    *,
    service_type: str = "technical_support",
    service_status: str = "completed",
    reason: str = "technical_issue",
    service_date: date = TODAY - timedelta(days=5),
    opened_on: date = TODAY - timedelta(days=2),
    price_cents: int = 12_000,
    fix_attempted: bool = False,
    fix_succeeded: bool | None = None,
    documentation: list | None = None,
    description: str = "It broke after your visit.",
    customer_name: str | None = None,
    customer_email: str | None = None,
    assignee: str | None = None,
    status: str = "open",
    cycle: str | None = None,
    cancelled_on: date | None = None,
) -> int:
    """Insert a customer, a service and an open case with exactly these facts; returns the case id."""
    n = next(_serial)
    sub = service_type == "subscription"
    cycle = cycle or ("monthly" if sub else None)
    with db.write.begin() as s:
        customer = Customer(
            name=customer_name or f"Test Customer {n}",
            email=(customer_email or f"test.customer.{n}.{datetime.now().microsecond}@example.test").lower(),
            created_at=datetime(2025, 1, 1),
        )
        s.add(customer)
        s.flush()
        service = Service(
            customer_id=customer.id,
            service_type=service_type,
            price_cents=price_cents,
            currency="USD",
            status=service_status,
            purchased_on=service_date - timedelta(days=1) if not sub else service_date,
            scheduled_on=service_date,
            initiated_on=service_date if service_status != "not_started" else None,
            completed_on=service_date if service_status == "completed" and not sub else None,
            cycle=cycle,
            cycle_start=service_date if sub else None,
            cycle_end=service_date + timedelta(days=29 if cycle == "monthly" else 364) if sub else None,
            cancelled_on=cancelled_on,
        )
        s.add(service)
        s.flush()
        assignee_id = (
            s.scalar(select(User.id).where(User.email == f"{assignee}@refund-desk.example")) if assignee else None
        )
        case = Case(
            service_id=service.id,
            customer_id=customer.id,
            service_type=service_type,
            opened_on=opened_on,
            channel="email",
            reason=reason,
            description=description,
            amount_requested_cents=price_cents,
            documentation=documentation or [],
            fix_attempted=fix_attempted,
            fix_succeeded=fix_succeeded,
            status=status,
            assignee_id=assignee_id,
            due_on=opened_on + timedelta(days=14),
            version=1,
            created_at=datetime(opened_on.year, opened_on.month, opened_on.day, 9),
        )
        s.add(case)
        s.flush()
        audit.record(s, audit.CaseOpened(channel="email"), actor="customer", case_id=case.id)
        return case.id


def counts(db: Database, case_id: int) -> tuple[int, int, int]:
    """(decisions, audit events, version) of a case."""
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Decision).where(Decision.case_id == case_id)),
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)),
            s.scalar(select(Case.version).where(Case.id == case_id)),
        )


def valid_choice(verdict) -> tuple[str, int | None]:
    """The recommended outcome of a verdict with an amount inside its bounds."""
    outcome = verdict.recommended_outcome
    paid = round(verdict.amount_paid * 100)
    if outcome == "full_refund":
        return outcome, paid
    if outcome == "partial_refund":
        return outcome, max(1, paid // 2)
    if outcome == "credit":
        return outcome, max(1, paid // 3)
    return outcome, None
