"""Policy checker: the facts of a request on the left, the policy's verdict beside them; the policy's versions
and their differences. (The what-if replay of a draft policy is its own page: pages/replay.py.)"""

import streamlit as st

from desk import checker
from policy import CYCLE_LABELS, REASON_LABELS, SERVICE_STATUSES, SERVICE_TYPE_LABELS, SERVICE_TYPES, STATUS_LABELS
from policy.vocabulary import REASON_HELP
from ui.export import download_file
from ui.guard import guard
from ui.nav import BY_KEY

ctx = guard("checker")

K = "chk_"  # widget keys: chk_<facts field>, chk_fix (attempted + succeeded), chk_cancelled
DATE_LIMITS = checker.WIDGET_DATE_LIMITS  # wide: a date outside the accepted range gets a message, not ignored
DATE_FORMAT = "YYYY-MM-DD"

book = checker.current_book(ctx.db)


def widget_values(form: dict) -> dict:
    """The form's values keyed by widget."""
    values = {K + name: form[name] for name in checker.WIDGET_FIELDS}
    values[K + "fix"] = checker.fix_choice(form["fix_attempted"], form["fix_succeeded"])
    values[K + "cancelled"] = form["cancelled_on"] is not None
    values[K + "cancelled_on"] = form["cancelled_on"] or form["cycle_start"]
    return values


# ---- pre-fill from the link (a case page links here with the facts as query parameters) ----------------
params = st.query_params.to_dict()
signature = tuple(sorted((k, str(v)) for k, v in params.items() if k in checker.FIELDS))
if st.session_state.get(K + "prefilled") != signature:
    form, problems = checker.form_from_query(params, ctx.today)
    st.session_state.update(widget_values(form))
    st.session_state[K + "problems"] = problems
    st.session_state[K + "prefilled"] = signature
else:  # a widget that was hidden (e.g. a subscription field) and lost its value comes back with its default
    for key, value in widget_values(checker.default_form(ctx.today)).items():
        if key not in st.session_state:
            st.session_state[key] = value

service_type = st.session_state[K + "service_type"]
is_sub = service_type == "subscription"
reasons = checker.reason_options(service_type)
if st.session_state[K + "reason"] not in reasons:
    st.session_state[K + "reason"] = reasons[0]


form = {name: st.session_state[K + name] for name in checker.WIDGET_FIELDS}
form["fix_attempted"], form["fix_succeeded"] = checker.FIX_CHOICES[st.session_state[K + "fix"]]
form["cancelled_on"] = st.session_state[K + "cancelled_on"] if st.session_state[K + "cancelled"] else None
result = checker.check(form, book, ctx.today)


def error_for(*fields: str) -> None:
    """The engine's complaint, right under the field it is about."""
    if isinstance(result, checker.FieldError) and result.field in fields:
        st.error(result.message, icon=":material/error:")


# ---- the page --------------------------------------------------------------------------------------------
st.title("Policy checker")
st.caption(
    "Fill in the facts of a refund request; the verdict beside them follows every change. "
    "The request is judged by the policy version in force on its service date."
)
for problem in st.session_state[K + "problems"]:
    st.warning(problem, icon=":material/link_off:")

if ctx.actor.may("replay_policy"):
    # the replay was a tab of this page: an old link (?tab=replay) lands on its own page now
    if st.query_params.get("tab") == "replay":
        st.switch_page(BY_KEY["replay"].path)
    st.page_link(
        BY_KEY["replay"].path, label="What-if replay of a draft policy: its own page", icon=BY_KEY["replay"].icon
    )
tabs = st.tabs(["Check a request", "Policy versions"])

