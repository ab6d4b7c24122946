"""The open-case queue: filter, page through (keyset), open a case by selecting its row, take cases."""

import streamlit as st

from desk.cases import assign, assign_many
from desk.errors import DeskError, StaleCase
from desk.queue import SLA_LABELS, SORTS, STATUS_LABELS, QueueFilters, export_frame
from desk.views import filters_for
from policy import REASON_LABELS, REASONS, SERVICE_TYPE_LABELS, SERVICE_TYPES
from ui.bulk_actions import bulk_panel
from ui.casework import (
    cached_queue_count,
    cached_queue_page,
    cached_queue_users,
    clear_queue_caches,
    flash,
    show_flash,
)
from ui.export import download_csv, plural
from ui.guard import guard
from ui.queue_views import CURRENT_FILTERS, apply_link, saved_views_popover, view_from_state, write_link

ctx = guard("queue")

PAGE_SIZE = 50
TABLE = "queue_table"
ROW_IDS = "queue_row_ids"
OPEN_CASE = "queue_open_case"
TAKE_CLICK = "queue_take_click"
TAKE, TAKEN = ":material/assignment_ind:", ":material/check:"
SAVED = "queue_saved_filters"
PAGING = "queue_paging"
FILTER_KEYS = ("qf_text", "qf_types", "qf_reasons", "qf_status", "qf_assignee", "qf_min", "qf_max", "qf_sort")
DEFAULTS = {
    "qf_text": "",
    "qf_types": [],
    "qf_reasons": [],
    "qf_status": "all",
    "qf_assignee": "any",
    "qf_min": None,
    "qf_max": None,
    "qf_sort": "due",
}
QUEUE_COLUMNS = (
    "Case",
    "Take",
    "Due",
    "Status",
    "Customer",
    "Requested",
    "Days left",
    "Recommended",
    "Reason",
    "Service",
    "Window",
    "Age (days)",
    "Assignee",
)
STATUS_CHOICES = {"all": "Open and awaiting approval", "open": "Open", "awaiting_approval": "Awaiting approval"}
db, url, actor = ctx.db, ctx.db.url, ctx.actor

# ---- a row selected on the last run opens its case -------------------------------------------------------
target = st.session_state.pop(OPEN_CASE, None)
if target is not None:
    st.switch_page("pages/case.py", query_params={"case": str(target)})


def _open_selected() -> None:
    rows = st.session_state.get(TABLE, {}).get("selection", {}).get("rows", [])
    ids = st.session_state.get(ROW_IDS, [])
    if rows and rows[0] < len(ids):
        st.session_state[OPEN_CASE] = ids[rows[0]][0]
    # a selection is a row position: clear it, or it points at another case once this one leaves the queue
    st.session_state[TABLE] = {"selection": {"rows": [], "columns": []}}


def _take() -> None:
    """The row's "Take" button: assign that case to me (with the version the row showed)."""
    click = st.session_state.get(TAKE_CLICK) or {}
    ids = st.session_state.get(ROW_IDS, [])
    row = click.get("row")
    if row is None or row >= len(ids):
        return
    case_id, version = ids[row]
    if click.get("label") == TAKEN:
        flash("info", f"Case #{case_id} is already assigned to you.")
        return
    try:
        assign(db, actor.id, case_id, actor.id, version)
    except StaleCase as exc:
        flash("warning", f"Case #{case_id} changed since the queue was shown; it was not assigned.", exc.changes)
    except DeskError as exc:
        flash("error", f"Case #{case_id}: {exc}")
    else:
        clear_queue_caches()
        flash("success", f"Case #{case_id} is now assigned to you.")


# ---- filters: restored when coming back from a case; a link's view (?status=awaiting_approval&sort=amount) wins --
for key, value in {**DEFAULTS, **st.session_state.get(SAVED, {})}.items():
    st.session_state.setdefault(key, value)
link_notes = apply_link(set(dict(cached_queue_users(db, url))))


def _preset(status: str, assignee: str) -> None:
    st.session_state["qf_status"] = status
    st.session_state["qf_assignee"] = assignee


def _clear_filters() -> None:
    for key, value in DEFAULTS.items():
        st.session_state[key] = value


st.title("Open cases")
show_flash()

users = dict(cached_queue_users(db, url))
approvals = cached_queue_count(db, url, actor, QueueFilters(statuses=("awaiting_approval",)), ctx.today)
mine = cached_queue_count(db, url, actor, QueueFilters(assignee="mine"), ctx.today)
quick = st.container(horizontal=True)
quick.button(
    f"My cases ({mine.total:,})",
    on_click=_preset,
    args=("all", "mine"),
    icon=":material/person:",
    help="Open cases assigned to you.",
)
quick.button(
    f"Awaiting approval ({approvals.total:,})",
    on_click=_preset,
    args=("awaiting_approval", "any"),
    icon=":material/approval:",
    type="primary" if actor.may("approve_exception") and approvals.total else "secondary",
    help="Discretionary exceptions waiting for a manager (never the one who decided them).",
)
quick.button("Clear filters", on_click=_clear_filters, icon=":material/filter_alt_off:")
saved_views_popover(db, actor, quick)

