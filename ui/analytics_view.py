"""Presentation helpers of the analytics page: KPI tiles with their change, the human-readable tables
(the same frame is shown and exported as CSV), and a table-with-download block.

Tables name their units in the heading — "(%)" holds percentages, "($)" dollars — so a CSV means the same
as the screen without its formatting.
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import streamlit as st

from desk.analytics import LEAD_CAPPED, Report
from ui.charts import APPROVAL_LABELS, OUTCOME_LABELS, REASON_LABELS, SERVICE_TYPE_LABELS

PCT = st.column_config.NumberColumn(format="%.2f%%")
USD = st.column_config.NumberColumn(format="dollar")
COUNT = st.column_config.NumberColumn(format="localized")


def _pct(x) -> float | None:
    return None if x is None or pd.isna(x) else round(float(x) * 100, 4)


def _usd(cents) -> float:
    return round(float(cents) / 100, 2)


def period_label(d: date, granularity: str) -> str:
    return d.strftime("%Y-%m") if granularity == "month" else f"week of {d:%Y-%m-%d}"


def days_label(days: float | None) -> str:
    if days is None:
        return "—"
    if days >= LEAD_CAPPED:
        return "31+ days"
    return f"{int(days)} day" + ("" if int(days) == 1 else "s")


# ---- KPI tiles -----------------------------------------------------------------------------------------


def _pp(now: float | None, before: float | None) -> str | None:
    if now is None or before is None:
        return None
    return f"{(now - before) * 100:+.2f} pp"


def _rel(now: float, before: float) -> str | None:
    if not before:
        return None
    return f"{(now - before) / before:+.1%}"


def kpi_tiles(r: Report) -> None:
    k, p = r.kpis, r.kpis_previous
    prev = f"{r.previous.start:%d %b %Y} – {r.previous.end:%d %b %Y}"
    vs = f"vs {prev}"

    def rate(x: float | None) -> str:
        return "—" if x is None else f"{x:.2%}"

    row1 = st.columns(5)
    row1[0].metric(
        "Refund rate (count)",
        rate(k.refund_rate),
        _pp(k.refund_rate, p.refund_rate),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help=f"{k.money:,} full refunds, partial refunds and credits decided in the period ÷ {k.sold:,} services "
        "sold in the period (of the selected service types). Credits count; see the Credits tile for them alone.",
    )
    row1[1].metric(
        "Refund rate (value)",
        rate(k.refund_value_rate),
        _pp(k.refund_value_rate, p.refund_value_rate),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help=f"${k.money_cents / 100:,.2f} refunded or credited ÷ ${k.revenue_cents / 100:,.2f} revenue of the "
        "services sold in the period.",
    )
    row1[2].metric(
        "Credits",
        rate(k.credit_rate),
        _pp(k.credit_rate, p.credit_rate),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help=f"{k.credits:,} credits for future services (${k.credit_cents / 100:,.2f}) ÷ services sold. "
        "Included in the refund rate; shown alone here.",
    )
    row1[3].metric(
        "Money granted",
        f"${k.money_cents / 100:,.0f}",
        _rel(k.money_cents, p.money_cents),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help="Full refunds + partial refunds + credits of effective decisions in the period, in dollars.",
    )
    row1[4].metric(
        "Request rate",
        rate(k.request_rate) if r.cases_attributable else "—",
        _pp(k.request_rate, p.request_rate) if r.cases_attributable else None,
        delta_color="off",
        delta_description=vs if r.cases_attributable else None,
        border=True,
        help=(
            f"{k.opened:,} cases opened in the period ÷ {k.sold:,} services sold in the period."
            if r.cases_attributable
            else "Not shown for a reviewer: a case belongs to nobody when it is opened."
        ),
    )
    row2 = st.columns(5)
    row2[0].metric(
        "Decisions",
        f"{k.decisions:,}",
        _rel(k.decisions, p.decisions),
        delta_color="off",
        delta_description=vs,
        border=True,
        help=f"Decisions recorded in the period, including {k.decisions - k.effective:,} that do not count for "
        "money (waiting for approval, rejected, or superseded).",
    )
    row2[1].metric(
        "Exceptions",
        rate(k.exception_share),
        _pp(k.exception_share, p.exception_share),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help=f"{k.exceptions:,} discretionary exceptions (an outcome outside the policy's allowed outcomes) ÷ "
        f"{k.decisions:,} decisions recorded. Money granted through approved exceptions: "
        f"${k.exception_money_cents / 100:,.2f}.",
    )
    row2[2].metric(
        "Override rate",
        rate(k.override_rate),
        _pp(k.override_rate, p.override_rate),
        delta_color="off",
        delta_description=vs,
        border=True,
        help=f"{k.overrides:,} decisions whose outcome differs from the policy's recommendation ÷ "
        f"{k.decisions:,} decisions recorded. Direction per reviewer in the Overrides tab.",
    )
    row2[3].metric(
        "Median time to decision",
        days_label(k.lead_median),
        (
            f"{k.lead_median - p.lead_median:+.0f} days"
            if k.lead_median is not None and p.lead_median is not None
            else None
        ),
        delta_color="inverse",
        delta_description=vs,
        border=True,
        help=f"Days from a case's opening to its effective decision; p90: {days_label(k.lead_p90)}. "
        f"Within the due date: {rate(k.within_due_share)} of {k.effective:,} effective decisions.",
    )
    row2[4].metric(
        "Pending approvals",
        f"{r.pending_approvals:,}",
        border=True,
        help="Exceptions waiting for a manager's approval right now (not limited to the date range).",
    )


# ---- tables --------------------------------------------------------------------------------------------


def table_with_csv(frame: pd.DataFrame, name: str, key: str, column_config: dict | None = None, **kw) -> None:
    """The table as shown, and a button that downloads exactly it as CSV."""
    config = column_config or {}
    for col in frame.columns:
        if col in config:
            continue
        if col.endswith("(%)"):
            config[col] = PCT
        elif col.endswith("($)"):
            config[col] = USD
        elif pd.api.types.is_integer_dtype(frame[col]):
            config[col] = COUNT
    st.dataframe(frame, hide_index=True, column_config=config, key=f"table_{key}", **kw)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    st.download_button(
        f"Download CSV ({len(frame):,} rows)",
        data=lambda: frame.to_csv(index=False),
        file_name=f"refund-desk-{slug}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        icon=":material/download:",
        on_click="ignore",
        disabled=frame.empty,
    )


def trend_table(r: Report) -> pd.DataFrame:
    t = r.trend
    g = r.filters.granularity
    out = pd.DataFrame(
        {
            "Period": [period_label(d, g) for d in t["bucket"]],
            "Service type": t["service_type"].map(SERVICE_TYPE_LABELS),
            "Services sold": t["sold"],
            "Revenue ($)": t["revenue_cents"] / 100,
            "Money outcomes": t["money"],
            "Refund rate (%)": (t["money"] / t["sold"].where(t["sold"] != 0)) * 100,
            "Refunded + credited ($)": t["money_cents"] / 100,
            "Value rate (%)": (t["money_cents"] / t["revenue_cents"].where(t["revenue_cents"] != 0)) * 100,
            "Credits": t["credits"],
            "Credits ($)": t["credit_cents"] / 100,
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
    out["Money ($)"] = b["money_cents"] / 100
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
            "Money through exceptions ($)": e["exception_money_cents"] / 100,
        }
    )


def exceptions_by_table(frame: pd.DataFrame, first: str, names: pd.Series) -> pd.DataFrame:
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
            "Money through exceptions ($)": d["exception_money_cents"] / 100,
        }
    ).sort_values("Exceptions", ascending=False)


def exception_list_table(r: Report) -> pd.DataFrame:
    e = r.exception_list

    def status(row) -> str:
        if row["approval_status"] == "rejected":
            return "Rejected"
        if row["superseded"]:
            return "Superseded"
        return APPROVAL_LABELS.get(row["approval_status"], row["approval_status"])

    return pd.DataFrame(
        {
            "Case": [f"/case?case={int(c)}" for c in e["case_id"]],
            "Decided on": e["decided_on"],
            "Decided by": e["decided_by"],
            "Service type": e["service_type"].map(SERVICE_TYPE_LABELS),
            "Reason": e["reason"].map(REASON_LABELS),
            "Outcome": e["outcome"].map(OUTCOME_LABELS),
            "Policy recommended": e["recommended_outcome"].map(OUTCOME_LABELS),
            "Amount ($)": e["amount_cents"] / 100,
            "Approval": [status(row) for _, row in e.iterrows()] if not e.empty else [],
            "Approver": e["approver"].fillna("—"),
            "Rationale": e["rationale"],
            "Approval note": e["approval_note"].fillna(""),
        }
    )


EXCEPTION_LIST_CONFIG = {
    "Case": st.column_config.LinkColumn("Case", help="Open the case", display_text=r"/case\?case=(\d+)", width="small"),
    "Decided on": st.column_config.DateColumn(format="YYYY-MM-DD"),
    "Rationale": st.column_config.TextColumn(width="large"),
}


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
            "Money ($)": v["money_cents"] / 100,
            "Credits": v["credits"],
            "Exceptions": v["exceptions"],
            "Exception share (%)": v["exception_share"] * 100,
            "Overrides": v["overrides"],
            "Override rate (%)": v["override_rate"] * 100,
        }
    )
