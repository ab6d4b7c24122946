"""Policy changes (managers; admins approve): draft a new version from the one in force, compare it, replay it
over past decisions, and have a second person approve exactly what they saw; then it takes effect on its date.
Section 6: "the new terms will apply to all services provided after the update"."""

from datetime import timedelta

import pandas as pd
import streamlit as st

from desk import policy_changes as pc
from desk import replay
from desk.errors import DeskError
from ui.errors import run_safely
from ui.export import download_file
from ui.guard import guard
from ui.replay_view import show_replay_result

ctx = guard("policy")

K = "pol_"
FLASH = K + "flash"
ERROR = K + "error"
DATE_FORMAT = "YYYY-MM-DD"
may_draft = ctx.actor.may("draft_policy")
may_publish = ctx.actor.may("publish_policy")


def _flash(message: str) -> None:
    st.session_state[FLASH] = message
    st.session_state.pop(ERROR, None)


def _fail(exc: DeskError) -> None:
    st.session_state[ERROR] = str(exc)
    st.session_state.pop(FLASH, None)


@run_safely
def _new_draft() -> None:
    try:
        d = pc.create_draft(ctx.db, ctx.actor.id, ctx.today)
    except DeskError as exc:
        _fail(exc)
        return
    st.session_state[K + "draft"] = d.id
    _flash(f"Draft {d.name} started from the version in force. Change it below, then save it.")


@run_safely
def _save(draft_id: int, revision: int) -> None:
    try:
        d = pc.save_draft(ctx.db, ctx.actor.id, draft_id, revision, _typed(draft_id, revision), ctx.today)
    except DeskError as exc:
        _fail(exc)
        return
    _flash(f"Draft {d.name} saved (revision {d.revision}). Ask another manager or an admin to approve it.")


def _say_text(draft_id: int, revision: int) -> None:
    """Rewrite every number of days the typed sections state to the typed window."""
    form = _typed(draft_id, revision)
    for n, text in form.clauses.items():
        st.session_state[_key(draft_id, revision, f"clause_{n}")] = pc.say_window(text, int(form.window_days or 0))


@run_safely
def _discard(draft_id: int) -> None:
    try:
        pc.discard_draft(ctx.db, ctx.actor.id, draft_id)
    except DeskError as exc:
        _fail(exc)
        return
    st.session_state.pop(K + "draft", None)
    _flash("Draft discarded; it stays in the history.")


@run_safely
def _approve(draft_id: int, seen_hash: str) -> None:
    try:
        v = pc.approve_and_publish(ctx.db, ctx.actor.id, draft_id, seen_hash, ctx.today)
    except DeskError as exc:
        _fail(exc)
        return
    st.session_state.pop(K + "draft", None)
    _flash(f"Published {v.name}: it takes effect on {v.effective_from}, for services provided from that day.")


@run_safely
def _withdraw(version_id: int) -> None:
    try:
        v = pc.withdraw(ctx.db, ctx.actor.id, version_id, ctx.today, st.session_state.get(K + f"why_{version_id}", ""))
    except DeskError as exc:
        _fail(exc)
        return
    _flash(f"Withdrew {v.name}; it will not take effect on {v.effective_from}.")


def _key(draft_id: int, revision: int, name: str) -> str:
    return f"{K}{draft_id}_{revision}_{name}"


def _typed(draft_id: int, revision: int) -> pc.DraftForm:
    """The draft form as typed (the widgets' values; a section's widget exists for each stored section)."""
    ss = st.session_state
    prefix = _key(draft_id, revision, "clause_")
    clauses = {str(k).removeprefix(prefix): ss[k] for k in list(ss.keys()) if str(k).startswith(prefix)}
    return pc.DraftForm(
        ss.get(_key(draft_id, revision, "name"), ""),
        ss.get(_key(draft_id, revision, "effective")),
        ss.get(_key(draft_id, revision, "window")),
        dict(sorted(clauses.items(), key=lambda i: int(i[0]))),
    )


# ---- page ----------------------------------------------------------------------------------------------------
st.title("Policy changes")
st.caption(
    "Section 6: the policy may change at any time; the new terms apply to services provided after the update. "
    "1 Draft from the version in force · 2 Compare · 3 Replay over past decisions · 4 A second person approves "
    "exactly what they saw, and the version takes effect on its date. A version in force is never edited."
)
if st.session_state.get(FLASH):
    st.success(st.session_state.pop(FLASH), icon=":material/check_circle:")
