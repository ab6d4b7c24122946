"""Analytics: refund rates, reasons, discretionary exceptions, overrides, desk health and policy versions."""

import streamlit as st

from desk.analytics import GRANULARITIES, Filters, default_filters
from desk.errors import DeskError, InvalidInput
from ui import analytics_view as view
from ui import charts
from ui.cache import analytics_people, analytics_report
from ui.guard import guard

ctx = guard("analytics")

st.title("Analytics")
defaults = default_filters(ctx.today)
people = analytics_people(ctx.db, ctx.actor)
own_only = not ctx.actor.may("view_all_analytics")
if own_only:
    st.caption(
        f"You see your own numbers only, {ctx.actor.display_name}: your decisions, your exceptions, the cases "
        "assigned to you. Managers see the whole desk."
    )

# ---- filters -------------------------------------------------------------------------------------------
with st.form("analytics_filters"):
    c_dates, c_types, c_reasons, c_people, c_grain = st.columns([1.4, 1.3, 1.3, 1.3, 0.8])
    dates = c_dates.date_input(
        "Date range",
        value=(defaults.start, defaults.end),
        max_value=ctx.today,
        format="YYYY-MM-DD",
        key="an_dates",
        help="Decisions count by the day they were recorded, cases by the day they were opened, services by "
        "the day they were sold. Default: the last 12 months.",
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
    granularity = c_grain.radio("Trend by", GRANULARITIES, format_func=str.title, horizontal=True, key="an_grain")
    st.form_submit_button("Apply filters", type="primary", icon=":material/filter_alt:")

if len(dates) != 2:
    st.warning("Pick both a start and an end date of the range, then apply the filters.")
    st.stop()

try:
    report, computed_at = analytics_report(
        ctx.db,
        Filters(dates[0], dates[1], tuple(types), tuple(reasons), tuple(reviewers), granularity),
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
    f"{f.start:%d %b %Y} – {f.end:%d %b %Y} ({f.days:,} days), compared with the {f.days:,} days before. "
    f"Figures as of {computed_at:%H:%M:%S}, refreshed every minute. Definitions: docs/metrics.md."
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

t_rates, t_reasons, t_exc, t_over, t_health, t_versions = st.tabs(
    ["Refund rates", "Reasons", "Exceptions", "Overrides", "Desk health", "Policy versions"]
)
plot = {"width": "stretch", "config": {"displaylogo": False}}

with t_rates:
    by_value = st.toggle("Show by value ($) instead of count", key="an_by_value")
    left, right = st.columns(2)
    with left:
        st.subheader("Refund rate", help="Refunds and credits ÷ services sold, per service type.")
        st.plotly_chart(charts.refund_rate_chart(report.trend, f.granularity, by_value), key="ch_refund", **plot)
    with right:
        st.subheader("Request rate", help="Cases opened ÷ services sold, per service type.")
        if report.cases_attributable:
            st.plotly_chart(charts.request_rate_chart(report.trend, f.granularity), key="ch_request", **plot)
        else:
            st.info("Cases are nobody's when they are opened, so there is no request rate per reviewer.")
    st.subheader("Money granted by outcome", help="Full refunds, partial refunds and credits, in dollars.")
    st.plotly_chart(charts.money_by_outcome_chart(report.trend, f.granularity), key="ch_money", **plot)
    view.table_with_csv(view.trend_table(report), "refund rates", "trend")

with t_reasons:
    left, right = st.columns(2)
    with left:
        st.subheader("Share of cases by reason")
        if report.cases_attributable and report.by_reason["opened"].fillna(0).sum() > 0:
            st.plotly_chart(charts.reason_share_chart(report.by_reason), key="ch_reason_share", **plot)
        elif report.cases_attributable:
            st.info("No cases were opened in this period for these filters.")
        else:
            st.info("Opened cases are not attributable to a reviewer; clear the reviewer filter to see them.")
    with right:
        st.subheader("Money outcome rate by reason", help="Of the effective decisions for each reason.")
        if report.by_reason["effective"].sum() > 0:
            st.plotly_chart(charts.money_rate_by_reason_chart(report.by_reason), key="ch_reason_money", **plot)
        else:
            st.info("No decisions in this period for these filters.")
    view.table_with_csv(view.reason_table(report), "reasons", "reasons")
    if report.cases_attributable and not report.reason_trend.empty:
        left, right = st.columns(2)
        with left:
            st.subheader(f"Cases opened by reason, per {f.granularity}")
            st.plotly_chart(
                charts.reason_trend_chart(report.reason_trend, f.granularity), key="ch_reason_trend", **plot
            )
        with right:
            st.subheader("Reason × service type", help="Each column: the share of that type's cases per reason.")
            st.plotly_chart(charts.reason_by_type_chart(report.by_reason_type), key="ch_reason_type", **plot)
    view.table_with_csv(view.reason_type_table(report), "reasons by service type", "reason_type")

with t_exc:
    st.caption(
        "A discretionary exception is a decision outside the outcomes the policy allows for the case "
        f"(section 5). Pending approvals right now: **{report.pending_approvals:,}**."
    )
    if report.exceptions_by_bucket.empty:
        st.info(
            "No discretionary exceptions in this period for these filters: every decision stayed within the "
            "policy's allowed outcomes.",
            icon=":material/verified:",
        )
    else:
        left, right = st.columns([3, 2])
        with left:
            st.subheader(f"Exceptions per {f.granularity}")
            st.plotly_chart(
                charts.exceptions_by_period_chart(report.exceptions_by_bucket, f.granularity), key="ch_exc", **plot
            )
        with right:
            st.subheader("Numbers")
            view.table_with_csv(view.exceptions_period_table(report), "exceptions by period", "exc_period")
        rev, rea = report.by_reviewer, report.by_reason
        reason_names = rea["reason"].map(charts.REASON_LABELS)
        left, right = st.columns(2)
        with left:
            st.subheader("By reviewer")
            st.plotly_chart(charts.exceptions_by_chart(rev, rev["reviewer"]), key="ch_exc_rev", **plot)
            view.table_with_csv(
                view.exceptions_by_table(rev, "Reviewer", rev["reviewer"]), "exceptions by reviewer", "exc_rev"
            )
        with right:
            st.subheader("By reason")
            st.plotly_chart(charts.exceptions_by_chart(rea, reason_names), key="ch_exc_reason", **plot)
            view.table_with_csv(
                view.exceptions_by_table(rea, "Reason", reason_names), "exceptions by reason", "exc_reason"
            )
    st.subheader("Exception cases", help="Newest first. Click a case number to open the case.")
    listed = view.exception_list_table(report)
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
    if not report.has_decisions:
        st.info("No decisions in this period for these filters.")
    else:
        left, right = st.columns([3, 2])
        with left:
            st.subheader("Override rate by reviewer, by direction")
            st.plotly_chart(charts.override_chart(report.by_reviewer), key="ch_override", **plot)
        with right:
            st.subheader("Numbers")
            view.table_with_csv(view.reviewer_table(report), "overrides by reviewer", "overrides")

with t_health:
    st.caption(
        f"Time to decision: median **{view.days_label(k.lead_median)}**, p90 **{view.days_label(k.lead_p90)}**; "
        f"decided within the due date: **{'—' if k.within_due_share is None else f'{k.within_due_share:.1%}'}** "
        "of effective decisions in the period."
    )
    left, right = st.columns(2)
    with left:
        st.subheader("Days from opening to decision")
        if k.effective:
            st.plotly_chart(
                charts.lead_time_chart(report.lead_histogram, k.lead_median, k.lead_p90), key="ch_lead", **plot
            )
        else:
            st.info("No effective decisions in this period for these filters.")
    with right:
        st.subheader("Backlog by age", help=f"Cases not closed as of {report.today:%d %b %Y}; not date-filtered.")
        if report.backlog["cases"].sum():
            st.plotly_chart(charts.backlog_chart(report.backlog), key="ch_backlog", **plot)
        else:
            st.info("No open cases for these filters — the backlog is empty.", icon=":material/inbox:")
    left, right = st.columns(2)
    with left:
        st.subheader("Decisions per reviewer")
        if report.has_decisions:
            st.plotly_chart(charts.decisions_per_reviewer_chart(report.by_reviewer), key="ch_per_rev", **plot)
        else:
            st.info("No decisions in this period for these filters.")
    with right:
        st.subheader("Numbers")
        view.table_with_csv(view.health_table(report), "desk health by reviewer", "health")
        view.table_with_csv(view.backlog_table(report), "backlog by age", "backlog")
    with st.expander("Distribution of days to decision"):
        view.table_with_csv(view.lead_table(report), "days to decision", "lead")

with t_versions:
    st.caption(
        "Each decision is judged under the policy version in force on its service date. Refund rates over "
        "services sold are not split by version (a sale has no version); these are shares of decisions."
    )
    if report.by_version.empty:
        st.info("No decisions in this period for these filters.")
    else:
        left, right = st.columns([2, 3])
        with left:
            st.subheader("Outcome mix by policy version")
            st.plotly_chart(charts.outcome_mix_by_version_chart(report.by_version), key="ch_versions", **plot)
        with right:
            st.subheader("Headline numbers by policy version")
            view.table_with_csv(view.version_table(report), "policy versions", "versions")
