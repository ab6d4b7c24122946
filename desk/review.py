"""The analytics view as data: every table of the page (the frame shown is the frame exported as CSV and
written to the monthly report) and every figure, built once per report. Pure pandas and Plotly, no Streamlit:
the page (ui/analytics_view.py) draws them, desk/report.py writes them to files.

Tables name their units in the heading — "(%)" holds percentages, "(EUR)" amounts in that currency (the
report's currency filter; a list of mixed currencies formats each amount in its own) — so a CSV means the
same as the screen without its formatting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from desk import charts
from desk.analytics import LEAD_CAPPED, Drill, Report
from desk.charts import APPROVAL_LABELS, OUTCOME_LABELS, REASON_LABELS, SERVICE_TYPE_LABELS
from desk.money import format_money, minor_digits
from desk.periods import format_time

MONEY_HEADING = re.compile(r"\(([A-Z]{3})\)$")  # "Revenue (EUR)"


def _amounts(cents, currencies) -> list[str]:
    """Each amount formatted in its own currency (format_money), each distinct pair formatted once: a list of
    500 exceptions holds far fewer distinct amounts, and Babel takes ~0.2 ms an amount."""
    cache: dict[tuple[int, str], str] = {}
    out = []
    for c, cur in zip(cents, currencies):
        key = (int(c) if c is not None and not pd.isna(c) else 0, cur)
        if key not in cache:
            cache[key] = format_money(key[0], cur)
        out.append(cache[key])
    return out


def _major(cents: pd.Series, currency: str) -> pd.Series:
    return cents / 10 ** minor_digits(currency)


def period_label(d: date, granularity: str) -> str:
    return d.strftime("%Y-%m") if granularity == "month" else f"week of {d:%Y-%m-%d}"


def drill_title(d: Drill) -> str:
    what = SERVICE_TYPE_LABELS[d.service_type] if d.service_type else "every selected service type"
    if d.kind == "sale_month":
        return f"services sold in {d.start:%B %Y} ({what}) that got money back, decided at any time"
    decisions = f"{OUTCOME_LABELS[d.outcome].lower()} decisions" if d.outcome else "money decisions"
    return f"{decisions} recorded {d.start:%d %b %Y} – {d.end:%d %b %Y} ({what})"


def filters_note(r: Report) -> str:
    """The page filters that produced a list, in words."""
    f = r.filters
    types = ", ".join(SERVICE_TYPE_LABELS[t] for t in f.service_types) or "all service types"
    reasons = ", ".join(REASON_LABELS[x] for x in f.reasons) or "all reasons"
    names = dict(zip(r.by_reviewer["decided_by_id"], r.by_reviewer["reviewer"]))
    who = ", ".join(str(names.get(i, f"user {i}")) for i in f.reviewers) or "all reviewers"
    return f"Filters: {f.start:%d %b %Y} – {f.end:%d %b %Y}; {types}; {reasons}; {who}."


def drill_table(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Case": rows["case_id"].astype("int64"),
            "Decided on": rows["decided_on"],
            "Decided by": rows["decided_by"],
            "Service type": rows["service_type"].map(SERVICE_TYPE_LABELS),
            "Sold on": rows["purchased_on"],
            "Reason": rows["reason"].map(REASON_LABELS),
            "Outcome": rows["outcome"].map(OUTCOME_LABELS),
            "Amount": _amounts(rows["amount_cents"], rows["currency"]),
            "Requested": _amounts(rows["amount_requested_cents"], rows["currency"]),
            "Approval": rows["approval_status"].map({**APPROVAL_LABELS, "not_required": "Not needed"}),
        }
    )


def trend_table(r: Report) -> pd.DataFrame:
    t = r.trend
    g, cur = r.filters.granularity, r.filters.currency
    out = pd.DataFrame(
        {
            "Period": [period_label(d, g) for d in t["bucket"]],
            "Service type": t["service_type"].map(SERVICE_TYPE_LABELS),
            "Services sold": t["sold"],
            f"Revenue ({cur})": _major(t["revenue_cents"], cur),
            "Money outcomes": t["money"],
            "Refund rate (%)": (t["money"] / t["sold"].where(t["sold"] != 0)) * 100,
            f"Refunded + credited ({cur})": _major(t["money_cents"], cur),
            "Value rate (%)": (t["money_cents"] / t["revenue_cents"].where(t["revenue_cents"] != 0)) * 100,
            "Cash refunds": t["refunds"],
            "Cash refund rate (%)": (t["refunds"] / t["sold"].where(t["sold"] != 0)) * 100,
            "Credits": t["credits"],
            f"Credits ({cur})": _major(t["credit_cents"], cur),
        }
    )
    if r.cases_attributable:
        out.insert(4, "Cases opened", t["opened"].astype("int64"))
        out.insert(5, "Request rate (%)", (t["opened"] / t["sold"].where(t["sold"] != 0)) * 100)
    return out


def reason_table(r: Report) -> pd.DataFrame:
    b = r.by_reason
    out = pd.DataFrame({"Reason": b["reason"].map(REASON_LABELS)})
    if r.cases_attributable:
        out["Cases opened"] = b["opened"].astype("int64")
        out["Share of cases (%)"] = b["share_of_cases"] * 100
    out["Decisions"] = b["effective"]
    out["Money outcomes"] = b["money"]
    out["Money rate (%)"] = b["money_share"] * 100
    out["Full refunds"] = b["full_refunds"]
    out["Partial refunds"] = b["partial_refunds"]
    out["Credits"] = b["credits"]
    out[f"Money ({r.filters.currency})"] = _major(b["money_cents"], r.filters.currency)
    return out


def reason_type_table(r: Report) -> pd.DataFrame:
    b = r.by_reason_type.copy()
    out = pd.DataFrame(
        {"Reason": b["reason"].map(REASON_LABELS), "Service type": b["service_type"].map(SERVICE_TYPE_LABELS)}
    )
    if r.cases_attributable:
        type_total = b.groupby("service_type")["opened"].transform("sum")
        out["Cases opened"] = b["opened"].astype("int64")
        out["Share of type's cases (%)"] = b["opened"] / type_total.where(type_total != 0) * 100
    out["Decisions"] = b["effective"]
    out["Money rate (%)"] = b["money_share"] * 100
    return out


def exceptions_period_table(r: Report) -> pd.DataFrame:
    e = r.exceptions_by_bucket
    return pd.DataFrame(
        {
            "Period": [period_label(d, r.filters.granularity) for d in pd.to_datetime(e["bucket"]).dt.date],
            "Exceptions": e["exceptions"],
            "Approved": e["exceptions_approved"],
            "Pending": e["exceptions_pending"],
            "Rejected": e["exceptions_rejected"],
            "Share of decisions (%)": e["exception_share"] * 100,
            f"Money through exceptions ({r.filters.currency})": _major(e["exception_money_cents"], r.filters.currency),
        }
    )


def exceptions_by_table(frame: pd.DataFrame, first: str, names: pd.Series, currency: str) -> pd.DataFrame:
    d = frame[frame["exceptions"] > 0]
    return pd.DataFrame(
        {
            first: names.loc[d.index],
            "Exceptions": d["exceptions"],
            "Approved": d["exceptions_approved"],
            "Pending": d["exceptions_pending"],
            "Rejected": d["exceptions_rejected"],
            "Decisions": d["decisions"],
            "Share of decisions (%)": d["exception_share"] * 100,
            f"Money through exceptions ({currency})": _major(d["exception_money_cents"], currency),
        }
    ).sort_values("Exceptions", ascending=False)


def exception_list_table(r: Report) -> pd.DataFrame:
    e = r.exception_list
    approval = e["approval_status"].map(APPROVAL_LABELS).fillna(e["approval_status"])
    approval = approval.where(~(e["superseded"].astype(bool) & (e["approval_status"] != "rejected")), "Superseded")
    return pd.DataFrame(
        {
            "Case": "/case?case=" + e["case_id"].astype("int64").astype(str),
            "Decided on": e["decided_on"],
            "Decided by": e["decided_by"],
            "Service type": e["service_type"].map(SERVICE_TYPE_LABELS),
            "Reason": e["reason"].map(REASON_LABELS),
            "Outcome": e["outcome"].map(OUTCOME_LABELS),
            "Policy recommended": e["recommended_outcome"].map(OUTCOME_LABELS),
            # the list mixes currencies: each amount in its own
            "Amount": _amounts(e["amount_cents"], e["currency"]),
            "Approval": approval,
            "Approver": e["approver"].fillna("—"),
            "Rationale": e["rationale"],
            "Approval note": e["approval_note"].fillna(""),
        }
    )


def sale_month_table(r: Report) -> pd.DataFrame:
    """The refund rate of each month's sales (the cohort) beside the rate of the decisions of that month."""
    m, cur = r.sale_months, r.filters.currency
    sold = m["sold"].where(m["sold"] != 0)
    revenue = m["revenue_cents"].where(m["revenue_cents"] != 0)
    return pd.DataFrame(
        {
            "Month": [d.strftime("%Y-%m") for d in m["month"]],
            "Services sold": m["sold"].astype("int64"),
            "Money outcomes, by sale month": m["by_sale_money"].astype("int64"),
            "Refund rate by sale month (%)": m["by_sale_money"] / sold * 100,
            "Cash refund rate by sale month (%)": m["by_sale_refunds"] / sold * 100,
            "Value rate by sale month (%)": m["by_sale_money_cents"] / revenue * 100,
            "Money outcomes, by decision month": m["by_decision_money"].astype("int64"),
            "Refund rate by decision month (%)": m["by_decision_money"] / sold * 100,
            f"Refunded + credited by sale month ({cur})": _major(m["by_sale_money_cents"], cur),
            f"Refunded + credited by decision month ({cur})": _major(m["by_decision_money_cents"], cur),
        }
    )


