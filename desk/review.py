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
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import pandas as pd
import plotly.graph_objects as go

from desk import charts
from desk.analytics import AGE_BUCKETS, LEAD_CAPPED, Drill, Report
from desk.analytics.filters import _next_unit
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


def _days_words(lo: int | None, hi: int | None) -> str:
    if lo == hi and lo is not None:
        return "the same day" if lo == 0 else f"{lo} day{'' if lo == 1 else 's'}"
    if hi is None:
        return f"{lo or 0} days or more"
    return f"{lo or 0}–{hi} days"


def _drill_scope(d: Drill, names: Mapping[int, str]) -> str:
    what = [SERVICE_TYPE_LABELS[d.service_type] if d.service_type else "every selected service type"]
    if d.reason:
        what.append(REASON_LABELS[d.reason])
    if d.reviewer is not None:
        who = names.get(d.reviewer, f"user {d.reviewer}")
        what.append(f"assigned to {who}" if d.kind == "backlog" else f"decided by {who}")
    if d.policy_version:
        what.append(f"policy version {d.policy_version}")
    if d.currency:
        what.append(f"in {d.currency}")
    return f"({'; '.join(what)})"


def drill_title(d: Drill, names: Mapping[int, str] | None = None) -> str:
    """The cases behind a drill-down, in words (the reviewer's or the manager's name from `names`)."""
    names = names or {}
    dates = f"recorded {d.start:%d %b %Y} – {d.end:%d %b %Y}"
    outcome = f"{OUTCOME_LABELS[d.outcome].lower()} " if d.outcome else ""
    after = _days_words(d.days_from, d.days_to)
    state = APPROVAL_LABELS[d.approval].lower() if d.approval else ""
    due = "" if d.overdue is None else ", overdue" if d.overdue else ", within their due date"
    by = f" by {names.get(d.approver, f'user {d.approver}')}" if d.approver is not None else ""
    side = f" {d.direction} generous than recommended" if d.direction else ""
    titles = {
        "sale_month": f"services sold in {d.start:%B %Y} that got money back, decided at any time",
        "opened": f"cases opened {d.start:%d %b %Y} – {d.end:%d %b %Y}",
        "backlog": f"cases not closed today, opened {after} ago{due}",
        "awaiting": "decisions waiting for a manager's approval now",
        "decided": f"{outcome or 'money '}decisions {dates}",
        "effective": f"effective {outcome}decisions {dates}",
        "recorded": f"{outcome}decisions {dates}",
        "exceptions": f"discretionary exceptions{f' ({state})' if state else ''} {dates}",
        "overrides": f"overrides{side} {dates}",
        "answered": f"exceptions {state or 'approved or rejected'}{by}, {dates}",
        "lead": f"effective decisions made {after} after the case was opened, {dates}",
        "close": f"effective decisions whose case closed {after} after opening (the approval wait included), {dates}",
    }
    return f"{titles[d.kind]} {_drill_scope(d, names)}"


def filters_note(r: Report) -> str:
    """The page filters that produced a list, in words."""
    f = r.filters
    types = ", ".join(SERVICE_TYPE_LABELS[t] for t in f.service_types) or "all service types"
    reasons = ", ".join(REASON_LABELS[x] for x in f.reasons) or "all reasons"
    names = dict(zip(r.by_reviewer["decided_by_id"], r.by_reviewer["reviewer"]))
    who = ", ".join(str(names.get(i, f"user {i}")) for i in f.reviewers) or "all reviewers"
    return f"Filters: {f.start:%d %b %Y} – {f.end:%d %b %Y}; {types}; {reasons}; {who}."


CASE_STATUS_LABELS = {"open": "Open", "awaiting_approval": "Awaiting approval", "closed": "Closed"}


