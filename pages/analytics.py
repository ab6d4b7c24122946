"""Analytics: refund rates, reasons, discretionary exceptions, overrides, desk health and policy versions."""

import streamlit as st

from desk import periods
from desk.analytics import GRANULARITIES, Filters
from desk.errors import DeskError, InvalidInput
from policy.vocabulary import PERIOD_PRESETS
from ui import analytics_view as view
from ui import charts
from ui.cache import analytics_currencies, analytics_drill, analytics_people, analytics_view
from ui.currency import reporting_currency
from ui.guard import guard
from ui.runtime import desk_timezone

ctx = guard("analytics")

st.title("Analytics")
reporting, config_problem = reporting_currency()
if config_problem:
    st.warning(config_problem)
zone, zone_problem = desk_timezone()
if zone_problem:
    st.warning(zone_problem)
people = analytics_people(ctx.db, ctx.actor)
currencies = analytics_currencies(ctx.db, ctx.actor, reporting)
own_only = not ctx.actor.may("view_all_analytics")
if own_only:
    st.caption(
        f"You see your own numbers only, {ctx.actor.display_name}: your decisions, your exceptions, the cases "
        "assigned to you. Managers see the whole desk."
    )

# ---- filters -------------------------------------------------------------------------------------------
if "an_period" not in st.session_state:  # first run on this page: the link's choice, or the default
    preset, start, end, link_problems = periods.from_query(st.query_params.to_dict(), ctx.today)
    st.session_state["an_period"] = preset
    st.session_state["an_dates"] = (start, end)
    for problem in link_problems:
        st.warning(problem)


def _preset_changed() -> None:
    chosen = st.session_state["an_period"]
    if chosen != "custom":
        st.session_state["an_dates"] = periods.preset_range(chosen, ctx.today)


c_period, c_zone = st.columns([1.7, 6.1], vertical_alignment="bottom")
preset = c_period.selectbox(
    "Period",
    PERIOD_PRESETS,
    format_func=periods.preset_label,
    key="an_period",
    on_change=_preset_changed,
    help="Ranges end today at the latest. Pick “Custom range” to choose the dates below.",
)
c_zone.caption(
    f"Days and months are of the desk's time zone, **{periods.zone_name(zone)}**; today is {ctx.today:%d %b %Y}."
)
with st.form("analytics_filters"):
    c_dates, c_types, c_reasons, c_people, c_cur, c_grain = st.columns([1.7, 1.3, 1.3, 1.3, 0.8, 0.9])
    dates = c_dates.date_input(
        "Date range",
        max_value=ctx.today,
        format="YYYY-MM-DD",
        key="an_dates",
        disabled=preset != "custom",
        help="Decisions count by the day they were recorded, cases by the day they were opened, services by "
        "the day they were sold. Set by the period; pick “Custom range” to choose the dates.",
    )
    types = c_types.multiselect(
        "Service type",
        charts.SERVICE_TYPE_ORDER,
        format_func=charts.SERVICE_TYPE_LABELS.get,
        placeholder="All service types",
        key="an_types",
    )
    reasons = c_reasons.multiselect(
        "Reason",
        charts.REASON_ORDER,
        format_func=charts.REASON_LABELS.get,
        placeholder="All reasons",
        key="an_reasons",
    )
    names = {p.id: p.name + ("" if p.active else " (inactive)") for p in people}
    reviewers = c_people.multiselect(
        "Reviewer",
        list(names),
        default=list(names) if own_only else None,
        format_func=names.get,
        placeholder="All reviewers",
        disabled=own_only,
        key="an_reviewers",
        help="Decisions made by these people (reviewers and managers). Case-based numbers — request rate, "
        "reason mix of opened cases — are not attributable to a reviewer and are hidden while this is set.",
    )
    currency = c_cur.selectbox(
        "Currency",
        currencies,
        key="an_currency",
        help=f"Money figures — amounts, revenue, value rates — are of this currency only: amounts of different "
        f"currencies are never added together. Counts and count rates include every currency. Default: the "
        f"desk's reporting currency ({reporting}).",
    )
    granularity = c_grain.radio("Trend by", GRANULARITIES, format_func=str.title, horizontal=True, key="an_grain")
    st.form_submit_button("Apply filters", type="primary", icon=":material/filter_alt:")