with st.container(border=True):
    row1 = st.columns([3, 2, 2, 2])
    row1[0].text_input(
        "Search",
        key="qf_text",
        placeholder="Customer name, email or case number",
        help="Digits find a case by its number (123 or #123); a whole address (a@b.example) finds that email; "
        "anything else, of any length, finds the open cases whose customer's name or email contains it, ignoring "
        "case. A search matching more than 1,000 cases is counted as “more than 1,000”.",
    )
    row1[1].selectbox("Status", list(STATUS_CHOICES), key="qf_status", format_func=STATUS_CHOICES.get)
    row1[2].selectbox(
        "Assignee",
        ["any", "mine", "unassigned", *users],
        key="qf_assignee",
        format_func=lambda v: {"any": "Anyone", "mine": "Me", "unassigned": "Unassigned"}.get(v) or users.get(v, v),
    )
    row1[3].selectbox(
        "Sort by",
        list(SORTS),
        key="qf_sort",
        format_func=lambda s: SORTS[s][0],
        help="The amount sorts compare the numbers requested, each in its own currency: amounts in different "
        "currencies are not converted (filter by one currency's service to compare like with like).",
    )
    row2 = st.columns([3, 3, 1, 1])
    row2[0].multiselect(
        "Service type", SERVICE_TYPES, key="qf_types", format_func=SERVICE_TYPE_LABELS.get, placeholder="Any type"
    )
    row2[1].multiselect("Reason", REASONS, key="qf_reasons", format_func=REASON_LABELS.get, placeholder="Any reason")
    same_units = "In each case's own currency (the queue mixes currencies; nothing is converted)."
    row2[2].number_input("Amount from", min_value=0.0, step=10.0, key="qf_min", placeholder="0", help=same_units)
    row2[3].number_input("Amount to", min_value=0.0, step=10.0, key="qf_max", placeholder="any", help=same_units)

st.session_state[SAVED] = {k: st.session_state[k] for k in FILTER_KEYS}
view = view_from_state()
filters, filter_notes = filters_for(view)
for note in link_notes:
    st.warning(note, icon=":material/link_off:")
for note in filter_notes:
    st.info(note, icon=":material/swap_horiz:")
write_link(view)  # the address bar holds the current filters and sort: copy it to share this view
st.session_state[CURRENT_FILTERS] = filters  # the case page's "Decide and open next" walks this view

# ---- keyset paging: a stack of cursors, reset whenever the filters change -----------------------------------
paging = st.session_state.get(PAGING)
if not paging or paging["filters"] != filters:
    paging = st.session_state[PAGING] = {"filters": filters, "stack": [None]}


def _next(cursor) -> None:
    st.session_state[PAGING]["stack"].append(cursor)


def _previous() -> None:
    if len(st.session_state[PAGING]["stack"]) > 1:
        st.session_state[PAGING]["stack"].pop()


def _first() -> None:
    st.session_state[PAGING]["stack"] = [None]


try:
    count = cached_queue_count(db, url, actor, filters, ctx.today)
    page = cached_queue_page(db, url, actor, filters, paging["stack"][-1], ctx.today, PAGE_SIZE)
except DeskError as exc:
    st.error(str(exc))
    st.stop()

first_n = (len(paging["stack"]) - 1) * PAGE_SIZE
if count.capped:  # a search matching many cases is not counted to the end (desk.queue.COUNT_CAP)
    summary = f"**More than {count.total:,}** open cases match (a search counts up to {count.total:,})"
else:
    summary = (
        f"**{count.total:,}** open case{'s' if count.total != 1 else ''} match · "
        f"{count.overdue:,} overdue · {count.awaiting_approval:,} awaiting approval"
    )
if page.rows:
    summary += f" — showing {first_n + 1:,}–{first_n + len(page.rows):,}"
st.markdown(summary)

if not page.rows:
    if count.total == 0:
        st.info("No open cases match these filters.", icon=":material/inbox:")
    else:
        st.info("No more cases on this page.")
        st.button("Back to the first page", on_click=_first)
    st.stop()

frame = page.frame()
st.session_state[ROW_IDS] = [(r.case_id, r.version) for r in page.rows]
may_act = actor.may("act_on_case")
if may_act:
    frame.insert(1, "Take", [TAKEN if r.assignee_id == actor.id else TAKE for r in page.rows])
    frame["Status"] = [[s] for s in frame["Status"]]
