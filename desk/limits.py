"""Approval above a limit: a refund or credit above the amount an admin sets for its currency needs a manager's
approval even when the policy allows it — the same four-eyes path as a discretionary exception.

Limits live in `approval_limits` (one row per currency, migration 0009). desk.decisions.decide reads the limit
of the case's currency and sends a decision above it to approval; a database trigger refuses any decision row
above the limit that does not wait for (or have) a manager's approval, whoever writes it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import ApprovalLimit, User
from desk.audit import utcnow
from desk.errors import InvalidInput, NotAllowed, NotFound
from desk.money import MoneyError, check_currency, format_money


@dataclass(frozen=True)
class Limit:
    currency: str
    limit_cents: int

    @property
    def text(self) -> str:
        return format_money(self.limit_cents, self.currency)


def limit_for(session: Session, currency: str) -> int | None:
    """The approval limit of a currency in minor units, or None when there is none."""
    return session.scalar(select(ApprovalLimit.limit_cents).where(ApprovalLimit.currency == currency))


def list_limits(db: Database) -> list[Limit]:
    with db.read() as s:
        return [
            Limit(c, v)
            for c, v in s.execute(
                select(ApprovalLimit.currency, ApprovalLimit.limit_cents).order_by(ApprovalLimit.currency)
            )
        ]


def read_limit(db: Database, currency: str) -> Limit | None:
    with db.read() as s:
        cents = limit_for(s, currency)
    return None if cents is None else Limit(currency, cents)


def _admin(s: Session, actor_id: int) -> User:
    actor = s.get(User, actor_id)
    if actor is None or not actor.active:
        raise NotFound("unknown user")
    if actor.role != "admin":
        raise NotAllowed("Only an admin sets approval limits.")
    return actor


def set_limit(db: Database, actor_id: int, currency: str, limit_cents: int | None) -> Limit | None:
    """An admin sets (or, with None, removes) the approval limit of a currency."""
    try:
        code = check_currency(currency)
    except MoneyError as exc:
        raise InvalidInput(str(exc), field="currency") from None
    if limit_cents is not None and (
        isinstance(limit_cents, bool) or not isinstance(limit_cents, int) or limit_cents < 0
    ):
        raise InvalidInput("A limit is an amount of zero or more.", field="limit")
    with db.write.begin() as s:
        _admin(s, actor_id)
        if limit_cents is None:
            s.execute(delete(ApprovalLimit).where(ApprovalLimit.currency == code))
            return None
        row = s.get(ApprovalLimit, code)
        if row is None:
            s.add(ApprovalLimit(currency=code, limit_cents=limit_cents, updated_at=utcnow(), updated_by_id=actor_id))
        else:
            row.limit_cents, row.updated_at, row.updated_by_id = limit_cents, utcnow(), actor_id
    return Limit(code, limit_cents)
