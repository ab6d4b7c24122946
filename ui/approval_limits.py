"""The admin's approval limits per currency (the users page): refunds and credits above them need a manager."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.db import Database
from desk.auth import Actor
from desk.errors import DeskError
from desk.limits import list_limits, set_limit
from desk.money import MoneyError, check_currency, parse_amount

MSG = "approval_limit_msg"


def approval_limits_setting(db: Database, actor: Actor) -> None:
    def _save(remove: bool) -> None:
        try:
            code = check_currency(st.session_state.get("limit_currency", ""))
            cents = None if remove else parse_amount(st.session_state.get("limit_amount", ""), code)
            saved = set_limit(db, actor.id, code, cents)
        except (DeskError, MoneyError) as exc:
            st.session_state[MSG] = ("error", str(exc))
            return
        st.session_state[MSG] = (
            "success",
            f"Refunds and credits in {code} above {saved.text} now need a manager's approval."
            if saved
            else f"{code} has no approval limit now.",
        )

    st.subheader("Approval limits")
    limits = list_limits(db)
    if limits:
        st.dataframe(
            pd.DataFrame({"Currency": [x.currency for x in limits], "Limit": [x.text for x in limits]}), hide_index=True
        )
    else:
        st.caption("No approval limits: refunds and credits the policy allows close the case at once.")
    with st.form("approval_limit_form"):
        row = st.columns([1, 2])
        row[0].text_input("Currency", key="limit_currency", max_chars=3, placeholder="USD")
        row[1].text_input("Refunds or credits above this need a manager", key="limit_amount", placeholder="500.00")
        buttons = st.container(horizontal=True)
        buttons.form_submit_button("Save limit", on_click=_save, args=(False,))
        buttons.form_submit_button("Remove limit", on_click=_save, args=(True,))
    msg = st.session_state.pop(MSG, None)
    if msg:
        getattr(st, msg[0])(msg[1])