def awaiting_table(r: Report) -> pd.DataFrame:
    """Money awaiting approval now, one row per currency (each amount in its own currency)."""
    a = r.awaiting
    return pd.DataFrame(
        {
            "Currency": a["currency"],
            "Waiting exceptions": a["pending"].astype("int64"),
            "Amount awaiting approval": [format_money(c, cur) for c, cur in zip(a["amount_cents"], a["currency"])],
            "Median days waited": a["median_wait_days"].astype("float64"),
            "Longest wait (days)": a["oldest_wait_days"].astype("int64"),
        }
    )


def approvals_table(r: Report) -> pd.DataFrame:
    a = r.approvals
    decided = a["approvals"] + a["rejections"]
    return pd.DataFrame(
        {
            "Manager": a["manager"],
            "Approved": a["approvals"].astype("int64"),
            "Rejected": a["rejections"].astype("int64"),
            "Approval rate (%)": a["approvals"] / decided.where(decided != 0) * 100,
            "Median hours to answer": a["median_wait_hours"].astype("float64").round(1),
        }
    )


def granted_table(r: Report) -> pd.DataFrame:
    """Amount granted against amount requested, one row per currency."""
    g = r.granted
    asked = g["requested_cents"].where(g["requested_cents"] != 0)

    def fmt(column: str) -> list[str]:
        return [format_money(c, cur) for c, cur in zip(g[column], g["currency"])]

    return pd.DataFrame(
        {
            "Currency": g["currency"],
            "Effective decisions": g["decisions"].astype("int64"),
            "Amount requested": fmt("requested_cents"),
            "Amount granted": fmt("granted_cents"),
            "Granted of requested (%)": g["granted_cents"] / asked * 100,
            "Cash refunds": fmt("cash_cents"),
            "Cash of requested (%)": g["cash_cents"] / asked * 100,
        }
    )


