"""Reply templates (managers): one per outcome, rendered in a sandbox with only the listed fields; each save is
a new version, audited. The default of every outcome is the policy's draft ({{ draft }})."""

import streamlit as st

from desk import replies
from desk.errors import DeskError
from policy import OUTCOME_LABELS, OUTCOMES
from ui.guard import guard

ctx = guard("templates")
db, actor = ctx.db, ctx.actor
FLASH = "templates_flash"


def _save(outcome: str) -> None:
    try:
        version = replies.save_template(db, actor.id, outcome, st.session_state.get(f"tpl_{outcome}", ""))
    except DeskError as exc:
        st.session_state[FLASH] = ("error", outcome, str(exc))
        return
    st.session_state[FLASH] = ("success", outcome, f"Saved as version {version}.")


st.title("Reply templates")
st.caption(
    "Fields: "
    + ", ".join("{{ " + f + " }}" for f in replies.FIELDS)
    + ". Nothing else is reachable from a template (Jinja2 sandbox)."
)
outcome = st.selectbox("Outcome", OUTCOMES, format_func=OUTCOME_LABELS.get, key="tpl_outcome")
current = {t.outcome: t for t in replies.templates(db)}[outcome]
with st.form(f"tpl_form_{outcome}"):
    st.caption(
        f"In force: version {current.version or 'default'}"
        + (f", saved by {current.created_by} on {current.created_at:%d %b %Y %H:%M} UTC" if current.version else "")
    )
    st.text_area("Template", value=current.body, key=f"tpl_{outcome}", height=300, max_chars=replies.MAX_TEMPLATE)
    note = st.session_state.get(FLASH)
    if note and note[1] == outcome:
        (st.error if note[0] == "error" else st.success)(note[2])
    st.form_submit_button("Save as a new version", type="primary", on_click=_save, args=(outcome,))
history = replies.template_history(db, outcome)
if history:
    st.subheader("Earlier versions")
    for t in history:
        st.caption(f"Version {t.version} · {t.created_by} · {t.created_at:%d %b %Y %H:%M} UTC")
        st.code(t.body, language=None, wrap_lines=True)
