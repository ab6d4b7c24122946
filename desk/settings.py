"""Desk settings an admin sets, stored in the database (`desk_settings`, migration 0009): the frequent-requester
threshold (requests in 12 months above which the case page flags a customer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ScalarSelect, select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import DeskSetting, User
from desk.audit import utcnow
from desk.errors import InvalidInput, NotAllowed, NotFound

FREQUENT_REQUESTER = "frequent_requester_threshold"
DEFAULT_FREQUENT_REQUESTER = 3  # more than 3 requests in 12 months
MAX_FREQUENT_REQUESTER = 1000


def frequent_requester_setting() -> ScalarSelect[Any]:
    """The stored threshold as a scalar subquery (NULL when none is set), to read along with other values."""
    return select(DeskSetting.value).where(DeskSetting.name == FREQUENT_REQUESTER).scalar_subquery()


def frequent_requester_value(value: object) -> int:
    """The threshold from the stored value: the default when none (or no whole number) is stored."""
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else DEFAULT_FREQUENT_REQUESTER


def frequent_requester_threshold(session: Session) -> int:
    return frequent_requester_value(
        session.scalar(select(DeskSetting.value).where(DeskSetting.name == FREQUENT_REQUESTER))
    )


def read_frequent_requester_threshold(db: Database) -> int:
    with db.read() as s:
        return frequent_requester_threshold(s)


def set_frequent_requester_threshold(db: Database, actor_id: int, value: int) -> int:
    """An admin sets the threshold (a whole number of requests, 1 to 1000)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_FREQUENT_REQUESTER:
        raise InvalidInput(
            f"The threshold is a whole number of requests from 1 to {MAX_FREQUENT_REQUESTER}.", field="threshold"
        )
    with db.write.begin() as s:
        actor = s.get(User, actor_id)
        if actor is None or not actor.active:
            raise NotFound("unknown user")
        if actor.role != "admin":
            raise NotAllowed("Only an admin sets the frequent-requester threshold.")
        row = s.get(DeskSetting, FREQUENT_REQUESTER)
        if row is None:
            s.add(DeskSetting(name=FREQUENT_REQUESTER, value=value, updated_at=utcnow(), updated_by_id=actor_id))
        else:
            row.value, row.updated_at, row.updated_by_id = value, utcnow(), actor_id
    return value