def reviewer_table(r: Report) -> pd.DataFrame:
    b = r.by_reviewer[r.by_reviewer["decisions"].fillna(0) > 0]
    return pd.DataFrame(
        {
            "Reviewer": b["reviewer"],
            "Decisions": b["decisions"].astype("int64"),
            "Overrides": b["overrides"].astype("int64"),
            "Override rate (%)": b["override_rate"] * 100,
            "More generous": b["more_generous"].astype("int64"),
            "Less generous": b["less_generous"].astype("int64"),
            "Exceptions": b["exceptions"].astype("int64"),
            "Money rate (%)": b["money_share"] * 100,
        }
    ).sort_values("Override rate (%)", ascending=False)


def health_table(r: Report) -> pd.DataFrame:
    b = r.by_reviewer[r.by_reviewer["decisions"].fillna(0) > 0]
    return pd.DataFrame(
        {
            "Reviewer": b["reviewer"],
            "Decisions": b["decisions"].astype("int64"),
            "Effective decisions": b["effective"].astype("int64"),
            "Median days": b["lead_median"],
            "p90 days": b["lead_p90"],
            "Within due date (%)": b["within_due_share"] * 100,
        }
    ).sort_values("Decisions", ascending=False)


def lead_table(r: Report) -> pd.DataFrame:
    h = r.lead_histogram
    total = h["decisions"].sum()
    share = h["decisions"] / total if total else h["decisions"] * 0.0
    return pd.DataFrame(
        {
            "Days to decision": [str(d) if d < LEAD_CAPPED else "31+" for d in h["days"]],
            "Decisions": h["decisions"],
            "Share (%)": share * 100,
            "Cumulative share (%)": share.cumsum() * 100,
        }
    )


