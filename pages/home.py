"""Home: today's headline numbers from the case database."""

import streamlit as st

from desk.errors import DeskError
from ui.cache import headline
from ui.currency import reporting_currency
from ui.guard import guard
from ui.nav import BY_KEY

ctx = guard("home")

st.title("Refund Desk")
st.caption(f"Today is {ctx.today:%A, %d %B %Y}. Numbers come straight from the case database.")

try:
    h = headline(ctx.db, ctx.today, reporting_currency()[0])
except DeskError as exc:
    st.error(str(exc))
    st.stop()

c1, c2, c3, c4 = st.columns(4)
c1.metric(
    "Open cases", f"{h.open_cases:,}", help="Cases not yet closed, including those awaiting approval.", border=True
)
c2.metric(
    "Overdue",
    f"{h.overdue_cases:,}",
    help="Open cases past their internal due date.",
    delta=f"{h.overdue_cases / h.open_cases:.0%} of open" if h.open_cases else None,
    delta_color="off",
    delta_arrow="off",
    border=True,
)
c3.metric(
    "Awaiting approval", f"{h.awaiting_approval:,}", help="Discretionary exceptions waiting for a manager.", border=True
)
rate = h.refund_rate_30d
c4.metric(
    "Refund rate, last 30 days",
    f"{rate:.2%}" if rate is not None else "—",
    help="Services with a money outcome (full or partial refund, credit) decided in the last 30 days, "
    "over services sold in the same 30 days. See docs/metrics.md.",
    delta=f"{h.refund_value_rate_30d:.2%} of {h.currency} revenue" if h.refund_value_rate_30d is not None else None,
    delta_color="off",
    delta_arrow="off",
    border=True,
)
if h.open_cases == 0 and h.services_sold_30d == 0:
    st.info("The database is empty. Generate demo data with `python -m data.generate --cases 5000`.")
else:
    st.caption(
        f"Last 30 days: {h.decided_30d:,} decisions, {h.refunds_30d:,} with money back, "
        f"{h.services_sold_30d:,} services sold."
    )

links = [k for k in ("queue", "analytics", "checker") if k in BY_KEY and ctx.actor.role in BY_KEY[k].roles]
if links:
    st.subheader("Go to")
    cols = st.columns(len(links) + (1 if ctx.actor.may("approve_exception") and "queue" in links else 0))
    for col, key in zip(cols, links):
        spec = BY_KEY[key]
        col.page_link(spec.path, label=spec.title, icon=spec.icon)
    if len(cols) > len(links):
        cols[-1].page_link(
            BY_KEY["queue"].path,
            label=f"Approve exceptions ({h.awaiting_approval:,} waiting)",
            icon=":material/approval:",
            query_params={"status": "awaiting_approval"},
        )
