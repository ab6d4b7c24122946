"""One case (deep link: /case?case=<id>): the facts, the policy verdict with its clauses, the timeline, and the
actions — assign, note, fix attempt, decide; managers approve or reject exceptions here.

Customer text (names, descriptions, notes) is shown only through st.text, st.code and st.dataframe."""

import uuid

import pandas as pd
import pyarrow as pa
import streamlit as st

from desk.case_page import case_page
from desk.cases import add_note, assign, parse_case_id, record_fix
from desk.decisions import (
    MIN_EXCEPTION_RATIONALE,
    approve_exception,
    decide,
    reject_exception,
)
from desk.errors import DeskError, InvalidInput, NotFound
from desk.limits import read_limit
from desk.money import format_money, minor_digits
from desk.periods import now_in, zone_name
from desk.queue import neighbours
from desk.reopen import reopen_case
from policy import (
    CYCLE_LABELS,
    MONEY_OUTCOMES,
    OUTCOME_LABELS,
    OUTCOMES,
    REASON_LABELS,
    SERVICE_TYPE_LABELS,
    STATUS_LABELS,
)
from ui.casework import clear_queue_caches, show_flash
from ui.customer_history import frequent_badge, history_panel
from ui.documents import documents_section
from ui.guard import guard
from ui.nav import BY_KEY
from ui.reply import reply_section
from ui.runtime import desk_timezone
from ui.submit import FormMessages
from ui.workbench import SUBMIT_KEY, SUBMIT_NEXT_KEY, case_nav, focus_shortcut, presence_lines, queue_view

ctx = guard("case")
db, actor, today = ctx.db, ctx.actor, ctx.today

try:
    case_id = parse_case_id(st.query_params.get("case"))
except InvalidInput:
    st.page_link("pages/queue.py", label="Back to the queue", icon=":material/arrow_back:")
    st.title("Case")
    given = st.query_params.get("case")
    # the link's text is not echoed through Markdown: it may be anything someone typed into a URL
    st.error(
        "This link does not name a case. A case number is digits, as in /case?case=123; open cases from the queue."
        if given
        else "No case chosen. Open a case from the queue, or use a link such as /case?case=123."
    )
    if given:
        st.caption("The link said")
        st.code(given[:200], language=None)
    st.stop()
try:
    # the case, the customer's history and who else has it open: one read session (desk.case_page)
    page = case_page(db, case_id, today, viewer_id=actor.id)
except NotFound:
    st.page_link("pages/queue.py", label="Back to the queue", icon=":material/arrow_back:")
    st.title("Case")
    st.warning(f"Case #{case_id} does not exist. It may have been mistyped; find it in the queue by customer name.")
    st.stop()
except DeskError as exc:
    st.title("Case")
    st.error(str(exc))
    st.stop()
d, history = page.detail, page.history

may_act = actor.may("act_on_case")
# refusals next to their fields (for this case only), successes and other refusals at the top of the page
forms = FormMessages("case_form_errors", scope=d.id)


def money(cents: int | None) -> str:
    """An amount of this case, in the case's currency (its service's): '€1,234.50'."""
    return format_money(cents, d.service.currency)


def day(value) -> str:
    return value.strftime("%a %d %b %Y") if value else "—"


def table(rows: list[tuple[str, str]]) -> None:
    """Facts as a two-column table (st.dataframe: values are never parsed as Markdown or HTML). An Arrow table,
    which Streamlit sends as it is: a DataFrame of strings costs ~0.8 ms more per table, on every rerun."""
    st.dataframe(
        pa.table({"Field": [f for f, _ in rows], "Value": [v for _, v in rows]}),
        hide_index=True,
        width="stretch",
        height=(len(rows) + 1) * 35 + 3,
        column_config={"Field": st.column_config.TextColumn(width="small")},
    )


def idem_key(action: str) -> str:
    """Made when the form is rendered and kept for this version of the case: a double click sends it twice."""
    key = f"idem_{action}_{d.id}_{d.version}"
    if key not in st.session_state:  # (uuid4 reads the OS's random source: not on every rerun)
        st.session_state[key] = uuid.uuid4().hex
    return st.session_state[key]