if len(dates) != 2:
    st.warning("Pick both a start and an end date of the range, then apply the filters.")
    st.stop()
if preset != "custom":  # a preset's range as of today, whatever the (disabled) date box last held
    dates = periods.preset_range(preset, ctx.today)
st.query_params.from_dict(periods.to_query(preset, dates[0], dates[1]))  # the link keeps the choice

try:
    report, computed_at, v = analytics_view(
        ctx.db,
        Filters(
            dates[0],
            dates[1],
            tuple(types),
            tuple(reasons),
            tuple(reviewers),
            granularity,
            currency,
            periods.zone_name(zone),
        ),
        ctx.actor,
        ctx.today,
    )
except InvalidInput as exc:
    st.error(exc.message)
    st.stop()
except DeskError as exc:
    st.error(str(exc))
    st.stop()

f, k = report.filters, report.kpis
st.caption(
    f"**{f.start:%d %b %Y} – {f.end:%d %b %Y}** ({f.days:,} day{'' if f.days == 1 else 's'}); changes are against "
    f"{report.previous.start:%d %b %Y} – {report.previous.end:%d %b %Y}. Figures as of "
    f"{periods.format_time(computed_at, zone)}, refreshed every minute. Definitions: docs/metrics.md."
)

if not report.has_decisions and k.sold == 0 and not (report.cases_attributable and k.opened):
    st.info(
        "Nothing to show for these filters: no services were sold, no cases opened and no decisions recorded "
        f"between {f.start:%d %b %Y} and {f.end:%d %b %Y}. Widen the date range or clear a filter.",
        icon=":material/search_off:",
    )
    st.stop()
if not report.has_decisions:
    who = "You have" if own_only else "The selected reviewers have" if f.reviewers else "The desk has"
    st.info(
        f"{who} no decisions between {f.start:%d %b %Y} and {f.end:%d %b %Y} for these filters, so the refund, "
        "exception and override numbers are empty. Widen the date range or clear a filter.",
        icon=":material/search_off:",
    )

view.kpi_tiles(report)
view.report_buttons(report, v, zone)

t_rates, t_reasons, t_exc, t_over, t_health, t_versions, t_money = st.tabs(
    ["Refund rates", "Reasons", "Exceptions", "Overrides", "Desk health", "Policy versions", "Approvals and money"]
)
fig, table = v.specs, v.tables  # the charts as the dicts drawn (v.figures: as go.Figure objects)


def cases_behind(drill):
    """(cases, how many in all) behind one number of the page."""
    return analytics_drill(ctx.db, report.filters, ctx.actor, drill, ctx.today)


def chart(name: str, empty: str) -> None:
    """The figure, or why there is none. A point or a bar lists the cases behind it."""
    if name not in fig:
        st.info(empty)
        return
    pick = view.SELECT_POINT if view.drillable(v, name) else {}
    event = view.plotly_chart(v, name, key=f"ch_{name}", width="stretch", config={"displaylogo": False}, **pick)
    picked = view.chart_drill(report, v, name, event) if pick else None
    if picked:
        with st.spinner("Listing the cases…"):
            found = cases_behind(picked)
        view.drill_panel(report, picked, found, f"ch_{name}")


def table_of(name: str, title: str, key: str) -> None:
    """Table `name` and its CSV; a selected row lists the cases behind one of its numbers."""
    view.drillable_table(report, v, name, title, key, cases_behind)


NO_DECISIONS = "No decisions in this period for these filters."