with tabs[0]:
    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("The request")
        c1, c2 = st.columns(2)
        c1.selectbox("Service type", SERVICE_TYPES, key=K + "service_type", format_func=SERVICE_TYPE_LABELS.get)
        c2.selectbox(
            "Service status",
            SERVICE_STATUSES,
            key=K + "service_status",
            format_func=STATUS_LABELS.get,
            help="For a subscription: in progress while the charged cycle runs, completed once it has ended.",
        )
        with c1:
            error_for("service_type")
        with c2:
            error_for("service_status")
        c1, c2 = st.columns(2)
        with c1:
            if is_sub:
                st.date_input(
                    "Start of the charged billing cycle",
                    key=K + "cycle_start",
                    format=DATE_FORMAT,
                    help="For a subscription this is the service date.",
                    persist_state="page",
                    **DATE_LIMITS,
                )
                error_for("cycle_start", "service_date")
            else:
                status = st.session_state[K + "service_status"]
                st.date_input(
                    {
                        "completed": "Service date (rendered or completed)",
                        "in_progress": "Service date (day it was started)",
                        "not_started": "Service date (scheduled day)",
                    }[status],
                    key=K + "service_date",
                    format=DATE_FORMAT,
                    help="The contact window counts from this day.",
                    **DATE_LIMITS,
                )
                error_for("service_date")
        with c2:
            st.date_input(
                "Request date",
                key=K + "request_date",
                format=DATE_FORMAT,
                help="The day the customer contacted us.",
                **DATE_LIMITS,
            )
            error_for("request_date")
            future = checker.future_request_note(form, ctx.today)
            if future:
                st.warning(future, icon=":material/event_upcoming:")
        if is_sub:
            c1, c2 = st.columns(2)
            with c1:
                st.radio(
                    "Billing cycle",
                    list(CYCLE_LABELS),
                    key=K + "cycle",
                    format_func=CYCLE_LABELS.get,
                    horizontal=True,
                    persist_state="page",
                )
                error_for("cycle")
            with c2:
                st.date_input(
                    "End of the billing cycle",
                    key=K + "cycle_end",
                    format=DATE_FORMAT,
                    help="Access continues until this day after a cancellation.",
                    persist_state="page",
                    **DATE_LIMITS,
                )
                error_for("cycle_end")
            c1, c2 = st.columns(2)
            c1.checkbox("The subscription was cancelled", key=K + "cancelled", persist_state="page")
            if st.session_state[K + "cancelled"]:
                with c2:
                    st.date_input(
                        "Cancelled on", key=K + "cancelled_on", format=DATE_FORMAT, persist_state="page", **DATE_LIMITS
                    )
                    error_for("cancelled_on")
        c1, c2 = st.columns(2)
        with c1:
            st.selectbox(
                "Reason",
                reasons,
                key=K + "reason",
                format_func=REASON_LABELS.get,
                help=" · ".join(f"{REASON_LABELS[r]}: {REASON_HELP[r].lower()}" for r in reasons),
            )
            error_for("reason")
        with c2:
            st.number_input(
                "Amount paid",
                key=K + "amount_paid",
                min_value=0.0,
                step=1.0,
                format="%.2f",
                help="What the customer paid for the service, in currency units.",
            )
            error_for("amount_paid")
        st.radio(
            "Fix",
            list(checker.FIX_LABELS),
            key=K + "fix",
            format_func=checker.FIX_LABELS.get,
            horizontal=True,
            help="For a mistake or technical issue on our side the policy asks us to try a fix first.",
        )
        error_for("fix")
        st.checkbox("The customer provided documentation (screenshots, emails, ...)", key=K + "documentation_provided")
        error_for("documentation_provided", "form")

    with right:
        st.subheader("Verdict")
        if isinstance(result, checker.FieldError):
            st.info(
                f"No verdict yet: {checker.FIELD_LABELS.get(result.field, 'the form')} needs attention "
                "(see the message next to it).",
                icon=":material/edit_note:",
            )
        else:
            v = result.verdict
            with st.container(border=True):
                st.markdown(f"#### Recommended: {result.recommended_label}")
                st.write(result.why)
                st.markdown("**Allowed under the general terms:** " + " · ".join(result.allowed_labels))
            days = (
                "the contact window does not apply (not started)"
                if form["service_status"] == "not_started"
                else f"day {v.days_used} of {result.version.window_days}"
            )
            st.markdown(
                f"**Contact deadline:** {v.contact_deadline:%Y-%m-%d} ({days})  \n"
                f"**Policy version:** {result.version.version}, in force on the service date "
                f"({checker.effective_words(result.version, ctx.today)}, "
                f"{result.version.window_days}-day contact window)"
            )
            st.markdown("**Findings**")
            for f in result.findings:
                icon = ":green[:material/check_circle:]" if f.ok else ":orange[:material/warning:]"
                st.markdown(f"{icon} {f.message}")
            if result.amount_limits:
                st.markdown("**Amounts a decision may carry**")
                for label, limit in result.amount_limits:
                    st.markdown(f"- {label}: {limit}")
            st.markdown(f"**Cited clauses** (policy version {result.version.version})")
            for number, text in result.cited:
                with st.container(border=True):
                    st.markdown(f"**Section {number}**")
                    st.text(text.strip())

with tabs[1]:
    names = checker.version_names(book)
    st.subheader("Read a version")
    chosen = st.selectbox(
        "Version",
        names,
        key=K + "read_version",
        format_func=lambda n: f"{n} ({checker.effective_words(book.get(n), ctx.today)})",
        help="Section 6: a version applies to services provided on or after its effective date.",
    )
    version = book.get(chosen)
    c1, c2 = st.columns(2)
    c1.metric("Effective from", version.effective_from.isoformat())
    c2.metric("Contact window", f"{version.window_days} days")
    for number, text in version.clauses.items():
        with st.expander(f"Section {number}: {text.strip().splitlines()[0]}", expanded=False):
            st.text(text.strip())
    download_file(
        "Download this version as TOML (a template for a draft)",
        version.to_toml_text(),
        file_name=checker.version_file_name(version),
        mime="application/toml",
        icon=":material/download:",
    )
    st.subheader("Compare two versions")
    if len(names) < 2:
        st.info(
            "The book has one version so far, so there is nothing to compare. Managers draft a new version on "
            "the Policy changes page; a second manager or an admin approves and publishes it."
        )
    else:
        c1, c2 = st.columns(2)
        older = c1.selectbox("From", names, index=1, key=K + "diff_from")
        newer = c2.selectbox("To", names, index=0, key=K + "diff_to")
        diff = checker.compare_versions(book, older, newer)
        if diff:
            st.code(diff, language="diff")
        else:
            st.info("The two versions are the same.")
