"""Who may do what, enforced in desk/ (not only by hiding pages), on SQLite and PostgreSQL.

Every forbidden cell of the role table raises NotAllowed *and* leaves an `access_refused` audit event;
every user and role change leaves a `user_changed` event; the desk never loses its last active admin.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

import desk.users as users_mod
from data.db import Database
from data.models import CaseEvent, User
from desk import audit
from desk.auth import PERMISSIONS, authorize, find_active_user, record_refusal
from desk.errors import InvalidInput, NotAllowed, NotFound
from desk.users import (
    LastAdmin,
    add_user,
    change_role,
    list_users,
    recent_changes,
    set_active,
    validate_display_name,
    validate_email,
)

# The role table of issue 6, written out independently of desk.auth.PERMISSIONS.
ROLE_TABLE = {
    "view_cases": {"reviewer", "manager", "admin"},
    "act_on_case": {"reviewer", "manager"},
    "approve_exception": {"manager"},
    "view_analytics": {"reviewer", "manager", "admin"},
    "view_all_analytics": {"manager", "admin"},
    "replay_policy": {"manager", "admin"},
    "manage_users": {"admin"},
    "import_data": {"admin"},
    "draft_policy": {"manager"},  # issue 14: managers draft a policy version
    "publish_policy": {"manager", "admin"},  # a second manager or an admin approves and publishes
    # issue 13
    "remove_document": {"admin"},
    "edit_reply_templates": {"manager"},
    "manage_outbox": {"admin"},
}


@dataclass
class People:
    reviewer: int
    manager: int
    admin: int
    inactive: int

    def by_role(self, role: str) -> int:
        return getattr(self, role)


def _insert(db: Database, email: str, name: str, role: str, active: bool = True) -> int:
    with db.write.begin() as s:
        u = User(email=email, display_name=name, role=role, active=active, created_at=audit.utcnow())
        s.add(u)
        s.flush()
        return u.id


@pytest.fixture
def people(db: Database) -> People:
    """One active user per role and a deactivated reviewer, in an otherwise empty database."""
    return People(
        reviewer=_insert(db, "rita@desk.example", "Rita Ramos", "reviewer"),
        manager=_insert(db, "max@desk.example", "Max Müller", "manager"),
        admin=_insert(db, "ada@desk.example", "Ada Lovelace", "admin"),
        inactive=_insert(db, "victor@desk.example", "Victor Stale", "reviewer", active=False),
    )


def events(db: Database, kind: str) -> list[CaseEvent]:
    with db.read() as s:
        return list(s.scalars(select(CaseEvent).where(CaseEvent.kind == kind).order_by(CaseEvent.id)))


def user_row(db: Database, user_id: int) -> User:
    with db.read() as s:
        return s.get(User, user_id)


# ---- the role table --------------------------------------------------------------------------------------


def test_the_permission_table_is_the_one_the_issue_specifies():
    assert {p: set(roles) for p, roles in PERMISSIONS.items()} == ROLE_TABLE


@pytest.mark.parametrize("role", ["reviewer", "manager", "admin"])
def test_each_role_is_allowed_exactly_its_cells_and_every_refusal_is_audited(db, people, role):
    actor_id = people.by_role(role)
    allowed, refused = set(), set()
    for permission in PERMISSIONS:
        try:
            actor = authorize(db, actor_id, permission, case_id=None)
        except NotAllowed as exc:
            refused.add(permission)
            assert permission.replace("_", " ") in str(exc)
        else:
            assert actor.id == actor_id and actor.role == role
            allowed.add(permission)

    assert allowed == {p for p, roles in ROLE_TABLE.items() if role in roles}
    audited = events(db, "access_refused")
    assert sorted(e.payload["action"] for e in audited) == sorted(refused)
    for e in audited:
        assert e.actor_id == actor_id
        assert e.payload["role"] == role
        assert e.payload["detail"] == f"role {role}"


def test_an_inactive_user_is_refused_everything_and_each_refusal_is_audited(db, people):
    for permission in PERMISSIONS:
        with pytest.raises(NotAllowed, match="inactive user"):
            authorize(db, people.inactive, permission)
    audited = events(db, "access_refused")
    assert len(audited) == len(PERMISSIONS)
    assert {e.actor_id for e in audited} == {people.inactive}
    assert {e.payload["detail"] for e in audited} == {"inactive user"}


def test_an_unknown_user_id_is_refused_and_audited_without_a_user_reference(db, people):
    with pytest.raises(NotAllowed, match="unknown user"):
        authorize(db, 9999, "view_cases")
    [e] = events(db, "access_refused")
    assert e.actor_id is None and e.actor == "user #9999" and e.payload["role"] is None


def test_an_unknown_permission_is_a_programming_error_not_a_refusal(db, people):
    with pytest.raises(ValueError, match="unknown permission"):
        authorize(db, people.admin, "launch_rockets")
    assert events(db, "access_refused") == []


def test_a_role_change_after_sign_in_applies_to_the_next_action(db, people):
    signed_in = find_active_user(db, "RITA@desk.example ")  # what the guard resolved at sign-in
    assert signed_in is not None and signed_in.role == "reviewer"
    authorize(db, signed_in.id, "act_on_case")

    change_role(db, people.admin, signed_in.id, "admin")
    # The session still holds the old Actor; the desk re-reads the role and refuses.
    with pytest.raises(NotAllowed, match="role admin"):
        authorize(db, signed_in.id, "act_on_case")
    assert authorize(db, signed_in.id, "manage_users").role == "admin"

    set_active(db, people.admin, signed_in.id, False)
    with pytest.raises(NotAllowed, match="inactive user"):
        authorize(db, signed_in.id, "view_cases")
    assert find_active_user(db, "rita@desk.example") is None
    assert [e.payload["action"] for e in events(db, "access_refused")] == ["act_on_case", "view_cases"]


def test_record_refusal_audits_a_sign_in_by_an_unknown_email(db, people):
    record_refusal(db, "sign_in", email="Stranger@Elsewhere.example", detail="unknown or inactive user")
    record_refusal(db, "sign_in", email="victor@desk.example", detail="unknown or inactive user")
    first, second = events(db, "access_refused")
    assert (first.actor, first.actor_id, first.payload["action"]) == ("stranger@elsewhere.example", None, "sign_in")
    assert (second.actor_id, second.payload["role"]) == (people.inactive, "reviewer")


# ---- users and roles: only admins ----------------------------------------------------------------------

ADMIN_ACTIONS = {
    "add_user": lambda db, actor, p: add_user(db, actor, "new@desk.example", "New Person", "reviewer"),
    "deactivate": lambda db, actor, p: set_active(db, actor, p.reviewer, False),
    "reactivate": lambda db, actor, p: set_active(db, actor, p.inactive, True),
    "change_role": lambda db, actor, p: change_role(db, actor, p.reviewer, "admin"),
    "list_users": lambda db, actor, p: list_users(db, actor),
    "recent_changes": lambda db, actor, p: recent_changes(db, actor),
}


@pytest.mark.parametrize("who", ["reviewer", "manager", "inactive"])
def test_only_an_active_admin_may_manage_users_and_every_refusal_is_audited(db, people, who):
    actor_id = people.by_role(who)
    with db.read() as s:
        before = [(u.id, u.email, u.role, u.active) for u in s.scalars(select(User).order_by(User.id))]
    for action in ADMIN_ACTIONS.values():
        with pytest.raises(NotAllowed):
            action(db, actor_id, people)
    with db.read() as s:
        after = [(u.id, u.email, u.role, u.active) for u in s.scalars(select(User).order_by(User.id))]
    assert after == before, "a refused action changed the users table"
    audited = events(db, "access_refused")
    assert len(audited) == len(ADMIN_ACTIONS)
    assert {(e.actor_id, e.payload["action"]) for e in audited} == {(actor_id, "manage_users")}
    assert events(db, "user_changed") == []


def test_adding_a_user_is_audited_with_who_did_it(db, people):
    ch = add_user(db, people.admin, "  New.Person@Desk.Example ", "  New   Person ", "manager")
    assert ch.changed and ch.user.email == "new.person@desk.example" and ch.user.display_name == "New Person"
    assert find_active_user(db, "new.person@desk.example").role == "manager"
    [e] = events(db, "user_changed")
    assert (e.actor, e.actor_id, e.case_id) == ("ada@desk.example", people.admin, None)
    assert e.payload == {
        "email": "new.person@desk.example",
        "changes": {"created": {"display_name": "New Person", "role": "manager"}},
    }


def test_role_changes_and_deactivations_are_audited_and_repeats_are_no_ops(db, people):
    assert change_role(db, people.admin, people.reviewer, "manager").changed
    assert not change_role(db, people.admin, people.reviewer, "manager").changed  # a double click
    assert set_active(db, people.admin, people.reviewer, False).changed
    assert not set_active(db, people.admin, people.reviewer, False).changed
    assert set_active(db, people.admin, people.inactive, True).changed
    changes = [(e.payload["email"], e.payload["changes"]) for e in events(db, "user_changed")]
    assert changes == [
        ("rita@desk.example", {"role": ["reviewer", "manager"]}),
        ("rita@desk.example", {"active": [True, False]}),
        ("victor@desk.example", {"active": [False, True]}),
    ]
    assert [c["change"] for c in recent_changes(db, people.admin)] == [
        "reactivated",
        "deactivated",
        "role reviewer → manager",
    ]
    assert user_row(db, people.reviewer).role == "manager" and not user_row(db, people.reviewer).active


def test_list_users_shows_everyone_to_an_admin_and_can_hide_the_deactivated(db, people):
    assert {u.email for u in list_users(db, people.admin)} == {
        "rita@desk.example",
        "max@desk.example",
        "ada@desk.example",
        "victor@desk.example",
    }
    assert "victor@desk.example" not in {u.email for u in list_users(db, people.admin, include_inactive=False)}


def test_changing_a_user_who_does_not_exist_is_not_found(db, people):
    with pytest.raises(NotFound):
        change_role(db, people.admin, 9999, "manager")


# ---- the last active admin -------------------------------------------------------------------------------


def test_the_last_active_admin_can_be_neither_deactivated_nor_demoted(db, people):
    with pytest.raises(LastAdmin, match="last active admin") as exc:
        set_active(db, people.admin, people.admin, False)
    assert exc.value.field == "active"
    with pytest.raises(LastAdmin) as exc:
        change_role(db, people.admin, people.admin, "manager")
    assert exc.value.field == "role"
    admin = user_row(db, people.admin)
    assert admin.active and admin.role == "admin"
    assert events(db, "user_changed") == []


def test_a_deactivated_admin_does_not_count_as_a_second_admin(db, people):
    other = add_user(db, people.admin, "grace@desk.example", "Grace Hopper", "admin").user
    set_active(db, people.admin, other.id, False)
    with pytest.raises(LastAdmin):
        change_role(db, people.admin, people.admin, "reviewer")


def test_with_a_second_admin_an_admin_may_step_down(db, people):
    grace = add_user(db, people.admin, "grace@desk.example", "Grace Hopper", "admin").user
    assert change_role(db, people.admin, people.admin, "manager").changed
    # Ada is no longer an admin: her next admin action is refused (and audited).
    with pytest.raises(NotAllowed):
        set_active(db, people.admin, grace.id, False)
    with pytest.raises(LastAdmin):
        set_active(db, grace.id, grace.id, False)


def test_two_admins_deactivating_each_other_at_once_leave_one_admin(db, people, monkeypatch):
    """Ada deactivates Grace while Grace deactivates Ada. Ada's transaction holds the admin rows (PostgreSQL
    FOR UPDATE; on SQLite the write lock) until Grace has passed her permission check; whatever the
    interleaving after that, exactly one change wins and one admin remains."""
    ada = people.admin
    grace = add_user(db, ada, "grace@desk.example", "Grace Hopper", "admin").user.id
    grace_checked = threading.Event()
    real_lock, real_authorize = users_mod._lock_active_admins, users_mod.authorize

    def lock(s, actor_id):
        ids = real_lock(s, actor_id)
        if actor_id == ada:
            ada_locked.set()
            assert grace_checked.wait(20), "Grace's call never got past authorize"
        return ids

    def authorize_(db_, actor_id, permission, **kw):
        actor = real_authorize(db_, actor_id, permission, **kw)
        if actor_id == grace:
            grace_checked.set()
        return actor

    monkeypatch.setattr(users_mod, "_lock_active_admins", lock)
    monkeypatch.setattr(users_mod, "authorize", authorize_)
    ada_locked = threading.Event()
    results: dict[str, object] = {}

    def run(name, actor, target):
        try:
            results[name] = set_active(db, actor, target, False).changed
        except Exception as exc:  # collected and asserted below
            results[name] = exc

    t_ada = threading.Thread(target=run, args=("ada", ada, grace))
    t_ada.start()
    assert ada_locked.wait(20)
    t_grace = threading.Thread(target=run, args=("grace", grace, ada))
    t_grace.start()
    t_ada.join(30)
    t_grace.join(30)

    assert results["ada"] is True
    assert isinstance(results["grace"], NotAllowed), results["grace"]
    with db.read() as s:
        admins = s.scalars(select(User.email).where(User.role == "admin", User.active.is_(True))).all()
    assert admins == ["ada@desk.example"]
    assert len(events(db, "user_changed")) == 2  # Grace's creation and her deactivation; nothing from Grace


# ---- validation ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("rita@refund-desk.example", "rita@refund-desk.example"),
        ("  Rita.Ramos+desk@Company.CO.uk ", "rita.ramos+desk@company.co.uk"),
        ("o'brien@company.com", "o'brien@company.com"),
    ],
)
def test_valid_emails_are_stored_trimmed_and_lower_case(raw, stored):
    assert validate_email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "rita",
        "rita@",
        "@company.com",
        "rita@@company.com",
        "rita@company",
        "rita@company.",
        "ri ta@company.com",
        "rita@-company.com",
        "rita..r@company.com",
        ".rita@company.com",
        "rita@company.c0m",
        "rita@exa_mple.com",
        "a" * 65 + "@company.com",
        "rita@" + "a" * 250 + ".com",
    ],
)
def test_invalid_emails_are_refused_next_to_the_email_field(raw):
    with pytest.raises(InvalidInput) as exc:
        validate_email(raw)
    assert exc.value.field == "email"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "  ",
        "[click](https://evil.example)",
        "![x](https://evil.example/p.png)",
        "<b>x</b>",
        "$x^2$",
        "a" * 121,
        "Rita_Ramos",
    ],
)
def test_names_that_are_empty_too_long_or_could_render_as_markup_are_refused(raw):
    with pytest.raises(InvalidInput) as exc:
        validate_display_name(raw)
    assert exc.value.field == "display_name"


def test_names_with_accents_apostrophes_and_hyphens_are_fine():
    assert validate_display_name("  Zoë   O'Neil-Müller (contractor) ") == "Zoë O'Neil-Müller (contractor)"


def test_a_duplicate_email_or_an_unknown_role_is_refused_next_to_its_field(db, people):
    with pytest.raises(InvalidInput, match="already has an account") as exc:
        add_user(db, people.admin, "RITA@desk.example", "Rita Again", "reviewer")
    assert exc.value.field == "email"
    with pytest.raises(InvalidInput, match="reactivate") as exc:
        add_user(db, people.admin, "victor@desk.example", "Victor", "reviewer")
    with pytest.raises(InvalidInput) as exc:
        add_user(db, people.admin, "new@desk.example", "New Person", "superuser")
    assert exc.value.field == "role"
    with pytest.raises(InvalidInput) as exc:
        change_role(db, people.admin, people.reviewer, "owner")
    assert exc.value.field == "role"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(User)) == 4