def drill_table(rows: pd.DataFrame) -> pd.DataFrame:
    """A drill-down's list as shown and exported: a decision per row, or (the opened cases, the backlog) a
    case per row."""
    if "decided_on" not in rows.columns:
        return pd.DataFrame(
            {
                "Case": rows["case_id"].astype("int64"),
                "Opened on": rows["opened_on"],
                "Due on": rows["due_on"],
                "Status": rows["status"].map(CASE_STATUS_LABELS).fillna(rows["status"]),
                "Assigned to": rows["assignee"].fillna("—"),
                "Service type": rows["service_type"].map(SERVICE_TYPE_LABELS),
                "Sold on": rows["purchased_on"],
                "Reason": rows["reason"].map(REASON_LABELS),
                "Requested": _amounts(rows["amount_requested_cents"], rows["currency"]),
            }
        )
    approval = rows["approval_status"].map({**APPROVAL_LABELS, "not_required": "Not needed"})
    if "superseded" in rows.columns:
        approval = approval.where(~rows["superseded"].astype(bool), approval + " (superseded)")
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
            "Approval": approval,
        }
    )


# ---- from a number to its cases: what each point and each row stands for ---------------------------------


def _period(start: date, r: Report) -> tuple[date, date]:
    return start, _next_unit(start, r.filters.granularity) - timedelta(days=1)


def _age_range(label: str) -> tuple[int | None, int | None] | None:
    for name, lo, hi in AGE_BUCKETS:
        if name == label:
            return lo, hi
    return None


def _days_range(days: int) -> tuple[int, int | None]:
    return days, (None if days >= LEAD_CAPPED else days)


def _same(a, b) -> bool:
    return str(a)[:10] == str(b)[:10] if isinstance(a, date) or _ISO_DAY.match(str(a)) else str(a) == str(b)


_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _position(trace: Mapping, axis: str, point: Mapping) -> int | None:
    """Where on `axis` of `trace` the selected `point` is: its index, when the value there is the point's
    (a heatmap's index is [row, column]), or else the first index holding the point's value. None when the
    trace has no such value (a selection made before the filters changed)."""
    values = list(trace.get(axis) or [])
    value = point.get(axis)
    index = point.get("point_index", point.get("point_number"))
    if isinstance(index, list | tuple):
        index = index[1] if axis == "x" and len(index) > 1 else index[0] if index else None
    if isinstance(index, int) and 0 <= index < len(values) and _same(values[index], value):
        return index
    return next((i for i, v in enumerate(values) if _same(v, value)), None)


_POINT_FIELDS = frozenset(f.name for f in fields(Drill)) - {"kind", "start", "end", "whole_months"}


def _from_axis(r: Report, trace: Mapping, meta: Mapping, axis: str, point: Mapping, values: dict) -> bool:
    """Set in `values` the Drill fields the point's place on `axis` gives; False if the trace has no such
    place (a selection made before the filters changed) or it names nothing known."""
    name = meta.get(axis)
    if not name:
        return True
    i = _position(trace, axis, point)
    if i is None:
        return False
    if name == "start":
        try:
            values["start"], values["end"] = _period(date.fromisoformat(str(trace[axis][i])[:10]), r)
        except ValueError:
            return False
        return True
    keys = meta.get(f"{axis}_keys") or []
    if i >= len(keys):
        return False
    key = keys[i]
    if name == "days":
        values["days_from"], values["days_to"] = _days_range(int(key))
    elif name == "age":
        found = _age_range(str(key))
        if found is None:
            return False
        values["days_from"], values["days_to"] = found
    else:
        values[name] = key
    return True


