"""Users and roles: the admin's use cases (add a user, deactivate or reactivate, change a role).

Every change re-checks in the database that the actor is an active admin (`manage_users`), and writes
the change and its `user_changed` audit event in one transaction. The desk never loses its last
active admin: deactivating or demoting them is refused (the check locks the admin rows, so two admins
demoting each other at the same moment cannot both succeed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from data.db import Database
from data.models import ROLES, CaseEvent, User
from desk import audit
from desk.auth import authorize, normalize_email
from desk.errors import InvalidInput, NotAllowed, NotFound

PERMISSION = "manage_users"
ROLE_LABELS = {"reviewer": "Reviewer", "manager": "Manager", "admin": "Admin"}
ROLE_HELP = {
    "reviewer": "works the queue and decides cases",
    "manager": "decides cases, approves exceptions, sees all analytics",
    "admin": "manages users and imports data; does not decide cases",
}

_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# Stricter than RFC 5321 on purpose: the characters work addresses use, none that means something in markdown
# except `_` (harmless inside a word).
_LOCAL_PART = re.compile(r"^[a-z0-9._%+'-]+$")
# Names are shown in markdown (menus, captions): letters, digits, spaces and . , ' ’ - ( ) only, so a
# name can never become a link, an image, HTML or a formula.
_NAME_CHARS = re.compile(r"^[\w .,'’()-]+$")


@dataclass(frozen=True)
class UserView:
    id: int
    email: str
    display_name: str
    role: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Change:
    """What a use case did: the user as they are now, and whether anything changed."""

    user: UserView
    changed: bool


class LastAdmin(InvalidInput):
    """Deactivating or demoting this user would leave the desk without an active admin."""


def validate_email(raw: str | None) -> str:
    """A work email in the form it is stored: trimmed, lower case. Raises InvalidInput(field="email")."""
    email = normalize_email(raw)
    if not email:
        raise InvalidInput("Enter the person's work email address.", "email")
    if len(email) > 254:
        raise InvalidInput("That email address is too long (254 characters at most).", "email")
    if email.count("@") != 1:
        raise InvalidInput("An email address has exactly one @, like name@company.com.", "email")
    local, domain = email.split("@")
    if len(local) > 64 or not _LOCAL_PART.match(local) or ".." in local or local.startswith(".") or local.endswith("."):
        raise InvalidInput(f"“{local}” is not a valid name before the @.", "email")
    labels = domain.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.match(label) for label in labels) or not labels[-1].isalpha():
        raise InvalidInput(f"“{domain}” is not a valid domain, like company.com.", "email")
    return email


def validate_display_name(raw: str | None) -> str:
    name = " ".join((raw or "").split())
    if not name:
        raise InvalidInput("Enter the name colleagues know them by.", "display_name")
    if len(name) > 120:
        raise InvalidInput("Keep the name under 120 characters.", "display_name")
    if not _NAME_CHARS.match(name) or "_" in name:
        raise InvalidInput("Use letters, digits, spaces and . , ' - ( ) only.", "display_name")
    return name


def validate_role(raw: str | None) -> str:
    if raw not in ROLES:
        raise InvalidInput(f"Choose a role: {', '.join(ROLES)}.", "role")
    return raw


def _view(u: User) -> UserView:
    return UserView(u.id, u.email, u.display_name, u.role, bool(u.active), u.created_at)


def list_users(db: Database, actor_id: int, *, include_inactive: bool = True) -> list[UserView]:
    """Everyone with an account, admins first, then by name."""
    authorize(db, actor_id, PERMISSION)
    q = select(User).order_by(User.active.desc(), User.role, User.display_name, User.id)
    if not include_inactive:
        q = q.where(User.active.is_(True))
    with db.read() as s:
        return [_view(u) for u in s.scalars(q)]


def recent_changes(db: Database, actor_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """The latest user and role changes from the audit trail, newest first."""
    authorize(db, actor_id, PERMISSION)
    with db.read() as s:
        # case_id IS NULL lets both backends walk ix_case_events_case (case_id, at) backwards.
        rows = s.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id.is_(None), CaseEvent.kind == audit.UserChanged.kind)
            .order_by(CaseEvent.at.desc(), CaseEvent.id.desc())
            .limit(limit)
        )
        return [
            {
                "at": e.at,
                "by": e.actor,
                "user": e.payload.get("email", ""),
                "change": describe_change(e.payload.get("changes", {})),
            }
            for e in rows
        ]


def describe_change(changes: dict[str, Any]) -> str:
    parts = []
    if "created" in changes:
        c = changes["created"]
        parts.append(f"added as {c.get('role')} ({c.get('display_name')})")
    if "role" in changes:
        before, after = changes["role"]
        parts.append(f"role {before} → {after}")
    if "active" in changes:
        parts.append("reactivated" if changes["active"][1] else "deactivated")
    return "; ".join(parts) or "changed"


# ---- writes ----------------------------------------------------------------------------------------


class _ActorChanged(Exception):
    """The actor stopped being an active admin between authorize() and the write."""


def _lock_active_admins(s: Session, actor_id: int) -> set[int]:
    """Lock the active admin rows (in id order, so concurrent admins cannot deadlock) and check that the
    actor is still one of them. Returns the ids of the active admins."""
    ids = set(
        s.scalars(
            select(User.id).where(User.role == "admin", User.active.is_(True)).order_by(User.id).with_for_update()
        )
    )
    if actor_id not in ids:
        raise _ActorChanged
    return ids


def _write(db: Database, actor_id: int, change) -> Change:
    """Run `change(session, actor, admin_ids)` in one write transaction after the permission check."""
    actor = authorize(db, actor_id, PERMISSION)
    try:
        with db.write.begin() as s:
            admins = _lock_active_admins(s, actor_id)
            return change(s, actor, admins)
    except _ActorChanged:
        authorize(db, actor_id, PERMISSION)  # audits the refusal and raises NotAllowed
        raise NotAllowed("Your admin rights changed while you were working; reload the page.") from None


def _target(s: Session, user_id: int) -> User:
    u = s.get(User, user_id)
    if u is None:
        raise NotFound(f"There is no user #{user_id}.")
    return u


def _record(s: Session, actor, target_email: str, changes: dict[str, Any]) -> None:
    audit.record(s, audit.UserChanged(email=target_email, changes=changes), actor=actor.email, actor_id=actor.id)


def add_user(db: Database, actor_id: int, email: str, display_name: str, role: str) -> Change:
    """Give someone an account. Their email must be the one their sign-in provider reports."""
    email = validate_email(email)
    display_name = validate_display_name(display_name)
    role = validate_role(role)

    def change(s: Session, actor, _admins) -> Change:
        existing = s.scalar(select(User).where(User.email == email))
        if existing is not None:
            state = "" if existing.active else " (deactivated — reactivate them instead)"
            raise InvalidInput(f"{email} already has an account{state}.", "email")
        u = User(email=email, display_name=display_name, role=role, active=True, created_at=audit.utcnow())
        s.add(u)
        s.flush()
        _record(s, actor, email, {"created": {"display_name": display_name, "role": role}})
        return Change(_view(u), True)

    try:
        return _write(db, actor_id, change)
    except IntegrityError:  # added by someone else between our check and our insert
        raise InvalidInput(f"{email} already has an account.", "email") from None


def set_active(db: Database, actor_id: int, user_id: int, active: bool) -> Change:
    """Deactivate (they lose access on their next click) or reactivate a user."""

    def change(s: Session, actor, admins: set[int]) -> Change:
        u = _target(s, user_id)
        if bool(u.active) == active:
            return Change(_view(u), False)
        if not active and u.id in admins and len(admins) == 1:
            raise LastAdmin(f"{u.display_name} is the last active admin; make someone else an admin first.", "active")
        u.active = active
        _record(s, actor, u.email, {"active": [not active, active]})
        return Change(_view(u), True)

    return _write(db, actor_id, change)


def change_role(db: Database, actor_id: int, user_id: int, role: str) -> Change:
    """Change a user's role; it applies to their next action (roles are re-read on every action)."""
    role = validate_role(role)

    def change(s: Session, actor, admins: set[int]) -> Change:
        u = _target(s, user_id)
        if u.role == role:
            return Change(_view(u), False)
        if u.id in admins and role != "admin" and len(admins) == 1:
            raise LastAdmin(f"{u.display_name} is the last active admin; make someone else an admin first.", "role")
        before, u.role = u.role, role
        _record(s, actor, u.email, {"role": [before, role]})
        return Change(_view(u), True)

    return _write(db, actor_id, change)
