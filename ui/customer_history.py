"""The case page's "Customer history" tab and the frequent-requester flag; the admin's threshold setting."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.db import Database
from desk.auth import Actor
from desk.errors import DeskError
from desk.history import CustomerHistory
from desk.money import format_money, format_totals
from desk.settings import MAX_FREQUENT_REQUESTER, read_frequent_requester_threshold, set_frequent_requester_threshold
from policy import OUTCOME_LABELS, REASON_LABELS

CASE_STATUS = {"open": "Open", "awaiting_approval": "Awaiting approval", "closed": "Closed"}


def _decision(c) -> str:
    if not c.outcome:
        return "—"
    label = OUTCOME_LABELS.get(c.outcome, c.outcome)
    return {"pending": f"{label} (awaiting approval)", "rejected": f"{label} (rejected)"}.get(c.approval_status, label)


def frequent_badge(h: CustomerHistory) -> None:
    if h.frequent:
        st.badge(
            f"Frequent requester: {h.requests_last_12_months} requests in 12 months (threshold {h.threshold})",
            icon=":material/repeat:",
            color="orange",
        )


def history_panel(h: CustomerHistory) -> None:
    st.markdown(
        f"**Refunded or credited in the last 12 months:** {format_totals(h.paid_last_12_months)} · "
        f"**requests in 12 months:** {h.requests_last_12_months} (this one included)"
    )
    if not h.cases:
        st.caption("No other cases from this customer.")
        return
    st.caption(
        f"{h.other_cases} other case{'s' if h.other_cases != 1 else ''}, latest first"
        + (f" (the latest {len(h.cases)} shown)" if h.other_cases > len(h.cases) else "")
        + ". Select a case number to open it."
    )
    frame = pd.DataFrame(
        {
            "Case": [f"/case?case={c.case_id}" for c in h.cases],
            "Opened": [c.opened_on for c in h.cases],
            "Reason": [REASON_LABELS.get(c.reason, c.reason) for c in h.cases],
            "Requested": [format_money(c.amount_requested_cents, c.currency) for c in h.cases],
            "Status": [CASE_STATUS.get(c.status, c.status) for c in h.cases],
            "Decision": [_decision(c) for c in h.cases],
            "Amount": [
                format_money(c.amount_cents, c.currency)
                if c.outcome in ("full_refund", "partial_refund", "credit")
                else ""
                for c in h.cases
            ],
            "Decided": [c.decided_on for c in h.cases],
        }
    )
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "Case": st.column_config.LinkColumn(
                "Case", display_text=r"case=(\d+)$", width="small", help="Opens the case (in a new tab)"
            ),
            "Opened": st.column_config.DateColumn(format="YYYY-MM-DD"),
            "Decided": st.column_config.DateColumn(format="YYYY-MM-DD"),
        },
    )


def frequent_requester_setting(db: Database, actor: Actor) -> None:
    """The admin's setting (the users page): above how many requests in 12 months a customer is flagged."""
    current = read_frequent_requester_threshold(db)

    def _save() -> None:
        try:
            value = set_frequent_requester_threshold(db, actor.id, int(st.session_state["frequent_threshold"]))
        except (DeskError, ValueError, TypeError) as exc:
            st.session_state["frequent_threshold_msg"] = ("error", str(exc))
            return
        st.session_state["frequent_threshold_msg"] = (
            "success",
            f"Customers with more than {value} requests in 12 months are now flagged as frequent requesters.",
        )

    st.subheader("Frequent requesters")
    with st.form("frequent_threshold_form"):
        st.number_input(
            "Flag a customer with more than this many requests in 12 months",
            min_value=1,
            max_value=MAX_FREQUENT_REQUESTER,
            step=1,
            value=current,
            key="frequent_threshold",
        )
        st.form_submit_button("Save threshold", on_click=_save)
    msg = st.session_state.pop("frequent_threshold_msg", None)
    if msg:
        getattr(st, msg[0])(msg[1])
