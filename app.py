"""Refund Desk: the entry point. Page config, who is signed in, navigation built for their role."""

import streamlit as st

from ui.guard import serving, signed_in
from ui.nav import pages_for

st.set_page_config(page_title="Refund Desk", page_icon=":material/receipt_long:", layout="wide")

# The menu is drawn here, at the top of the sidebar, from the pages registered below: Streamlit's own
# sidebar menu is off (`client.showSidebarNavigation = false` in .streamlit/config.toml), because on a
# fresh server's first request, before any st.navigation call, it would list the raw files of pages/.
menu = st.sidebar.container()

# Sign-in first: a signed-out, unknown or deactivated user (or an exposed server without sign-in) gets a
# page of its own here and the script stops; nobody reaches the navigation below without a role.
ctx = signed_in()

pages = {
    spec.key: st.Page(
        spec.path,
        title=spec.title,
        icon=spec.icon,
        url_path=spec.url_path,
        default=spec.default,
        visibility="hidden" if spec.hidden else "visible",
    )
    for spec in pages_for(ctx.actor.role)
}
nav = st.navigation(list(pages.values()), position="hidden")
for spec in pages_for(ctx.actor.role):
    if not spec.hidden:
        menu.page_link(pages[spec.key])
with serving(ctx):  # the page's own guard reuses ctx; unexpected errors show an error id, not a traceback
    nav.run()