if st.session_state.get(ERROR):
    st.error(st.session_state.pop(ERROR), icon=":material/error:")

current = pc.in_force(ctx.db, ctx.today)
book = pc.book(ctx.db)
st.markdown(
    f"**In force today:** version {pc.takes_effect(current, ctx.today)} · {current.window_days}-day contact window"
)
scheduled = [v for v in pc.history(ctx.db) if v.scheduled(ctx.today)]
for v in scheduled:
    with st.container(border=True):
        st.markdown(
            f"**Scheduled:** version {v.name} — takes effect on {v.effective_from} "
            f"({v.window_days}-day window) · drafted by {v.created_by or 'a file'}, approved by "
            f"{v.approved_by or '—'}"
        )
        if may_publish:
            c1, c2 = st.columns([3, 1])
            c1.text_input("Why withdraw it (kept in the audit trail)", key=K + f"why_{v.id}")
            c2.button(
                "Withdraw",
                key=K + f"withdraw_{v.id}",
                on_click=_withdraw,
                help="Before it takes effect only",
                args=(v.id,),
                icon=":material/undo:",
            )

drafts = pc.drafts(ctx.db)
st.subheader("Drafts")
if may_draft:
    st.button("Start a new draft from the version in force", on_click=_new_draft, icon=":material/edit_note:")
if not drafts:
    st.info("No draft is waiting." + ("" if may_draft else " Managers start drafts."))
    chosen = None
else:
    ids = [d.id for d in drafts]
    if st.session_state.get(K + "draft") not in ids:
        st.session_state[K + "draft"] = ids[0]
    by_id = {d.id: d for d in drafts}
    picked = st.selectbox(
        "Draft",
        ids,
        key=K + "draft",
        format_func=lambda i: (
            f"{by_id[i].name} — takes effect on {by_id[i].effective_from} if approved · "
            f"by {by_id[i].created_by} · revision {by_id[i].revision}"
        ),
    )
    chosen = by_id[picked]