# ---- header: queue navigation, the case, who else has it ----------------------------------------------------------
case_nav(db, actor, d.id)
st.title(f"Case #{d.id}")
badges = st.container(horizontal=True)
with badges:
    if d.status == "closed":
        st.badge("Closed", icon=":material/check_circle:", color="gray")
    elif d.awaiting_approval:
        st.badge("Awaiting a manager's approval", icon=":material/hourglass_top:", color="orange")
    else:
        st.badge("Open", icon=":material/radio_button_unchecked:", color="blue")
    if d.status != "closed":
        if d.days_left < 0:
            st.badge(f"Overdue by {-d.days_left} day{'s' if d.days_left != -1 else ''}", color="red")
        else:
            st.badge(f"Due in {d.days_left} day{'s' if d.days_left != 1 else ''} ({d.due_on:%d %b})", color="gray")
    if d.verdict is not None and d.verdict.rule != 1:
        if d.verdict.within_window:
            st.badge(f"Within the {d.window_days}-day window", icon=":material/schedule:", color="green")
        else:
            st.badge("Late: after the contact window", icon=":material/schedule:", color="red")
    st.badge(
        f"Assigned to {d.assignee.name}" if d.assignee else "Unassigned",
        icon=":material/person:",
        color="violet" if d.assignee and d.assignee.id == actor.id else "gray",
    )
    frequent_badge(history)
show_flash()
for line in presence_lines(db, actor, d.id, page.viewers):
    st.info(line, icon=":material/visibility:")

# At 1400x900 the request (left), the verdict and the decision form (right) fit without scrolling; everything
# else is one click away in the tabs below them.
left, right = st.columns([2, 3], gap="medium")
# The tabs keep their state (a key, on_change="rerun"): after an upload or a note the page stays on its tab, and
# only the open tab's content is built on a rerun (`tab.open`), not all five.
facts_tab, documents_tab, history_tab, timeline_tab, actions_tab = st.tabs(
    ["Service and policy", "Documents", "Customer history", "Timeline", "Fix, note, assign"],
    key=f"case_tabs_{d.id}",
    on_change="rerun",
)


def showing(tab) -> bool:
    """Whether `tab` is the open one (None when tabs do not track state: then every tab is built)."""
    return tab.open is not False


# ---- facts -------------------------------------------------------------------------------------------------
with left:
    st.markdown("**Customer**")
    st.text(d.customer_name)
    st.text(d.customer_email)

    st.markdown("**Request**")
    table(
        [
            ("Opened", day(d.opened_on)),
            ("Channel", d.channel),
            ("Reason", REASON_LABELS.get(d.reason, d.reason)),
            ("Amount requested", money(d.amount_requested_cents)),
            (
                "Fix attempt",
                "none yet"
                if not d.fix_attempted
                else {True: "succeeded", False: "failed", None: "attempted, result pending"}[d.fix_succeeded],
            ),
        ]
    )
    st.caption("The customer's description, as written")
    with st.container(border=True, height=110 if len(d.description or "") > 300 else "content"):
        st.text(d.description or "(no description)")

if showing(facts_tab):
    with facts_tab:
        st.subheader("Service")
        svc = d.service
        rows = [
            ("Type", SERVICE_TYPE_LABELS.get(svc.service_type, svc.service_type)),
            ("Status", STATUS_LABELS.get(svc.status, svc.status)),
            ("Price paid", money(svc.price_cents)),
            ("Purchased", day(svc.purchased_on)),
            ("Scheduled", day(svc.scheduled_on)),
            ("Initiated", day(svc.initiated_on)),
            ("Completed", day(svc.completed_on)),
            ("Service date (policy)", day(svc.service_date)),
        ]
        if svc.cycle:
            rows += [
                (
                    "Billing cycle",
                    f"{CYCLE_LABELS.get(svc.cycle, svc.cycle)}: {day(svc.cycle_start)} – {day(svc.cycle_end)}",
                ),
                ("Cancelled", day(svc.cancelled_on) if svc.cancelled_on else "not cancelled"),
            ]
        table(rows)

# ---- the customer's history ---------------------------------------------------------------------------------------
if showing(history_tab):
    with history_tab:
        history_panel(history)

# ---- documents (the evidence work adds uploaded documents here) ------------------------------------------------
if showing(documents_tab):
    with documents_tab:
        st.subheader("Documentation")
        if d.documentation:
            st.dataframe(
                pd.DataFrame(
                    [(i.get("kind", ""), i.get("name", ""), i.get("note", "")) for i in d.documentation],
                    columns=["Kind", "Item", "Note"],
                ),
                hide_index=True,
                width="stretch",
            )
        else:
            st.caption("No documentation provided (section 4 asks for screenshots, emails or other documents).")
        documents_section(db, actor, d.id, d.version)