frame["Due"] = [[s] for s in frame["Due"]]
st.caption(
    "Select a row to open the case. Days left is negative for overdue cases; Window is the policy's "
    "contact window (section 4) for the request."
)
st.dataframe(
    frame,
    key=TABLE,
    on_select=_open_selected,
    selection_mode="single-row",
    hide_index=True,
    width="stretch",
    height=(min(len(frame), 20) + 1) * 35 + 3,
    # At 1400x900 the grid shows ~900 px: the state of a case (due, status) and the customer's full name come
    # first, the rest after them (the grid scrolls sideways for the last columns).
    column_order=[c for c in QUEUE_COLUMNS if c in frame.columns],
    column_config={
        "Case": st.column_config.NumberColumn("Case", format="#%d", width=72),
        "Due": st.column_config.MultiselectColumn(
            "Due",
            width=72,
            options=list(SLA_LABELS.values()),
            color=["red", "orange", "green"],
            help="Overdue: past the internal due date; due soon: due within 2 days",
        ),
        "Customer": st.column_config.TextColumn("Customer", width=170),
        "Recommended": st.column_config.TextColumn(
            "Recommended", width=104, help="The policy's recommended outcome for the request as it stands"
        ),
        "Service": st.column_config.TextColumn("Service", width=80),
        "Reason": st.column_config.TextColumn("Reason", width=112),
        "Assignee": st.column_config.TextColumn("Assignee", width=82),
        "Requested": st.column_config.TextColumn(
            "Requested", help="Amount the customer asked for, in the currency of the service", width=80
        ),
        "Age (days)": st.column_config.NumberColumn(
            "Age", format="%d d", help="Days since the request was opened", width=42
        ),
        "Days left": st.column_config.NumberColumn(
            "Days left", format="%d d", help="Days until the internal due date; negative: overdue", width=56
        ),
        "Window": st.column_config.TextColumn(
            "Window",
            width=58,
            help="The policy's contact window for the request: within, late, or not started "
            "(the window does not apply)",
        ),
        "Status": st.column_config.MultiselectColumn(
            "Status",
            width=132,
            options=list(STATUS_LABELS.values()),
            color=["blue", "orange"],
            help="Awaiting approval: a discretionary exception waits for a manager (not its decider)",
        ),
        "Take": st.column_config.ButtonColumn(
            "",
            width=44,
            type="tertiary",
            on_click=_take,
            key=TAKE_CLICK,
            alignment="center",
            help="Take the case: assign it to yourself (a tick: it is already yours)",
        ),
    },
)

nav = st.container(horizontal=True)
nav.button("First page", on_click=_first, disabled=len(paging["stack"]) == 1, icon=":material/first_page:")
nav.button("Previous", on_click=_previous, disabled=len(paging["stack"]) == 1, icon=":material/chevron_left:")
nav.button(
    "Next",
    on_click=_next,
    args=(page.next_cursor,),
    disabled=page.next_cursor is None,
    icon=":material/chevron_right:",
)
download_csv(
    "Download CSV",
    lambda: export_frame(db, actor=actor, filters=filters, today=ctx.today),
    file_name=f"open-cases-{ctx.today.isoformat()}.csv",
    where=nav,
    icon=":material/download:",
    help="All matching cases in this order (up to 5,000 rows).",
    on_click="ignore",
)

# ---- act on several cases: decide with one outcome, approve ------------------------------------------------------
bulk_panel(db, actor, page.rows, ctx.today)

# ---- take cases: assign to me ----------------------------------------------------------------------------
if actor.may("act_on_case"):
    takeable = {r.case_id: r for r in page.rows if r.assignee_id != actor.id}

    def _assign_to_me() -> None:
        chosen = st.session_state.get("queue_take", [])
        if not chosen:
            flash("warning", "Choose the cases to take first.")
            return
        try:
            result = assign_many(db, actor.id, [(cid, takeable[cid].version) for cid in chosen], actor.id)
        except DeskError as exc:
            flash("error", str(exc))
            return
        clear_queue_caches()
        st.session_state["queue_take"] = []
        if result.skipped:
            flash(
                "warning",
                f"Assigned {plural(len(result.assigned), 'case')} to you; {len(result.skipped)} skipped:",
                [f"#{cid}: {why}" for cid, why in result.skipped],
            )
        else:
            flash(
                "success",
                f"Assigned {plural(len(result.assigned), 'case')} to you: "
                + ", ".join(f"#{c}" for c in result.assigned),
            )

    with nav.popover("Assign to me", icon=":material/assignment_ind:", disabled=not takeable):
        st.multiselect(
            "Cases on this page",
            list(takeable),
            key="queue_take",
            format_func=lambda cid: (
                f"#{cid} · due {takeable[cid].due_on:%d %b} · {takeable[cid].assignee_name or 'unassigned'}"
            ),
            placeholder="Choose cases",
        )
        st.button("Assign to me", on_click=_assign_to_me, type="primary", key="queue_take_submit")