with t_rates:
    by_value = st.toggle(f"Show by value ({f.currency}) instead of count", key="an_by_value")
    if v.partial_note:
        st.caption(v.partial_note)
    st.caption(
        f"Cash-only refund rate (full and partial refunds, no credits): **{view.rate_label(k.cash_refund_rate)}** "
        f"({k.refunds:,} of {k.sold:,} services sold), beside **{view.rate_label(k.refund_rate)}** counting "
        f"credits. Dating rule: a decision counts on the day it was recorded, so an exception approved after its "
        "month ended changes that month (docs/metrics.md, “Late changes”)."
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Refund rate", help="Refunds and credits ÷ services sold (or their value ÷ revenue).")
        chart("refund_value" if by_value else "refund_count", NO_DECISIONS)
    with right:
        st.subheader("Request rate", help="Cases opened ÷ services sold, per service type.")
        chart("request", "Cases are nobody's when they are opened, so there is no request rate per reviewer.")
    st.subheader("Money granted by outcome", help="Full refunds, partial refunds and credits, in dollars.")
    chart("money", NO_DECISIONS)
    st.caption("Select a point or a bar of a chart, or a row of a table, to list the cases behind it — on every tab.")
    table_of("trend", "refund rates", "trend")
    st.subheader(
        "Refund rate by sale month and by decision month",
        help="By sale month: of the services sold in a month (the cohort), the share that got money back, "
        "whenever it was decided — a recent month's cohort still grows as its requests come in. By decision "
        "month: money decisions recorded in the month ÷ services sold in the month. Whole months.",
    )
    table_of("sale_month", "refund rate by sale month", "sale_month")

with t_reasons:
    left, right = st.columns(2)
    with left:
        st.subheader("Share of cases by reason")
        chart(
            "reason_share",
            "No cases were opened in this period for these filters."
            if report.cases_attributable
            else "Opened cases are not attributable to a reviewer; clear the reviewer filter to see them.",
        )
    with right:
        st.subheader("Money outcome rate by reason", help="Of the effective decisions for each reason.")
        chart("reason_money", NO_DECISIONS)
    table_of("reasons", "reasons", "reasons")
    if "reason_trend" in fig:
        left, right = st.columns(2)
        with left:
            st.subheader(f"Cases opened by reason, per {f.granularity}")
            if v.partial_note:
                st.caption(v.partial_note)
            chart("reason_trend", "")
        with right:
            st.subheader("Reason × service type", help="Each column: the share of that type's cases per reason.")
            chart("reason_type", "")
    table_of("reason_type", "reasons by service type", "reason_type")

with t_exc:
    st.caption(
        "A discretionary exception is a decision outside the outcomes the policy allows for the case "
        f"(section 5). Pending approvals right now: **{report.pending_approvals:,}**."
    )
    if "exc" not in fig:
        st.info(
            "No discretionary exceptions in this period for these filters: every decision stayed within the "
            "policy's allowed outcomes.",
            icon=":material/verified:",
        )
    else:
        left, right = st.columns([3, 2])
        with left:
            st.subheader(f"Exceptions per {f.granularity}")
            if v.partial_note:
                st.caption(v.partial_note)
            chart("exc", "")
        with right:
            st.subheader("Numbers")
            table_of("exc_period", "exceptions by period", "exc_period")
        left, right = st.columns(2)
        with left:
            st.subheader("By reviewer")
            chart("exc_reviewer", "")
            table_of("exc_reviewer", "exceptions by reviewer", "exc_rev")
        with right:
            st.subheader("By reason")
            chart("exc_reason", "")
            table_of("exc_reason", "exceptions by reason", "exc_reason")
    st.subheader("Exception cases", help="Newest first. Click a case number to open the case.")
    listed = table["exc_list"]
    if listed.empty:
        st.caption("No exception cases to list.")
    else:
        if k.exceptions > len(listed):
            st.caption(
                f"The {len(listed):,} most recent of {k.exceptions:,} exceptions; narrow the filters to see others."
            )
        view.table_with_csv(listed, "exception cases", "exc_list", dict(view.EXCEPTION_LIST_CONFIG))

with t_over:
    st.caption(
        "An override is a decision whose outcome differs from the policy's recommendation (an exception is a "
        "stronger thing: an outcome the policy does not allow at all). Generosity order: deny < fix < credit < "
        "partial refund < full refund."
    )
    if "override" not in fig:
        st.info(NO_DECISIONS)
    else:
        left, right = st.columns([3, 2])
        with left:
            st.subheader("Override rate by reviewer, by direction")
            chart("override", "")
        with right:
            st.subheader("Numbers")
            table_of("overrides", "overrides by reviewer", "overrides")

with t_health:
    within = "—" if k.within_due_share is None else f"{k.within_due_share:.1%}"
    closed = "—" if k.closed_within_due_share is None else f"{k.closed_within_due_share:.1%}"
    st.caption(
        f"Time to decision: median **{view.days_label(k.lead_median)}**, p90 **{view.days_label(k.lead_p90)}**; "
        f"decided within the due date: **{within}** of effective decisions in the period."
    )
    st.caption(
        f"Time to close, the approval wait included: median **{view.days_label(k.close_median)}**, p90 "
        f"**{view.days_label(k.close_p90)}**; closed within the due date: **{closed}** "
        f"({k.waited_for_approval:,} of the {k.effective:,} effective decisions waited for a manager's approval)."
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Days from opening to decision")
        chart("lead", "No effective decisions in this period for these filters.")
    with right:
        st.subheader("Backlog by age", help=f"Cases not closed as of {report.today:%d %b %Y}; not date-filtered.")
        chart("backlog", "No open cases for these filters — the backlog is empty.")
    left, right = st.columns(2)
    with left:
        st.subheader("Decisions per reviewer")
        chart("per_reviewer", NO_DECISIONS)
    with right:
        st.subheader("Numbers")
        table_of("health", "desk health by reviewer", "health")
        table_of("backlog", "backlog by age", "backlog")
    with st.expander("Distribution of days to decision"):
        table_of("lead", "days to decision", "lead")
    with st.expander("Distribution of days to close, the approval wait included"):
        table_of("close", "days to close", "close")

with t_versions:
    st.caption(
        "Each decision is judged under the policy version in force on its service date. Refund rates over "
        "services sold are not split by version (a sale has no version); these are shares of decisions."
    )
    if "versions" not in fig:
        st.info(NO_DECISIONS)
    else:
        left, right = st.columns([2, 3])
        with left:
            st.subheader("Outcome mix by policy version")
            chart("versions", "")
        with right:
            st.subheader("Headline numbers by policy version")
            table_of("versions", "policy versions", "versions")

with t_money:
    st.caption(
        "Amounts are each in their own currency, one row per currency — never added together. Money awaiting "
        f"approval is a snapshot as of {report.today:%d %b %Y} (the date range does not apply); the other tables "
        "are of decisions recorded in the period."
    )
    st.subheader("Money awaiting approval", help="Exceptions waiting for a manager; days since each was recorded.")
    if table["awaiting"].empty:
        st.caption("Nothing awaits approval for these filters.")
    else:
        table_of("awaiting", "money awaiting approval", "awaiting")
    st.subheader("Approvals and rejections per manager", help="Exceptions recorded in the period, by who answered.")
    if table["approvals"].empty:
        st.caption("No exception of this period has been approved or rejected yet.")
    else:
        table_of("approvals", "approvals per manager", "approvals")
    st.subheader(
        "Amount granted against amount requested",
        help="Effective decisions in the period: what the customers asked for, what was granted (refunds and "
        "credits) and its cash part.",
    )
    if table["granted"].empty:
        st.caption(NO_DECISIONS)
    else:
        table_of("granted", "granted against requested", "granted")
