"""What-if replay (managers and admins): re-judge the cases decided in a date range under a draft policy
version — a parameter of a published version changed, or an uploaded TOML file — and show what would change.
Read-only; desk/replay.py does the work (permission `replay_policy`)."""

from datetime import timedelta

import streamlit as st

from desk import checker, replay
from desk.errors import DeskError
from ui.guard import guard
from ui.replay_view import show_replay_result

ctx = guard("replay")

DATE_LIMITS = checker.WIDGET_DATE_LIMITS
DATE_FORMAT = "YYYY-MM-DD"

book = checker.current_book(ctx.db)
names = checker.version_names(book)

st.title("What-if replay")
st.subheader("What if the policy changed?")
st.caption(
    "Re-judge every case decided in a date range under a draft policy version and see what would change. "
    "Read-only: nothing is written. A decision within the rules stands if the draft still allows it, "
    "otherwise the reviewer is assumed to follow the draft's recommendation; granted exceptions stand."
)
source = st.radio(
    "Draft",
    ["change", "upload"],
    horizontal=True,
    key="rp_source",
    format_func={"change": "Change a parameter of a version", "upload": "Upload a draft (TOML)"}.get,
)
draft, draft_error = None, None
if source == "change":
    c1, c2, c3 = st.columns(3)
    base_name = c1.selectbox("Start from version", names, key="rp_base")
    base = book.get(base_name)
    window = c2.number_input(
        "Contact window (days)",
        min_value=0,
        max_value=3660,
        value=base.window_days,
        step=1,
        key="rp_window",
        help="Sections 1 and 4: how many days after the service date a customer may contact us.",
    )
    effective = c3.date_input(
        "Effective from",
        value=base.effective_from,
        format=DATE_FORMAT,
        key="rp_effective",
        help="Section 6: the draft applies to services provided on or after this day.",
        **DATE_LIMITS,
    )
    try:
        draft = replay.draft_from_version(book, base_name, window_days=int(window), effective_from=effective)
    except DeskError as exc:
        draft_error = str(exc)
else:
    upload = st.file_uploader(
        "Draft version (.toml, the layout of policy/versions/)",
        type=["toml"],
        key="rp_upload",
        help="Download a version as TOML on the Policy checker's 'Policy versions' tab, change it, and upload it here.",
    )
    if upload is not None:
        try:
            draft = replay.draft_from_toml(upload.getvalue())
        except DeskError as exc:
            draft_error = str(exc)
if draft_error:
    st.error(draft_error, icon=":material/error:")
if draft is not None:
    replaced = replay.replaced_version(book, draft)
    if replaced is not None:
        diff = checker.compare_versions_of(replaced, draft)
        with st.expander(f"What the draft changes, compared with {replaced.version}", expanded=bool(diff)):
            if diff:
                st.code(diff, language="diff")
            else:
                st.info("The draft is the same as the current version; every verdict will stay the same.")
period = st.date_input(
    "Cases decided between",
    value=(ctx.today - timedelta(days=89), ctx.today),
    format=DATE_FORMAT,
    key="rp_period",
    **DATE_LIMITS,
)
if st.button("Run the replay", type="primary", disabled=draft is None, icon=":material/replay:"):
    if not isinstance(period, tuple) or len(period) != 2:
        st.error("Pick the first and the last day of the range.", icon=":material/error:")
    else:
        bar = st.progress(0.0, text="Counting the decided cases")
        try:
            st.session_state["rp_result"] = replay.replay(
                ctx.db,
                ctx.actor.id,
                draft,
                period[0],
                period[1],
                book=book,
                progress=lambda done, total: bar.progress(
                    done / total if total else 1.0, text=f"Re-judged {done:,} of {total:,} decided cases"
                ),
            )
        except DeskError as exc:
            st.error(str(exc), icon=":material/error:")
        bar.empty()
res = st.session_state.get("rp_result")
if res is not None:
    show_replay_result(res)