# ---- the policy verdict --------------------------------------------------------------------------------------
with right:
    v = d.verdict
    if v is None:
        st.error(f"The policy engine cannot judge these facts: {d.facts_problem}")
    else:
        with st.container(border=True):
            st.markdown(
                f"**Recommended:** {OUTCOME_LABELS[v.recommended_outcome]} · "
                "**Allowed:** " + ", ".join(OUTCOME_LABELS[o] for o in v.allowed_outcomes)
            )
            st.caption(
                f"Policy version {v.policy_version} (in force on the service date) · rule {v.rule} · "
                f"request on day {v.days_used} · contact deadline {v.contact_deadline:%d %b %Y}"
            )
            with st.expander(
                f"Why: {len(v.findings)} finding{'s' if len(v.findings) != 1 else ''} of the policy engine"
            ):
                for f in v.findings:
                    icon = ":material/check_circle:" if f.ok else ":material/warning:"
                    st.markdown(f"{icon} {f.message}")
if showing(facts_tab):
    with facts_tab:
        if v is not None:
            st.subheader("Policy sections cited")
            for number, text in d.cited:
                with st.expander(f"Section {number} of the policy", expanded=False):
                    st.text(text)
            if "checker" in BY_KEY and d.checker_params:
                st.page_link(
                    BY_KEY["checker"].path,
                    label="Try these facts in the policy checker",
                    icon=":material/rule:",
                    query_params=d.checker_params,
                )

# ---- the decision (closed or awaiting approval) ----------------------------------------------------------------
dec = d.decision


@forms.callback
def _settle(approve: bool, decision_id: int, version: int, key: str) -> None:
    note = st.session_state.get(f"approve_note_{d.id}", "")
    fn = approve_exception if approve else reject_exception
    forms.submit(
        "approve",
        lambda: fn(db, actor.id, decision_id, note, today=today, seen_version=version, idempotency_key=key),
        done=lambda result: result.message,
        after=clear_queue_caches,
    )


@forms.callback
def _reopen(case_id: int, version: int, key: str) -> None:
    reason = st.session_state.get(f"reopen_reason_{case_id}", "")
    if forms.submit(
        "reopen",
        lambda: reopen_case(db, actor.id, case_id, reason, version, idempotency_key=key),
        done=lambda result: result.message,
        after=clear_queue_caches,
    ).ok:
        st.session_state[f"reopen_reason_{case_id}"] = ""


def reopen_form() -> None:
    with st.expander("Reopen this case (managers)", icon=":material/undo:", expanded=bool(forms.errors("reopen"))):
        with st.form(f"reopen_form_{d.id}"):
            st.text_area(
                "Why the case is reopened (for the audit trail)", key=f"reopen_reason_{d.id}", max_chars=4000, height=68
            )
            forms.field_errors("reopen", "reason", "form")
            st.form_submit_button(
                "Reopen", icon=":material/undo:", on_click=_reopen, args=(d.id, d.version, idem_key("reopen"))
            )
        st.caption("The decision above stays on record as superseded; analytics count only the new decision.")


