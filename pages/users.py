"""Users and roles (admins only): who may use Refund Desk, with which role. Every change is audited."""

import pandas as pd
import streamlit as st

from desk.errors import DeskError
from desk.periods import now_in, zone_name
from desk.users import ROLE_HELP, ROLE_LABELS, add_user, change_role, list_users, recent_changes, set_active
from ui.approval_limits import approval_limits_setting
from ui.customer_history import frequent_requester_setting
from ui.guard import guard
from ui.runtime import desk_timezone
from ui.submit import FormMessages

ctx = guard("users")

ROLES = list(ROLE_LABELS)
# every message next to its form: a refusal by its field ("form": the form as a whole), a success under it
forms = FormMessages("users_messages", inline=True)


def _role_message(ch) -> str:
    u = ch.user
    return f"{u.display_name} is now {u.role}." if ch.changed else f"{u.display_name} was already {u.role}."


def _active_message(ch) -> str:
    u = ch.user
    state = "active again" if u.active else "deactivated: they lose access on their next click"
    return f"{u.display_name} is {state}." if ch.changed else f"{u.display_name} was already {state}."


@forms.callback
def _add(db, actor_id: int) -> None:
    ss = st.session_state
    if forms.submit(
        "add",
        lambda: add_user(db, actor_id, ss["new_email"], ss["new_name"], ss["new_role"]),
        done=lambda ch: f"Added {ch.user.display_name} (`{ch.user.email}`) as {ch.user.role}. They can sign in now.",
    ).ok:
        ss["new_email"], ss["new_name"], ss["new_role"] = "", "", "reviewer"


@forms.callback
def _change_role(db, actor_id: int, user_id: int, key: str) -> None:
    forms.submit("edit", lambda: change_role(db, actor_id, user_id, st.session_state[key]), done=_role_message)


@forms.callback
def _set_active(db, actor_id: int, user_id: int, active: bool) -> None:
    forms.submit("edit", lambda: set_active(db, actor_id, user_id, active), done=_active_message)


st.title("Users and roles")
st.caption(
    "Who may use Refund Desk and what they may do. People sign in with their company account; the email "
    "here must match the one their sign-in provider reports. Changes apply on the person's next click and "
    "are recorded in the audit trail."
)

try:
    users = list_users(ctx.db, ctx.actor.id)
except DeskError as exc:
    st.error(str(exc))
    st.stop()

active = [u for u in users if u.active]
counts = {r: sum(1 for u in active if u.role == r) for r in ROLES}
st.caption(
    f"{len(active)} active: "
    + ", ".join(f"{n} {ROLE_LABELS[r].lower()}{'s' if n != 1 else ''}" for r, n in counts.items())
    + f" · {len(users) - len(active)} deactivated"
)

show_inactive = st.toggle("Show deactivated users", value=True)
shown = users if show_inactive else active
table = pd.DataFrame(
    {
        "Name": [u.display_name for u in shown],
        "Email": [u.email for u in shown],
        "Role": [ROLE_LABELS[u.role] for u in shown],
        "Status": ["active" if u.active else "deactivated" for u in shown],
        "Added": [u.created_at for u in shown],
    }
)
st.dataframe(
    table,
    hide_index=True,
    width="stretch",
    height=min(38 + 35 * len(table), 600),  # every user visible up to ~16 rows, then scroll
    column_config={"Added": st.column_config.DatetimeColumn(format="YYYY-MM-DD")},
    key="users_table",
)

with st.expander("What each role may do"):
    for role in ROLES:
        st.markdown(f"- **{ROLE_LABELS[role]}** — {ROLE_HELP[role]}")

left, right = st.columns(2, gap="large")

with left:
    st.subheader("Add a user")
    with st.form("add_user", enter_to_submit=True):
        st.text_input("Work email", key="new_email", placeholder="name@company.com", max_chars=254)
        forms.field_errors("add", "email")
        st.text_input("Name", key="new_name", placeholder="First Last", max_chars=120)
        forms.field_errors("add", "display_name")
        st.selectbox(
            "Role",
            ROLES,
            key="new_role",
            format_func=ROLE_LABELS.get,
            help=" · ".join(f"{ROLE_LABELS[r]}: {ROLE_HELP[r]}" for r in ROLES),
        )
        forms.field_errors("add", "role")
        st.form_submit_button(
            "Add user", type="primary", icon=":material/person_add:", on_click=_add, args=(ctx.db, ctx.actor.id)
        )
    forms.field_errors("add", "form")
    forms.success("add")

with right:
    st.subheader("Change a user")
    by_id = {u.id: u for u in sorted(users, key=lambda u: u.display_name.lower())}
    user_id = st.selectbox(
        "User",
        list(by_id),
        index=None,
        placeholder="Choose a user (type to search)",
        format_func=lambda i: (
            f"{by_id[i].display_name} — {by_id[i].email}" + ("" if by_id[i].active else " (deactivated)")
        ),
        key="edit_user",
        on_change=forms.clear,
    )
    if user_id is not None:
        u = by_id[user_id]
        if u.id == ctx.actor.id:
            st.caption("This is you.")
        role_key = f"edit_role_{u.id}"
        with st.form("change_role"):
            st.selectbox("Role", ROLES, index=ROLES.index(u.role), key=role_key, format_func=ROLE_LABELS.get)
            forms.field_errors("edit", "role")
            st.form_submit_button(
                "Save role", icon=":material/badge:", on_click=_change_role, args=(ctx.db, ctx.actor.id, u.id, role_key)
            )
        if u.active:
            st.button(
                f"Deactivate {u.display_name}",
                icon=":material/person_off:",
                on_click=_set_active,
                args=(ctx.db, ctx.actor.id, u.id, False),
                help="They lose access on their next click. Their decisions and audit trail stay.",
            )
        else:
            st.button(
                f"Reactivate {u.display_name}",
                icon=":material/person_check:",
                on_click=_set_active,
                args=(ctx.db, ctx.actor.id, u.id, True),
            )
        forms.field_errors("edit", "active", "form")
        forms.success("edit")

frequent_requester_setting(ctx.db, ctx.actor)
approval_limits_setting(ctx.db, ctx.actor)

st.subheader("Recent changes")
changes = recent_changes(ctx.db, ctx.actor.id)
if changes:
    zone, _ = desk_timezone()
    when = f"When ({zone_name(zone)})"  # the desk's time zone, named (the database keeps UTC)
    frame = pd.DataFrame(changes)
    frame["at"] = [now_in(zone, at).replace(tzinfo=None) for at in frame["at"]]
    st.dataframe(
        frame.rename(columns={"at": when, "by": "By", "user": "User", "change": "Change"}),
        hide_index=True,
        width="stretch",
        column_config={when: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")},
    )
else:
    st.caption("No user or role changes recorded yet.")