def close_table(r: Report) -> pd.DataFrame:
    """Days from opening to the close (the approval wait included), beside days to the decision."""
    c, h = r.close_histogram, r.lead_histogram
    if c.empty:
        c = h
    total = c["decisions"].sum()
    share = c["decisions"] / total if total else c["decisions"] * 0.0
    return pd.DataFrame(
        {
            "Days": [str(d) if d < LEAD_CAPPED else "31+" for d in c["days"]],
            "Decided (to the decision)": h["decisions"].to_numpy(),
            "Closed (approval wait included)": c["decisions"].to_numpy(),
            "Share closed (%)": share * 100,
            "Cumulative share closed (%)": share.cumsum() * 100,
        }
    )


def restated_table(r: Report, zone: str | None = None) -> pd.DataFrame:
    """The closed months of the range whose numbers changed after they ended, and why."""
    m = r.restated
    tz = ZoneInfo(zone or r.filters.zone)
    return pd.DataFrame(
        {
            "Month": [d.strftime("%Y-%m") for d in m["month"]],
            "Answered after the month ended": m["late_answers"].astype("int64"),
            "Superseded after the month ended": m["late_supersedes"].astype("int64"),
            "Late changes": m["changes"].astype("int64"),
            "Last change": [
                format_time(t, tz, "%Y-%m-%d %H:%M") if t is not None and not pd.isna(t) else "—"
                for t in m["last_change_at"]
            ],
        }
    )


def restated_note(r: Report) -> str | None:
    """One line for the page and the report's cover: which closed months were restated."""
    if r.restated.empty:
        return None
    months = ", ".join(d.strftime("%B %Y") for d in r.restated["month"])
    n = int(r.restated["changes"].sum())
    return (
        f"Restated: {months} — {n} late change{'' if n == 1 else 's'} (an approval, a rejection or a supersede "
        "after the month ended changed its numbers; docs/metrics.md, “Restated months”)."
    )


def backlog_table(r: Report) -> pd.DataFrame:
    b = r.backlog
    return pd.DataFrame({"Age": b["age"], "Open cases": b["cases"], "Overdue": b["overdue"]})


def version_table(r: Report) -> pd.DataFrame:
    v = r.by_version
    return pd.DataFrame(
        {
            "Policy version": v["policy_version"],
            "Decisions": v["decisions"],
            "Effective decisions": v["effective"],
            "Money outcomes": v["money"],
            "Money rate (%)": v["money_share"] * 100,
            f"Money ({r.filters.currency})": _major(v["money_cents"], r.filters.currency),
            "Credits": v["credits"],
            "Exceptions": v["exceptions"],
            "Exception share (%)": v["exception_share"] * 100,
            "Overrides": v["overrides"],
            "Override rate (%)": v["override_rate"] * 100,
        }
    )


# ---- everything the page draws, built once per report ---------------------------------------------------