if dec is not None and d.status != "open":
    with right:
        st.subheader("Decision")
        with st.container(border=True):
            amount = f" · {money(dec.amount_cents)}" if dec.outcome in MONEY_OUTCOMES else ""
            who = dec.decided_by.name if dec.decided_by else "unknown"
            st.markdown(f"**{OUTCOME_LABELS[dec.outcome]}**{amount} — decided by {who} on {day(dec.decided_on)}")
            if dec.is_exception:
                state = {"pending": "waiting for a manager's approval", "approved": "approved", "rejected": "rejected"}
                st.warning(
                    f"Discretionary exception (policy section 5): the policy recommended "
                    f"{OUTCOME_LABELS[dec.recommended_outcome].lower()}. Status: {state.get(dec.approval_status, '')}.",
                    icon=":material/gavel:",
                )
            if dec.over_limit:
                state = {"pending": "waiting for a manager's approval", "approved": "approved", "rejected": "rejected"}
                st.warning(
                    f"Above the approval limit of its currency: a manager other than the decider approves it. "
                    f"Status: {state.get(dec.approval_status, '')}.",
                    icon=":material/approval:",
                )
            st.caption("Rationale")
            st.text(dec.rationale or "(none given)")
            if dec.approver:
                st.caption(f"{dec.approval_status.capitalize()} by {dec.approver.name}: note")
                st.text(dec.approval_note or "")
        if dec.pending:
            if actor.may("approve_exception") and dec.decided_by and dec.decided_by.id != actor.id:
                with st.form(f"approve_form_{d.id}"):
                    st.markdown("**Approve or reject this " + ("exception**" if dec.is_exception else "decision**"))
                    st.text_area(
                        "Note for the reviewer and the audit trail",
                        key=f"approve_note_{d.id}",
                        placeholder="Why you agree, or why not",
                    )
                    forms.field_errors("approve", "note", "form")
                    key = idem_key("approve")
                    c1, c2 = st.columns(2)
                    c1.form_submit_button(
                        "Approve",
                        type="primary",
                        icon=":material/check:",
                        on_click=_settle,
                        args=(True, dec.id, d.version, key),
                    )
                    c2.form_submit_button(
                        "Reject",
                        icon=":material/close:",
                        on_click=_settle,
                        args=(False, dec.id, d.version, key),
                    )
            elif dec.decided_by and dec.decided_by.id == actor.id:
                st.info("You decided this exception: another manager must approve or reject it (four eyes).")
            else:
                st.info("Waiting for a manager's approval. Managers find it under “Awaiting approval” in the queue.")
        if d.status == "closed" and actor.may("approve_exception"):
            reopen_form()
        if not dec.pending and d.status == "closed":
            # one reply box: the editable reply, what happened to the one sent, or (for a role that does not
            # act on cases) the policy's draft to read
            reply_section(db, actor, d.id, dec.id, dec.draft_reply)

# ---- actions -----------------------------------------------------------------------------------------------------


@forms.callback
def _submit_decision(
    case_id: int,
    version: int,
    key: str,
    outcome: str,
    paid_cents: int,
    then_next: bool = False,
    colleague: str | None = None,
) -> None:
    if colleague and not st.session_state.get(f"decide_takeover_{case_id}"):
        forms.refuse(
            "decide",
            "takeover",
            f"This case is assigned to {colleague}. Tick “Decide it anyway” to decide it yourself, "
            "or leave it to them.",
        )
        return
    if outcome == "full_refund":
        amount_cents = paid_cents
    elif outcome in MONEY_OUTCOMES:
        # the text as typed: desk.decide parses it in the case's currency and refuses extra decimals
        amount_cents = st.session_state.get(f"decide_amount_{case_id}") or None
    else:
        amount_cents = None
    rationale = st.session_state.get(f"decide_rationale_{case_id}", "")
    st.toast("Saving the decision…", icon=":material/hourglass_top:")  # seen wherever the page is scrolled
    with st.spinner("Saving the decision…"):  # waits its turn if an import is being saved
        submitted = forms.submit(
            "decide",
            lambda: decide(db, actor.id, case_id, outcome, amount_cents, rationale, version, key, today=today),
            after=clear_queue_caches,
        )
    if not submitted.ok:
        return
    st.session_state[f"decide_rationale_{case_id}"] = ""
    message = submitted.result.message
    if not then_next:
        forms.succeeded("decide", message)
        return
    following = neighbours(db, actor=actor, filters=queue_view(), case_id=case_id).next
    if following is None:
        forms.succeeded("decide", f"{message} That was the last case of your queue view.")
        return
    forms.succeeded("decide", f"Case #{case_id}: {message} Now case #{following}, the next in your queue view.")
    st.query_params["case"] = str(following)


@forms.callback
def _submit_fix(case_id: int, version: int, key: str) -> None:
    result = st.session_state.get(f"fix_result_{case_id}")
    succeeded = {"succeeded": True, "failed": False, "pending": None}[result]
    note = st.session_state.get(f"fix_note_{case_id}", "")
    if forms.submit(
        "fix",
        lambda: record_fix(db, actor.id, case_id, succeeded, note, version, idempotency_key=key),
        done=f"Fix attempt recorded: {result}. The verdict below follows the new facts.",
        after=clear_queue_caches,
    ).ok:
        st.session_state[f"fix_note_{case_id}"] = ""


@forms.callback
def _submit_note(case_id: int, version: int, key: str) -> None:
    text = st.session_state.get(f"note_text_{case_id}", "")
    if forms.submit(
        "note",
        lambda: add_note(db, actor.id, case_id, text, version, idempotency_key=key),
        done="Note added.",
        after=clear_queue_caches,
    ).ok:
        st.session_state[f"note_text_{case_id}"] = ""


