"""The queue's "Act on several cases" panel: decide the chosen cases with one outcome, or (managers) approve the
chosen pending decisions — a progress bar while it runs, then one result line per case (desk.bulk_actions)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from data.db import Database
from desk.auth import Actor
from desk.bulk_actions import BulkResult, approve_many, decide_many, pending_decisions
from desk.cases import assign_many
from desk.errors import DeskError
from desk.queue import QueueRow, queue_users
from policy import OUTCOME_LABELS
from ui.casework import clear_queue_caches

RESULTS = "bulk_results"
BULK_OUTCOMES = ("fix", "full_refund", "deny")  # partial refunds and credits need an amount per case


def _show(title: str, results: list[BulkResult]) -> None:
    done = sum(r.ok for r in results)
    (st.success if done == len(results) else st.warning)(
        f"{title}: {done} of {len(results)} case{'s' if len(results) != 1 else ''} done"
        + ("" if done == len(results) else f", {len(results) - done} left out or refused (see below)")
        + "."
    )
    st.dataframe(
        pd.DataFrame(
            {
                "Case": [r.case_id for r in results],
                "Result": ["done" if r.ok else "not done" for r in results],
                "Detail": [r.message for r in results],
            }
        ),
        hide_index=True,
        width="stretch",
        column_config={
            "Case": st.column_config.NumberColumn(format="#%d", width="small"),
            "Result": st.column_config.TextColumn(width="small"),
        },
    )


def bulk_panel(db: Database, actor: Actor, rows: list[QueueRow], today: date) -> None:
    kept = st.session_state.pop(RESULTS, None)
    if kept:
        _show(*kept)
    if not actor.may("act_on_case"):
        return
    by_id = {r.case_id: r for r in rows}
    with st.expander("Act on several cases", icon=":material/checklist:"):
        chosen = st.multiselect(
            "Cases on this page",
            list(by_id),
            key="bulk_cases",
            placeholder="Choose cases",
            format_func=lambda c: f"#{c} · {by_id[c].customer_name}",
        )
        row = st.columns([2, 1], vertical_alignment="bottom")
        outcome = row[0].radio(
            "Outcome for each",
            BULK_OUTCOMES,
            format_func=OUTCOME_LABELS.get,
            key="bulk_outcome",
            horizontal=True,
            help="Each case is judged on its own: where this outcome would be an exception it is left out and listed.",
        )
        if row[1].button("Decide selected", key="bulk_decide", type="primary", disabled=not chosen):
            bar = st.progress(0.0, text="Deciding…")
            try:
                results = decide_many(
                    db,
                    actor.id,
                    [(c, by_id[c].version) for c in chosen],
                    outcome,
                    today=today,
                    progress=lambda n, total: bar.progress(n / total, text=f"Decided {n} of {total}"),
                )
            except DeskError as exc:
                st.error(str(exc))
                return
            clear_queue_caches()
            st.session_state[RESULTS] = (f"{OUTCOME_LABELS[outcome]}", results)
            st.rerun()
        people = dict(queue_users(db))
        row2 = st.columns([2, 1], vertical_alignment="bottom")
        to = row2[0].selectbox(
            "Assign to",
            list(people),
            format_func=people.get,
            key="bulk_assignee",
            index=None,
            placeholder="Choose a reviewer or manager",
        )
        if row2[1].button("Assign selected", key="bulk_assign", disabled=not chosen or to is None):
            done = assign_many(db, actor.id, [(c, by_id[c].version) for c in chosen], to)
            clear_queue_caches()
            st.session_state[RESULTS] = (
                f"Assign to {people[to]}",
                [
                    *(BulkResult(c, True, f"assigned to {people[to]}") for c in done.assigned),
                    *(BulkResult(c, False, why) for c, why in done.skipped),
                ],
            )
            st.rerun()
        if actor.may("approve_exception"):
            pending = pending_decisions(db, chosen)
            mine = [c for c, (_d, by) in pending.items() if by == actor.id]
            st.text_input("Approval note (for every chosen pending decision)", key="bulk_note")
            if st.button(
                "Approve selected",
                key="bulk_approve",
                disabled=not pending,
                help="Pending exceptions and decisions above the limit; never ones you decided.",
            ):
                bar = st.progress(0.0, text="Approving…")
                ids = [d for c, (d, by) in pending.items() if by != actor.id]
                results = approve_many(
                    db,
                    actor.id,
                    ids,
                    st.session_state.get("bulk_note", ""),
                    today=today,
                    progress=lambda n, total: bar.progress(n / total, text=f"Approved {n} of {total}"),
                )
                results += [BulkResult(c, False, "you decided it yourself (four eyes)") for c in mine]
                clear_queue_caches()
                st.session_state[RESULTS] = ("Approve", results)
                st.rerun()