class Figures(Mapping[str, go.Figure]):
    """The view's figures as validated go.Figure objects, each made from its spec when first asked for (the
    HTML report, tests): the page draws the specs and never needs them."""

    def __init__(self, specs: Mapping[str, dict]) -> None:
        self._specs = specs
        self._made: dict[str, go.Figure] = {}

    def __getitem__(self, name: str) -> go.Figure:
        if name not in self._made:
            self._made[name] = go.Figure(self._specs[name])
        return self._made[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


@dataclass(frozen=True)
class View:
    """The figures and tables of one report. Built once and cached (ui.cache), then only drawn: treat
    them as read-only."""

    specs: dict[str, dict]  # each chart that has something to show, as the plain dict the page sends
    tables: dict[str, pd.DataFrame]
    partial_note: str | None

    @cached_property
    def figures(self) -> Figures:
        """The same charts as go.Figure objects, made when first asked for."""
        return Figures(self.specs)


def build_view(r: Report, finish: Callable[[dict], dict] = charts.finished) -> View:  # noqa: C901 — a step per chart
    """The tables and charts of `r`; each chart spec as `finish` makes it (what the page sends)."""
    g, partial = r.filters.granularity, r.partial_buckets
    k = r.kpis
    fig: dict[str, dict] = {
        "refund_count": charts.refund_rate_spec(r.trend, g, False, partial),
        "refund_value": charts.refund_rate_spec(r.trend, g, True, partial, currency=r.filters.currency),
        "money": charts.money_by_outcome_spec(r.trend, g, partial, currency=r.filters.currency),
    }
    if r.cases_attributable:
        fig["request"] = charts.request_rate_spec(r.trend, g, partial)
        if r.by_reason["opened"].fillna(0).sum() > 0:
            fig["reason_share"] = charts.reason_share_spec(r.by_reason)
        if not r.reason_trend.empty:
            fig["reason_trend"] = charts.reason_trend_spec(r.reason_trend, g, partial)
            fig["reason_type"] = charts.reason_by_type_spec(r.by_reason_type)
    if r.by_reason["effective"].sum() > 0:
        fig["reason_money"] = charts.money_rate_by_reason_spec(r.by_reason)
    reason_names = r.by_reason["reason"].map(REASON_LABELS)
    if not r.exceptions_by_bucket.empty:
        fig["exc"] = charts.exceptions_by_period_spec(r.exceptions_by_bucket, g, partial)
        fig["exc_reviewer"] = charts.exceptions_by_spec(r.by_reviewer, r.by_reviewer["reviewer"])
        fig["exc_reason"] = charts.exceptions_by_spec(r.by_reason, reason_names)
    if r.has_decisions:
        fig["override"] = charts.override_spec(r.by_reviewer)
        fig["per_reviewer"] = charts.decisions_per_reviewer_spec(r.by_reviewer)
    if k.effective:
        fig["lead"] = charts.lead_time_spec(r.lead_histogram, k.lead_median, k.lead_p90)
    if r.backlog["cases"].sum():
        fig["backlog"] = charts.backlog_spec(r.backlog)
    if not r.by_version.empty:
        fig["versions"] = charts.outcome_mix_by_version_spec(r.by_version)
    tables = {
        "trend": trend_table(r),
        "reasons": reason_table(r),
        "reason_type": reason_type_table(r),
        "exc_period": exceptions_period_table(r),
        "exc_reviewer": exceptions_by_table(r.by_reviewer, "Reviewer", r.by_reviewer["reviewer"], r.filters.currency),
        "exc_reason": exceptions_by_table(r.by_reason, "Reason", reason_names, r.filters.currency),
        "exc_list": exception_list_table(r),
        "overrides": reviewer_table(r),
        "health": health_table(r),
        "backlog": backlog_table(r),
        "lead": lead_table(r),
        "close": close_table(r),
        "restated": restated_table(r),
        "versions": version_table(r),
        "sale_month": sale_month_table(r),
        "awaiting": awaiting_table(r),
        "approvals": approvals_table(r),
        "granted": granted_table(r),
    }
    note = None
    if partial:
        periods = " and ".join(period_label(b, g) for b in sorted(partial))
        note = (
            f"Hollow points and lighter bars: {periods} {'are' if len(partial) > 1 else 'is'} only partly in the "
            "range; compare rates, not counts, there."
        )
    return View({name: finish(spec) for name, spec in fig.items()}, tables, note)