@forms.callback
def _submit_assign(case_id: int, version: int, key: str, assignee_id: int | None) -> None:
    if assignee_id == -1:
        assignee_id = st.session_state.get(f"assign_to_{case_id}")
    forms.submit(
        "assign",
        lambda: assign(db, actor.id, case_id, assignee_id, version, idempotency_key=key),
        done="Case unassigned." if assignee_id is None else "Assignment saved.",
        after=clear_queue_caches,
    )


def decide_form() -> None:
    v = d.verdict
    if v is None:
        st.warning("This case cannot be decided until its facts can be judged by the policy engine.")
        return

    def label(o: str) -> str:
        if o == v.recommended_outcome:
            return f"{OUTCOME_LABELS[o]} (recommended)"
        return f"{OUTCOME_LABELS[o]} (exception)" if v.is_exception(o) else OUTCOME_LABELS[o]

    # keyed by the rule too: when the facts change the verdict (a failed fix), the choice starts again from the
    # new recommendation instead of keeping an outcome that is now an exception
    outcome = st.radio(
        "Outcome",
        OUTCOMES,
        key=f"decide_outcome_{d.id}_{v.rule}",
        index=OUTCOMES.index(v.recommended_outcome),
        format_func=label,
        horizontal=True,
        label_visibility="collapsed",
    )
    exception = v.is_exception(outcome)
    if exception:
        st.warning(
            f"**{OUTCOME_LABELS[outcome]} is a discretionary exception** (policy section 5): the policy allows "
            f"{', '.join(OUTCOME_LABELS[o].lower() for o in v.allowed_outcomes)} here. Explain why in at least "
            f"{MIN_EXCEPTION_RATIONALE} characters; the case then waits for a manager other than you to approve it.",
            icon=":material/gavel:",
        )
    paid_cents = d.service.price_cents
    currency = d.service.currency
    digits = minor_digits(currency)
    example = "12" if digits == 0 else "12." + "5" * digits
    key = idem_key("decide")
    colleague = d.assignee.name if d.assignee and d.assignee.id != actor.id else None
    with st.form(f"decide_form_{d.id}"):
        if colleague:
            st.warning(f"Assigned to {colleague}: deciding it takes it over.", icon=":material/person_alert:")
            st.checkbox("Decide it anyway", key=f"decide_takeover_{d.id}")
            forms.field_errors("decide", "takeover")
        if outcome == "full_refund":
            st.text_input(
                f"Amount ({currency})",
                value=money(paid_cents),
                disabled=True,
                key=f"decide_full_{d.id}",
                help="A full refund is the amount paid.",
            )
        elif outcome in MONEY_OUTCOMES:
            bound = (
                f"more than 0 and less than {money(paid_cents)} (the amount paid)"
                if outcome == "partial_refund"
                else "more than 0"
            )
            places = "no decimals" if digits == 0 else f"at most {digits} decimals"
            st.text_input(
                f"Amount ({currency})",
                key=f"decide_amount_{d.id}",
                max_chars=24,
                placeholder=f"{bound}, e.g. {example}",
                help=f"A {OUTCOME_LABELS[outcome].lower()} is {bound}. In {currency}, {places}; an amount with "
                "more decimals is refused, never rounded.",
            )
        if outcome in MONEY_OUTCOMES and (limit := read_limit(db, d.service.currency)) is not None:
            st.caption(f"Refunds and credits above {limit.text} need a manager's approval (the approval limit).")
        forms.field_errors("decide", "amount")
        st.text_area(
            "Rationale" + (" (required for an exception)" if exception else " (optional)"),
            key=f"decide_rationale_{d.id}",
            placeholder="Why this outcome; for an exception, why this case goes outside the policy",
            max_chars=4000,
            height=68,
        )
        forms.field_errors("decide", "rationale", "form", "outcome")
        buttons = st.container(horizontal=True)
        buttons.form_submit_button(
            "Submit exception for approval" if exception else "Record decision",
            type="primary",
            icon=":material/gavel:",
            on_click=_submit_decision,
            args=(d.id, d.version, key, outcome, paid_cents, False, colleague),
            shortcut=SUBMIT_KEY,
        )
        buttons.form_submit_button(
            "Decide and open next",
            icon=":material/skip_next:",
            on_click=_submit_decision,
            args=(d.id, d.version, key, outcome, paid_cents, True, colleague),
            shortcut=SUBMIT_NEXT_KEY,
            help="Record this decision, then open the next case of your queue view (same filters and sort).",
        )
    focus_shortcut()  # "D": the keyboard focus to the outcome above


