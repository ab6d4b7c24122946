"""Reading a row that must be there: ``session.get`` with NotFound instead of None."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session

from desk.errors import NotFound

T = TypeVar("T")


def must_get(session: Session, model: type[T], ident: Any, **kwargs: Any) -> T:
    """The row of ``model`` with primary key ``ident``; NotFound if there is none (e.g. deleted meanwhile)."""
    row = session.get(model, ident, **kwargs)
    if row is None:
        raise NotFound(f"{model.__name__} #{ident} does not exist.")
    return row