def point_drill(r: Report, spec: Mapping, point: Mapping) -> Drill | None:
    """A selected point or bar of chart `spec` -> the cases behind it, from its trace's `meta`
    (desk.charts.drill_meta) and the point's own values — not its position alone, so a point that no longer
    exists (other filters) selects nothing. None for a point that stands for no list."""
    try:
        trace = spec["data"][int(point.get("curve_number", -1))]
    except (KeyError, IndexError, ValueError, TypeError):
        return None
    meta = trace.get("meta")
    if not isinstance(meta, Mapping) or "drill" not in meta:
        return None
    values = {k: v for k, v in meta.items() if k in _POINT_FIELDS}
    values.update(start=r.filters.start, end=r.filters.end)
    if not all(_from_axis(r, trace, meta, axis, point, values) for axis in ("x", "y")):
        return None
    return Drill(str(meta["drill"]), **values)


def _rows(table: pd.DataFrame, frame: pd.DataFrame) -> list[pd.Series]:
    """The rows of `frame` behind each row of `table` (built from it, so sharing its index), in table order."""
    return [frame.loc[i] for i in table.index]


def row_drills(r: Report, tables: Mapping[str, pd.DataFrame]) -> dict[str, list[dict[str, Drill]]]:  # noqa: C901 — a step per table
    """For each table of the page, for each of its rows in order, the lists it can drill down to: {the
    column whose number it is: the Drill of the cases behind that number}, the first the default."""
    f = r.filters
    whole = (f.start, f.end)
    cases_ok = r.cases_attributable
    out: dict[str, list[dict[str, Drill]]] = {}

    def per_row(name: str, frame: pd.DataFrame, make: Callable[[pd.Series], dict[str, Drill]]) -> None:
        if name in tables:
            out[name] = [make(row) for row in _rows(tables[name], frame)]

    def trend(row) -> dict[str, Drill]:
        period = _period(_as_date(row["bucket"]), r)
        options = {
            "Money outcomes": Drill("decided", *period, row["service_type"]),
            "Credits": Drill("decided", *period, row["service_type"], outcome="credit"),
        }
        if cases_ok:
            options["Cases opened"] = Drill("opened", *period, row["service_type"])
        return options

    def sale_month(row) -> dict[str, Drill]:
        first = _as_date(row["month"])
        month = (first, _next_unit(first, "month") - timedelta(days=1))
        return {
            "Money outcomes, by sale month": Drill("sale_month", *month),
            "Money outcomes, by decision month": Drill("decided", *month, whole_months=True),
        }

    def reason(row) -> dict[str, Drill]:
        options = {
            "Decisions": Drill("effective", *whole, reason=row["reason"]),
            "Money outcomes": Drill("decided", *whole, reason=row["reason"]),
            "Full refunds": Drill("decided", *whole, reason=row["reason"], outcome="full_refund"),
            "Partial refunds": Drill("decided", *whole, reason=row["reason"], outcome="partial_refund"),
            "Credits": Drill("decided", *whole, reason=row["reason"], outcome="credit"),
        }
        if cases_ok:
            options = {"Cases opened": Drill("opened", *whole, reason=row["reason"]), **options}
        return options

    def reason_type(row) -> dict[str, Drill]:
        options = {"Decisions": Drill("effective", *whole, row["service_type"], reason=row["reason"])}
        if cases_ok:
            options = {"Cases opened": Drill("opened", *whole, row["service_type"], reason=row["reason"]), **options}
        return options

    def exceptions(period: tuple[date, date], **dims) -> dict[str, Drill]:
        options = {"Exceptions": Drill("exceptions", *period, **dims)}
        for state in ("approved", "pending", "rejected"):
            options[APPROVAL_LABELS[state]] = Drill("exceptions", *period, approval=state, **dims)
        return options

    def reviewer(row) -> dict[str, Drill]:
        who = int(row["decided_by_id"])
        return {
            "Overrides": Drill("overrides", *whole, reviewer=who),
            "More generous": Drill("overrides", *whole, reviewer=who, direction="more"),
            "Less generous": Drill("overrides", *whole, reviewer=who, direction="less"),
            "Decisions": Drill("recorded", *whole, reviewer=who),
            "Exceptions": Drill("exceptions", *whole, reviewer=who),
        }

    def health(row) -> dict[str, Drill]:
        who = int(row["decided_by_id"])
        return {
            "Decisions": Drill("recorded", *whole, reviewer=who),
            "Effective decisions": Drill("effective", *whole, reviewer=who),
        }

    def backlog(row) -> dict[str, Drill]:
        lo, hi = _age_range(row["age"]) or (None, None)
        return {
            "Open cases": Drill("backlog", *whole, days_from=lo, days_to=hi),
            "Overdue": Drill("backlog", *whole, days_from=lo, days_to=hi, overdue=True),
        }

    def lead(row) -> dict[str, Drill]:
        lo, hi = _days_range(int(row["days"]))
        return {"Decisions": Drill("lead", *whole, days_from=lo, days_to=hi)}

    def close(row) -> dict[str, Drill]:
        lo, hi = _days_range(int(row["days"]))
        return {
            "Closed (approval wait included)": Drill("close", *whole, days_from=lo, days_to=hi),
            "Decided (to the decision)": Drill("lead", *whole, days_from=lo, days_to=hi),
        }

    def version(row) -> dict[str, Drill]:
        v = str(row["policy_version"])
        return {
            "Decisions": Drill("recorded", *whole, policy_version=v),
            "Effective decisions": Drill("effective", *whole, policy_version=v),
            "Money outcomes": Drill("decided", *whole, policy_version=v),
            "Credits": Drill("decided", *whole, policy_version=v, outcome="credit"),
            "Exceptions": Drill("exceptions", *whole, policy_version=v),
            "Overrides": Drill("overrides", *whole, policy_version=v),
        }

    def answered(row) -> dict[str, Drill]:
        who = int(row["approver_id"])
        return {
            "Approved and rejected": Drill("answered", *whole, approver=who),
            "Approved": Drill("answered", *whole, approver=who, approval="approved"),
            "Rejected": Drill("answered", *whole, approver=who, approval="rejected"),
        }

    per_row("trend", r.trend, trend)
    per_row("sale_month", r.sale_months, sale_month)
    per_row("reasons", r.by_reason, reason)
    per_row("reason_type", r.by_reason_type, reason_type)
    per_row("exc_period", r.exceptions_by_bucket, lambda row: exceptions(_period(_as_date(row["bucket"]), r)))
    per_row("exc_reviewer", r.by_reviewer, lambda row: exceptions(whole, reviewer=int(row["decided_by_id"])))
    per_row("exc_reason", r.by_reason, lambda row: exceptions(whole, reason=row["reason"]))
    per_row("overrides", r.by_reviewer, reviewer)
    per_row("health", r.by_reviewer, health)
    per_row("backlog", r.backlog, backlog)
    per_row("lead", r.lead_histogram, lead)
    per_row("close", r.close_histogram if not r.close_histogram.empty else r.lead_histogram, close)
    per_row("versions", r.by_version, version)
    per_row(
        "awaiting", r.awaiting, lambda row: {"Waiting exceptions": Drill("awaiting", *whole, currency=row["currency"])}
    )
    per_row("approvals", r.approvals, answered)
    per_row(
        "granted", r.granted, lambda row: {"Effective decisions": Drill("effective", *whole, currency=row["currency"])}
    )
    return out


def _as_date(value) -> date:
    return value if isinstance(value, date) else pd.Timestamp(value).date()


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
    # per table, per row in order: {the column whose number it is: the Drill of the cases behind it}
    drills: dict[str, list[dict[str, Drill]]] = field(default_factory=dict)

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
        fig["exc_reviewer"] = charts.exceptions_by_spec(r.by_reviewer, r.by_reviewer["reviewer"], "decided_by_id")
        fig["exc_reason"] = charts.exceptions_by_spec(r.by_reason, reason_names, "reason")
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
    return View({name: finish(spec) for name, spec in fig.items()}, tables, note, row_drills(r, tables))