def fix_form() -> None:
    with st.form(f"fix_form_{d.id}"):
        st.radio(
            "Result of the fix attempt",
            ["failed", "succeeded", "pending"],
            key=f"fix_result_{d.id}",
            format_func={"failed": "Failed", "succeeded": "Succeeded", "pending": "Result pending"}.get,
            horizontal=True,
        )
        st.text_input("What was tried (internal)", key=f"fix_note_{d.id}", max_chars=4000)
        forms.field_errors("fix", "succeeded", "note", "form")
        st.form_submit_button(
            "Record fix attempt",
            on_click=_submit_fix,
            args=(d.id, d.version, idem_key("fix")),
            icon=":material/build:",
        )


def note_form() -> None:
    with st.form(f"note_form_{d.id}"):
        st.text_area("Internal note (never sent to the customer)", key=f"note_text_{d.id}", max_chars=4000)
        forms.field_errors("note", "note", "form")
        st.form_submit_button(
            "Add note", on_click=_submit_note, args=(d.id, d.version, idem_key("note")), icon=":material/edit_note:"
        )


def assign_form() -> None:
    people = {p.id: p for p in d.assignable}
    key = idem_key("assign")
    row = st.columns([3, 1, 1, 1], vertical_alignment="bottom")
    current = d.assignee.id if d.assignee and d.assignee.id in people else None
    row[0].selectbox(
        "Assign to",
        list(people),
        key=f"assign_to_{d.id}",
        index=list(people).index(current) if current else None,
        format_func=lambda i: f"{people[i].name} · {people[i].role}",
        placeholder="Choose a reviewer or manager",
    )
    row[1].button("Assign", on_click=_submit_assign, args=(d.id, d.version, key, -1), key=f"assign_btn_{d.id}")
    row[2].button(
        "Assign to me",
        on_click=_submit_assign,
        args=(d.id, d.version, key, actor.id),
        key=f"assign_me_{d.id}",
        disabled=bool(d.assignee and d.assignee.id == actor.id),
        type="primary",
    )
    row[3].button(
        "Unassign",
        on_click=_submit_assign,
        args=(d.id, d.version, key, None),
        key=f"unassign_{d.id}",
        disabled=d.assignee is None,
    )
    forms.field_errors("assign", "assignee", "form")


# Always built, whichever tab is open: a note or a fix typed there lives only in the browser until its form is sent,
# and a tab that is not built on a rerun loses what was typed in it.
actions_open = True
if not may_act:
    with right:
        st.info("Your role can view cases; reviewers and managers act on them.", icon=":material/visibility:")
    if actions_open:
        with actions_tab:
            st.caption("Your role can view cases; reviewers and managers act on them.")
else:
    if d.is_open:
        with right:
            decide_form()
    if actions_open:
        with actions_tab:
            if d.is_open:
                tabs = st.tabs(["Fix attempt", "Note", "Assign"])
                with tabs[0]:
                    fix_form()
                with tabs[1]:
                    note_form()
                with tabs[2]:
                    assign_form()
            elif d.awaiting_approval:
                tabs = st.tabs(["Note", "Assign"])
                with tabs[0]:
                    note_form()
                with tabs[1]:
                    assign_form()
            else:
                note_form()

# ---- timeline ------------------------------------------------------------------------------------------------------
if showing(timeline_tab):
    timeline_tab.subheader("Timeline")
    zone, _ = desk_timezone()
    when = f"When ({zone_name(zone)})"  # the desk's time zone, named (the database keeps UTC)
    timeline_tab.dataframe(
        pd.DataFrame(
            [(now_in(zone, e.at).replace(tzinfo=None), e.actor, e.what) for e in d.timeline],
            columns=[when, "Who", "What"],
        ),
        hide_index=True,
        width="stretch",
        column_config={
            when: st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm", width="small"),
            "Who": st.column_config.TextColumn(width="small"),
            "What": st.column_config.TextColumn(width="large"),
        },
    )
    timeline_tab.caption(
        f"Version {d.version} of this case. Every change above was recorded with who made it and when."
    )
