"""The result of a what-if replay as the What-if replay page and the Policy changes page show it."""

from __future__ import annotations

import streamlit as st

from desk.replay import ReplayResult
from ui.export import download_prepared_csv


def show_replay_result(res: ReplayResult) -> None:
    st.divider()
    st.markdown(
        f"**Draft {res.draft.version}** (effective from {res.draft.effective_from}, "
        f"{res.draft.window_days}-day window) over cases decided {res.start} to {res.end}: "
        f"{res.cases:,} cases re-judged in " + (f"{res.seconds:.1f} s." if res.seconds >= 0.1 else "under 0.1 s.")
    )
    if res.cases == 0:
        st.info("No case was decided in this range. Pick a wider range.")
    else:
        m1, m2, m3, m4 = st.columns(4)
        m1.metric("Decided cases", f"{res.cases:,}", border=True)
        m2.metric(
            "Verdicts that change",
            f"{res.verdicts_changed:,}",
            f"{res.verdicts_changed / res.cases:.1%} of cases",
            delta_color="off",
            delta_arrow="off",
            border=True,
        )
        m3.metric(
            "More generous",
            f"{res.more_generous:,}",
            border=True,
            help="The draft recommends or allows more for the customer.",
        )
        m4.metric(
            "Less generous",
            f"{res.less_generous:,}",
            border=True,
            help="The draft recommends or allows less for the customer.",
        )
        if res.not_judged:
            st.warning(
                f"{len(res.not_judged):,} cases could not be judged (e.g. case {res.not_judged[0][0]}: "
                f"{res.not_judged[0][1]}). They are counted but left out of the rates."
            )
        pct = st.column_config.NumberColumn(format="percent")
        st.markdown("**Refund and exception rates**")
        st.dataframe(
            res.rates(),
            hide_index=True,
            column_config={
                "as decided": pct,
                "under the draft": pct,
                "change (points)": st.column_config.NumberColumn(format="%+.2f"),
            },
        )
        rate_cols = {c: pct for c in res.by_reason_frame().columns if "rate" in c}
        rate_cols.update({c: st.column_config.NumberColumn(width="small") for c in ("cases", "changed")})
        rate_cols["more generous"] = st.column_config.NumberColumn(
            "more", width="small", help="Verdicts that became more generous"
        )
        rate_cols["less generous"] = st.column_config.NumberColumn(
            "less", width="small", help="Verdicts that became less generous"
        )
        st.markdown("**By reason**")
        st.dataframe(res.by_reason_frame(), hide_index=True, column_config=rate_cols)
        st.markdown("**By service type**")
        st.dataframe(res.by_service_type_frame(), hide_index=True, column_config=rate_cols)
        st.markdown(f"**Cases whose verdict changes** ({res.verdicts_changed:,})")
        if res.changed:
            limit = 2_000
            st.dataframe(res.changed_frame(limit), hide_index=True)
            if len(res.changed) > limit:
                st.caption(f"Showing the first {limit:,}; the CSV has all {len(res.changed):,}.")
            download_prepared_csv(
                "Download the changed cases as CSV",
                res.changed_csv(),
                file_name=f"replay-{res.draft.version.replace(' ', '-')}-{res.start}-{res.end}.csv",
                icon=":material/download:",
            )
        else:
            st.info("No verdict changes under this draft.")
