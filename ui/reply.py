"""The case page's reply section: the reviewer edits the reply (the outcome's template rendered for this
decision) and sends it — into the outbox with [smtp] configured, else stored to send by hand with a copy button —
and sees what the outbox did with it and with the billing webhook (queued / sent / failed with the reason).
Customer text stays inert: the reply is shown in st.code / st.text_area, reasons with st.text."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.db import Database
from desk import outbox, replies
from desk.auth import Actor
from desk.config import smtp_settings
from desk.errors import DeskError
from ui.casework import flash

REPLY_ERROR = "reply_error"  # (decision id, message)


def _send(db: Database, actor_id: int, case_id: int, decision_id: int, to: str) -> None:
    subject = st.session_state.get(f"reply_subject_{decision_id}", "")
    body = st.session_state.get(f"reply_body_{decision_id}", "")
    try:
        view = outbox.send_reply(db, actor_id, case_id, decision_id, to, subject, body)
    except DeskError as exc:
        st.session_state[REPLY_ERROR] = (decision_id, str(exc))
        return
    st.session_state.pop(REPLY_ERROR, None)
    flash(
        "success",
        "Reply saved: copy it below and send it by hand."
        if view.status == "by_hand"
        else "Reply queued: the outbox worker sends it; its progress shows below and in the timeline.",
    )


def _status_table(items: list[outbox.OutboxView]) -> None:
    st.dataframe(
        pd.DataFrame(
            [(v.what, v.state, v.attempts, v.sent_at, v.last_error or "") for v in items],
            columns=["Message", "Status", "Attempts", "Sent (UTC)", "Last error"],
        ),
        hide_index=True,
        width="stretch",
        column_config={"Sent (UTC)": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss")},
    )


def _read_only_draft(policy_draft: str) -> None:
    st.caption(
        "The policy's draft reply — plain text to copy; it quotes the sentences of the cited sections that apply."
    )
    st.code(policy_draft, language=None, wrap_lines=True)


def reply_section(db: Database, actor: Actor, case_id: int, decision_id: int, policy_draft: str | None) -> None:
    """Below a final decision, one of: what happened to the reply sent (and the billing webhook); the reply form
    (which starts from the policy's draft); or, for a role that does not act on cases, the draft to read."""
    items = outbox.for_case(db, case_id)
    mine = [v for v in items if v.decision_id == decision_id]
    reply = next((v for v in mine if v.kind == "email"), None)
    st.markdown("**Reply to the customer**")
    if mine:
        _status_table(mine)
    if reply is not None:
        if reply.status == "by_hand":
            st.caption(
                f"No mail server is configured: send this by hand to {reply.recipient} "
                "(the copy button is at the top right of the box)."
            )
            st.code(f"Subject: {reply.subject}\n\n{reply.body}", language=None, wrap_lines=True)
        elif reply.status == "failed":
            st.error(
                "The reply could not be delivered; an admin can retry it from the Outbox page.", icon=":material/error:"
            )
        return
    if policy_draft is None:
        return
    if not actor.may("act_on_case"):
        _read_only_draft(policy_draft)
        return
    try:
        draft = replies.reply_draft(db, case_id, decision_id, policy_draft)
    except DeskError as exc:
        st.warning(str(exc))
        _read_only_draft(policy_draft)
        return
    smtp = smtp_settings() is not None
    with st.form(f"reply_form_{decision_id}"):
        st.caption(f"To {draft.to} · template version {draft.template_version or 'default (the policy draft)'}")
        st.text_input("Subject", value=draft.subject, key=f"reply_subject_{decision_id}", max_chars=200)
        st.text_area("Reply", value=draft.body, key=f"reply_body_{decision_id}", height=320, max_chars=20_000)
        err = st.session_state.get(REPLY_ERROR)
        if err and err[0] == decision_id:
            st.error(err[1], icon=":material/error:")
        st.form_submit_button(
            "Send reply" if smtp else "Save reply to send by hand",
            type="primary",
            icon=":material/send:",
            on_click=_send,
            args=(db, actor.id, case_id, decision_id, draft.to),
        )
