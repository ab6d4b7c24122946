"""Queue views: the filters and sort a reviewer works with, as a shareable link and as saved views per person.

A view is a small dict of plain values (what the queue's widgets hold):

    {"text": "", "types": [], "reasons": [], "status": "all", "assignee": "any", "min": None, "max": None,
     "sort": "due"}

    params = view_to_params(view)                 # {"sort": "amount_desc", "reason": "our_error"} (defaults left out)
    view, notes = view_from_params(query_params)  # a link read back; values it cannot take are dropped, with a note
    filters, notes = filters_for(view)            # the QueueFilters of a view (an amount range typed backwards is
                                                  # read in order, with a note)
    save_view(db, actor_id, "Overdue billing", view); list_views(db, actor_id); delete_view(db, actor_id, view_id)

Saved views store the same parameters a link carries, so a saved view and a shared link mean the same queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select

from data.db import Database, rowcount
from data.models import SavedView, User
from desk.audit import utcnow
from desk.errors import InvalidInput, NotFound
from desk.money import DEFAULT_CURRENCY, MoneyError, format_money, parse_amount, to_major
from desk.queue import OPEN_STATUSES, SORTS, QueueFilters, ordered_amount_range
from policy import REASONS, SERVICE_TYPES

DEFAULT_VIEW: dict[str, Any] = {
    "text": "",
    "types": [],
    "reasons": [],
    "status": "all",
    "assignee": "any",
    "min": None,
    "max": None,
    "sort": "due",
}
STATUS_VALUES = ("all", *OPEN_STATUSES)
# view key -> URL parameter
PARAMS = {
    "text": "q",
    "types": "type",
    "reasons": "reason",
    "status": "status",
    "assignee": "assignee",
    "min": "min",
    "max": "max",
    "sort": "sort",
}
MAX_NAME = 80
MAX_VIEWS = 50


def _amount_text(value: float | None) -> str | None:
    if value is None:
        return None
    cents = round(float(value) * 100)
    return str(to_major(cents, DEFAULT_CURRENCY))


def view_to_params(view: Mapping[str, Any]) -> dict[str, str]:
    """The URL parameters of a view; values equal to the default are left out, lists are comma-separated."""
    out: dict[str, str] = {}
    for key, param in PARAMS.items():
        value = view.get(key, DEFAULT_VIEW[key])
        if value == DEFAULT_VIEW[key] or value in (None, "", []):
            continue
        if key in ("types", "reasons"):
            out[param] = ",".join(value)
        elif key in ("min", "max"):
            out[param] = _amount_text(value) or ""
        else:
            out[param] = str(value).strip() if key == "text" else str(value)
    return out


def has_view_params(params: Mapping[str, Any]) -> bool:
    return any(p in params for p in PARAMS.values())


def view_from_params(  # noqa: C901 — one flat pass over the link's parameters, one branch each
    params: Mapping[str, Any], user_ids: set[int] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """A view read from URL parameters. Anything unknown is dropped (the default applies) and named in a note."""
    view = dict(DEFAULT_VIEW)
    notes: list[str] = []

    def get(key: str) -> str | None:
        raw = params.get(PARAMS[key])
        if isinstance(raw, list):
            raw = raw[-1] if raw else None
        return None if raw is None else str(raw)

    text = get("text")
    if text is not None:
        view["text"] = text.strip()[:200]
    for key, allowed, what in (("types", SERVICE_TYPES, "service type"), ("reasons", REASONS, "reason")):
        raw = get(key)
        if raw:
            values = [v.strip() for v in raw.split(",") if v.strip()]
            bad = [v for v in values if v not in allowed]
            view[key] = [v for v in allowed if v in values]
            if bad:
                notes.append(f"The link's {what} {', '.join(repr(b) for b in bad)} is not known; it was left out.")
    status = get("status")
    if status is not None:
        if status in STATUS_VALUES:
            view["status"] = status
        else:
            notes.append(f"The link's status {status!r} is not a queue status; showing every open case.")
    assignee = get("assignee")
    if assignee is not None:
        if assignee in ("any", "mine", "unassigned"):
            view["assignee"] = assignee
        elif assignee.isdigit() and (user_ids is None or int(assignee) in user_ids):
            view["assignee"] = int(assignee)
        else:
            notes.append("The link's assignee is not a reviewer or manager here; showing anyone's cases.")
    for key, label in (("min", "from"), ("max", "to")):
        raw = get(key)
        if raw:
            try:
                view[key] = parse_amount(raw, DEFAULT_CURRENCY) / 100
            except MoneyError as exc:
                notes.append(f"The link's amount {label} is not valid ({exc}); it was left out.")
    sort = get("sort")
    if sort is not None:
        if sort in SORTS:
            view["sort"] = sort
        else:
            notes.append(f"The link's sort {sort!r} is not known; sorting by due date.")
    return view, notes


def filters_for(view: Mapping[str, Any]) -> tuple[QueueFilters, list[str]]:
    """The queue filters of a view, and notes on what was read differently from how it was typed."""
    notes: list[str] = []
    low, high = view.get("min"), view.get("max")
    amount_min, amount_max, swapped = ordered_amount_range(
        None if low is None else round(float(low) * 100), None if high is None else round(float(high) * 100)
    )
    if swapped:
        notes.append(
            f"The amount range was from {format_money(amount_max, DEFAULT_CURRENCY)} to "
            f"{format_money(amount_min, DEFAULT_CURRENCY)}, which matches nothing; showing cases from "
            f"{format_money(amount_min, DEFAULT_CURRENCY)} to {format_money(amount_max, DEFAULT_CURRENCY)}."
        )
    status = view.get("status", "all")
    filters = QueueFilters(
        service_types=tuple(view.get("types") or ()),
        reasons=tuple(view.get("reasons") or ()),
        statuses=OPEN_STATUSES if status == "all" else (status,),
        assignee=view.get("assignee", "any"),
        amount_min_cents=amount_min,
        amount_max_cents=amount_max,
        text=str(view.get("text") or "").strip(),
        sort=view.get("sort", "due"),
    )
    return filters, notes


@dataclass(frozen=True)
class SavedQueueView:
    id: int
    name: str
    params: dict[str, str]


def _clean_name(name: str) -> str:
    clean = " ".join((name or "").split())
    if not clean:
        raise InvalidInput("Give the view a name.", field="name")
    if len(clean) > MAX_NAME:
        raise InvalidInput(f"A view's name has at most {MAX_NAME} characters.", field="name")
    return clean


def save_view(db: Database, actor_id: int, name: str, view: Mapping[str, Any]) -> SavedQueueView:
    """Save the view under `name` for this person; a view of the same name is replaced."""
    clean = _clean_name(name)
    params = view_to_params(view)
    with db.write.begin() as s:
        if s.get(User, actor_id) is None:
            raise NotFound("unknown user")
        existing = s.scalar(select(SavedView).where(SavedView.user_id == actor_id, SavedView.name == clean))
        if existing is None:
            count = len(s.scalars(select(SavedView.id).where(SavedView.user_id == actor_id)).all())
            if count >= MAX_VIEWS:
                raise InvalidInput(f"You have {MAX_VIEWS} saved views; delete one first.", field="name")
            existing = SavedView(user_id=actor_id, name=clean, filters=params, created_at=utcnow())
            s.add(existing)
        else:
            existing.filters = params
        s.flush()
        return SavedQueueView(existing.id, clean, params)


def list_views(db: Database, actor_id: int) -> list[SavedQueueView]:
    """This person's saved views, by name."""
    with db.read() as s:
        rows = s.execute(
            select(SavedView.id, SavedView.name, SavedView.filters)
            .where(SavedView.user_id == actor_id)
            .order_by(SavedView.name)
        ).all()
    return [SavedQueueView(i, n, dict(f or {})) for i, n, f in rows]


def delete_view(db: Database, actor_id: int, view_id: int) -> None:
    """Delete one of this person's saved views (someone else's is never touched)."""
    with db.write.begin() as s:
        gone = rowcount(s.execute(delete(SavedView).where(SavedView.id == view_id, SavedView.user_id == actor_id)))
    if not gone:
        raise NotFound("That saved view no longer exists.")
