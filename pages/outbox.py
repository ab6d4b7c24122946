"""The outbox (admins): messages that could not be delivered, with the reason and a retry button, and what is
queued now. The worker (python -m desk.outbox) does the sending."""

import pandas as pd
import streamlit as st

from desk import outbox
from desk.errors import DeskError
from ui.guard import guard

ctx = guard("outbox")
db, actor = ctx.db, ctx.actor
FLASH = "outbox_flash"


def _retry(outbox_id: int) -> None:
    try:
        outbox.retry(db, actor.id, outbox_id)
    except DeskError as exc:
        st.session_state[FLASH] = ("error", str(exc))
        return
    st.session_state[FLASH] = ("success", f"Message #{outbox_id} is queued again.")


st.title("Outbox")
note = st.session_state.pop(FLASH, None)
if note:
    (st.error if note[0] == "error" else st.success)(note[1])
failed = outbox.listing(db, ("failed",))
st.subheader(f"Failed ({len(failed)})")
if not failed:
    st.caption("Nothing failed.")
for v in failed:
    with st.container(border=True):
        st.markdown(f"**#{v.id}** · {v.what} · case #{v.case_id} · {v.attempts} attempt(s)")
        st.text(f"To: {v.recipient}\nReason: {v.last_error or ''}")
        st.button("Retry", key=f"retry_{v.id}", on_click=_retry, args=(v.id,), icon=":material/replay:")
pending = outbox.listing(db, ("queued", "sending"))
st.subheader(f"Queued or sending ({len(pending)})")
if pending:
    st.dataframe(
        pd.DataFrame(
            [(v.id, v.what, v.case_id, v.state, v.last_error or "") for v in pending],
            columns=["#", "Message", "Case", "Status", "Last error"],
        ),
        hide_index=True,
        width="stretch",
    )
