"""Who may do what. Enforced here, in desk/, not only by hiding pages.

Roles are re-read from the database for every privileged action (a login cookie can outlive a role
change). A refusal raises NotAllowed and leaves an `access_refused` audit event.

The role table (issue 6):

| permission          | reviewer | manager | admin |
|---------------------|----------|---------|-------|
| view_cases          | yes      | yes     | yes   |  queue, case page, checker
| act_on_case         | yes      | yes     | no    |  assign, note, fix attempt, decide
| approve_exception   | no       | yes     | no    |  never their own (four eyes; also a DB constraint)
| view_analytics      | yes      | yes     | yes   |  reviewers: their own numbers only
| view_all_analytics  | no       | yes     | yes   |
| replay_policy       | no       | yes     | yes   |
| manage_users        | no       | no      | yes   |  users and roles page
| import_data         | no       | no      | yes   |
| remove_document     | no       | no      | yes   |  hides a file from a case (kept for the audit)
| edit_reply_templates| no       | yes     | no    |  the per-outcome reply templates
| manage_outbox       | no       | no      | yes   |  the outbox list and its retry button
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from data.db import Database
from data.models import User
from desk import audit
from desk.errors import NotAllowed

PERMISSIONS: dict[str, frozenset[str]] = {
    "view_cases": frozenset({"reviewer", "manager", "admin"}),  # queue, case page, checker
    "act_on_case": frozenset({"reviewer", "manager"}),  # assign, note, fix attempt, decide
    "approve_exception": frozenset({"manager"}),  # never their own (four eyes, also a DB constraint)
    "view_analytics": frozenset({"reviewer", "manager", "admin"}),  # reviewers: their own numbers only
    "view_all_analytics": frozenset({"manager", "admin"}),
    "replay_policy": frozenset({"manager", "admin"}),
    "draft_policy": frozenset({"manager"}),  # draft, edit, discard a policy version
    "publish_policy": frozenset({"manager", "admin"}),  # approve and publish someone else's draft; withdraw
    "manage_users": frozenset({"admin"}),
    "import_data": frozenset({"admin"}),
    "remove_document": frozenset({"admin"}),
    "edit_reply_templates": frozenset({"manager"}),
    "manage_outbox": frozenset({"admin"}),
}

_MAX_ACTOR_LEN = 254  # case_events.actor


@dataclass(frozen=True)
class Actor:
    id: int
    email: str
    display_name: str
    role: str

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def normalize_email(email: str | None) -> str:
    """The form every email is stored and looked up in: trimmed, lower case."""
    return (email or "").strip().lower()


def find_active_user(db: Database, email: str | None) -> Actor | None:
    """The active user with this email, or None (unknown and deactivated users look the same)."""
    email = normalize_email(email)
    if not email:
        return None
    with db.read() as s:
        u = s.scalar(select(User).where(User.email == email))
        if u is None or not u.active:
            return None
        return Actor(u.id, u.email, u.display_name, u.role)


def list_active_users(db: Database) -> list[Actor]:
    with db.read() as s:
        rows = s.scalars(select(User).where(User.active.is_(True)).order_by(User.role.desc(), User.display_name))
        return [Actor(u.id, u.email, u.display_name, u.role) for u in rows]


def authorize(db: Database, actor_id: int, permission: str, *, case_id: int | None = None) -> Actor:
    """Re-read the actor from the database and check the permission; audit and raise on refusal.

    Returns the actor as the database knows them now (their current role), so callers never act on a
    role cached at sign-in.
    """
    if permission not in PERMISSIONS:
        raise ValueError(f"unknown permission {permission!r}; known: {', '.join(sorted(PERMISSIONS))}")
    with db.read() as s:
        u = s.get(User, actor_id)
        actor = Actor(u.id, u.email, u.display_name, u.role) if u is not None else None
        active = bool(u and u.active)
    if actor is not None and active and actor.may(permission):
        return actor
    why = "unknown user" if actor is None else ("inactive user" if not active else f"role {actor.role}")
    with db.write.begin() as s:
        audit.record(
            s,
            audit.AccessRefused(action=permission, role=actor.role if actor else None, detail=why),
            actor=actor.email if actor else f"user #{actor_id}",
            actor_id=actor.id if actor else None,
            case_id=case_id,
        )
    raise NotAllowed(f"You may not do this ({permission.replace('_', ' ')}): {why}.")


def record_refusal(db: Database, action: str, *, email: str | None, detail: str) -> None:
    """Audit a refusal that happened outside `authorize`: a sign-in by an unknown or deactivated
    account, or a page opened by a role it is not for (e.g. by typing its URL)."""
    email = normalize_email(email)
    with db.write.begin() as s:
        u = s.scalar(select(User).where(User.email == email)) if email else None
        audit.record(
            s,
            audit.AccessRefused(action=action, role=u.role if u else None, detail=detail),
            actor=(email or "(no email claim)")[:_MAX_ACTOR_LEN],
            actor_id=u.id if u else None,
        )