if chosen is not None:
    d = chosen
    stored = d.version()
    mine = d.created_by_id == ctx.actor.id
    tabs = st.tabs(["1. Draft", "2. Compare", "3. Replay", "4. Approve and publish"])
    with tabs[0]:
        if mine and may_draft:
            st.caption("Checked as you type; saved only when every check passes.")
            checks_box = st.container()  # filled below, once the widgets hold what was typed
            c1, c2, c3 = st.columns(3)
            c1.text_input(
                "Version name", value=stored.version, key=_key(d.id, d.revision, "name"), max_chars=pc.NAME_MAX
            )
            c2.date_input(
                "Takes effect on",
                value=stored.effective_from,
                format=DATE_FORMAT,
                min_value=ctx.today - timedelta(days=3650),
                max_value=ctx.today + timedelta(days=3650),
                key=_key(d.id, d.revision, "effective"),
                help="Services provided on or after this day are judged by this version. After today.",
            )
            c3.number_input(
                "Contact window (days)",
                min_value=0,
                max_value=3660,
                value=stored.window_days,
                step=1,
                key=_key(d.id, d.revision, "window"),
                help="Sections 1 and 4: the days after the service date a customer may contact us.",
            )
            for n, text in stored.clauses.items():
                st.text_area(
                    f"Section {n}: {stored.heading(n)}",
                    value=text,
                    height=160,
                    key=_key(d.id, d.revision, f"clause_{n}"),
                )
            form = _typed(d.id, d.revision)
            base = book.get(d.based_on, None) or current
            checked = pc.check_draft(ctx.db, form, base, ctx.today, draft_id=d.id)
            if checked.ok:
                checks_box.success(
                    "Every check passes: all sections present, the text states the contact window the "
                    "parameters give, the effective date is after today.",
                    icon=":material/task_alt:",
                )
            else:
                for where, message in checked.problems:
                    checks_box.error(f"{where}: {message}", icon=":material/error:")
            c1, c2, c3 = st.columns(3)
            c1.button(
                "Save the draft",
                type="primary",
                disabled=not checked.ok,
                on_click=_save,
                args=(d.id, d.revision),
                icon=":material/save:",
            )
            c2.button(
                f"Say {int(form.window_days or 0)} days in the text",
                on_click=_say_text,
                args=(d.id, d.revision),
                icon=":material/sync:",
                help="Rewrite every number of days the sections state to the contact window above.",
            )
            c3.button("Discard the draft", on_click=_discard, args=(d.id,), icon=":material/delete:")
        else:
            st.caption(f"Drafted by {d.created_by}; only the author edits it. What is saved:")
            st.markdown(f"Takes effect on **{d.effective_from}** if approved · contact window **{d.window_days} days**")
            for n, text in stored.clauses.items():
                with st.expander(f"Section {n}: {stored.heading(n)}"):
                    st.text(text.strip())
    comparison = pc.compare(current, stored)
    with tabs[1]:
        st.caption(f"The saved draft against the version in force today ({current.version}).")
        st.dataframe(
            pd.DataFrame(
                comparison.parameters,
                columns=["parameter", f"in force ({current.version})", f"draft ({stored.version})", "changed"],
            ),
            hide_index=True,
        )
        changed = comparison.changed_sections
        st.markdown(f"**Sections that change:** {', '.join(changed) if changed else 'none'}")
        for n, heading, old, new, is_changed in comparison.sections:
            if not is_changed:
                continue
            st.markdown(f"**Section {n}: {heading}**")
            left, right = st.columns(2)
            left.caption(f"In force ({current.version})")
            left.text(old)
            right.caption(f"Draft ({stored.version})")
            right.text(new)
        with st.expander("Unified diff"):
            st.code(comparison.unified or "(no difference)", language="diff")
    with tabs[2]:
        if not ctx.actor.may("replay_policy"):
            st.info("Managers and admins replay drafts.")
        else:
            base_version = book.get(d.based_on, None) or current
            st.caption(
                f"Re-judge the cases decided in a date range under the saved draft, as if it had replaced "
                f"{base_version.version} (in force since {base_version.effective_from}). Read-only."
            )
            period = st.date_input(
                "Cases decided between",
                value=(ctx.today - timedelta(days=89), ctx.today),
                format=DATE_FORMAT,
                key=K + "period",
            )
            if st.button("Replay the draft over past decisions", icon=":material/replay:", key=K + "replay"):
                if not isinstance(period, tuple) or len(period) != 2:
                    st.error("Pick the first and the last day of the range.", icon=":material/error:")
                else:
                    what_if = pc.as_replacement(d, base_version)
                    try:
                        st.session_state[K + "replay_result"] = replay.replay(
                            ctx.db, ctx.actor.id, what_if, period[0], period[1], book=book
                        )
                    except DeskError as exc:
                        st.error(str(exc), icon=":material/error:")
            res = st.session_state.get(K + "replay_result")
            if res is not None and res.draft.version == stored.version:
                show_replay_result(res)
    with tabs[3]:
        st.markdown(
            f"Version **{d.name}**, takes effect on **{d.effective_from}** if approved. "
            f"Content hash `{d.content_hash[:12]}` (revision {d.revision}, saved {d.created_at:%Y-%m-%d})."
        )
        if not may_publish:
            st.info("Another manager or an admin approves a draft.")
        elif mine:
            st.info("You drafted this version: a second person (another manager or an admin) approves it.")
        else:
            st.caption(
                "You approve exactly the content shown on this page (its hash); if the author saves it "
                "again before you click, the approval is refused and you review the new content."
            )
            st.button(
                f"Approve and publish {d.name}",
                type="primary",
                on_click=_approve,
                args=(d.id, d.content_hash),
                key=K + f"approve_{d.id}",
                icon=":material/verified:",
            )

st.subheader("History of changes")
rows = [
    {
        "version": v.name,
        "takes effect": v.effective_from,
        "state": pc.state_words(v, current, ctx.today),
        "window (days)": v.window_days,
        "source": pc.ORIGIN_LABELS.get(v.origin, v.origin),
        "drafted by": v.created_by or "",
        "approved by": v.approved_by or "",
        "published": v.published_at,
        "withdrawn by": v.withdrawn_by or "",
    }
    for v in pc.history(ctx.db)
]
st.dataframe(pd.DataFrame(rows), hide_index=True, key=K + "history")
md = pc.public_text(ctx.db, ctx.today, "markdown")
download_file(
    "Download the public policy text as of today (Markdown)",
    md,
    file_name=f"refund-policy-{ctx.today}.md",
    mime="text/markdown",
    icon=":material/download:",
)
