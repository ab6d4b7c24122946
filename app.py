"""Refund Desk: the entry point. Page config, who is signed in, navigation built for their role."""

import streamlit as st

from data.db import describe_url
from ui.guard import guard, local_user_picker
from ui.nav import pages_for
from ui.runtime import get_db

st.set_page_config(page_title="Refund Desk", page_icon=":material/receipt_long:", layout="wide")

local_user_picker(get_db())
ctx = guard(None)

pages = [
    st.Page(
        spec.path,
        title=spec.title,
        icon=spec.icon,
        url_path=spec.url_path,
        default=spec.default,
        visibility="hidden" if spec.hidden else "visible",
    )
    for spec in pages_for(ctx.actor.role)
]
nav = st.navigation(pages)
st.sidebar.caption(f"{ctx.actor.display_name} · {ctx.actor.role}  \nDatabase: {describe_url(ctx.db.url)}")
nav.run()
