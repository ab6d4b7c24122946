"""Everything the analytics page shows, in one call: `report` runs the queries in one read transaction and
shapes them with `metrics` into a `Report`."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pandas as pd

from data.db import Database
from data.models import (
    LEAD_COLUMNS,
    REASONS,
)
from desk.analytics.filters import Filters, _next_unit, _unit_start, scope, validate
from desk.analytics.metrics import (
    Kpis,
    _int,
    _kpis,
    closing,
    in_currency,
    measures,
    money_per_currency,
    summarise,
    summarise_lead,
)
from desk.analytics.queries import (
    Timer,
    _reading,
    approvals_by_manager,
    awaiting_approval,
    backlog,
    by_sale_month,
    cases_opened,
    close_times,
    decision_states,
    exception_list,
    granted_vs_requested,
    lead_times,
    pending_approvals,
    restated_months,
    sales,
    user_names,
)
from desk.auth import Actor


@dataclass(frozen=True)
class Report:
    filters: Filters  # as scoped: a reviewer's own id is forced into `reviewers`
    previous: Filters
    today: date
    own_numbers_only: bool  # the actor is a reviewer: every number is theirs
    kpis: Kpis
    kpis_previous: Kpis
    pending_approvals: int  # right now (a snapshot)
    money_by_currency: dict[str, int]  # money granted in the period per currency (kpis: filters.currency only)
    trend: pd.DataFrame  # bucket x service_type: sold, revenue_cents, opened, decision metrics
    lead_histogram: pd.DataFrame  # days (0..31, 31 = "31 or more"), decisions (effective)
    by_reason: pd.DataFrame  # reason: opened, share_of_cases, decision metrics
    by_reason_type: pd.DataFrame  # reason x service_type: opened, decision metrics
    reason_trend: pd.DataFrame  # bucket x reason: opened
    by_reviewer: pd.DataFrame  # decided_by_id, reviewer, decision metrics, lead-time metrics
    by_version: pd.DataFrame  # policy_version: decision metrics
    exceptions_by_bucket: pd.DataFrame  # bucket: exceptions by approval status, their money, share
    exception_list: pd.DataFrame  # newest first, at most EXCEPTION_LIST_LIMIT rows
    backlog: pd.DataFrame  # age bucket: cases, overdue (a snapshot as of today)
    timings_ms: dict[str, float]
    # the monthly review (docs/metrics.md, "Approvals and money asked for")
    awaiting: pd.DataFrame = field(default_factory=pd.DataFrame)  # currency: pending, amount_cents, waits
    approvals: pd.DataFrame = field(default_factory=pd.DataFrame)  # approver: approvals, rejections, wait
    granted: pd.DataFrame = field(default_factory=pd.DataFrame)  # currency: decisions, requested, granted
    sale_months: pd.DataFrame = field(default_factory=pd.DataFrame)  # month: by sale month, by decision month
    close_histogram: pd.DataFrame = field(default_factory=pd.DataFrame)  # days (0..31), decisions: to close
    restated: pd.DataFrame = field(default_factory=pd.DataFrame)  # month: late answers and supersedes

    @property
    def partial_buckets(self) -> frozenset[date]:
        """The trend periods (months or weeks) that the date range covers only in part: the first and the
        last, unless the range starts and ends on their boundaries."""
        f, unit = self.filters, self.filters.granularity
        out = set()
        if _unit_start(f.start, unit) != f.start:
            out.add(_unit_start(f.start, unit))
        if _next_unit(_unit_start(f.end, unit), unit) - timedelta(days=1) != f.end:
            out.add(_unit_start(f.end, unit))
        return frozenset(out)

    @property
    def has_decisions(self) -> bool:
        return self.kpis.decisions > 0

    @property
    def cases_attributable(self) -> bool:
        """Opened-case numbers (request rate, reason mix) exist only without a reviewer filter: a case
        is nobody's when it is opened."""
        return not self.filters.reviewers


def report(db: Database, filters: Filters, actor: Actor, today: date) -> Report:
    """Every number of the analytics page for `filters`, scoped to what `actor` may see."""
    f = scope(validate(filters), actor)
    prev = f.previous()
    timer = Timer()
    cases_ok = not f.reviewers
    dims = ("service_type", "reason", "decided_by_id", "policy_version")
    with _reading(db) as conn:
        with timer("decisions by type, reason, reviewer, version"):
            states = decision_states(conn, f, by=dims)
        with timer("decisions by period, type and currency"):
            trend_by_currency = decision_states(conn, f, by=("bucket", "service_type", "currency"))
        with timer("decisions, previous period"):
            states_prev = decision_states(conn, prev)
        with timer("lead times by reviewer"):
            lead = lead_times(conn, f, by=("decided_by_id",))
        with timer("lead times, previous period"):
            lead_prev = lead_times(conn, prev)
        with timer("services sold by period and type"):
            trend_sales = sales(conn, f, by_bucket=True)
        with timer("services sold, previous period"):
            sold_prev = sales(conn, prev, by_bucket=False)
        with timer("cases opened by period, type and reason"):
            opened_detail = (
                cases_opened(conn, f, by=("bucket", "service_type", "reason"))
                if cases_ok
                else pd.DataFrame(columns=["bucket", "service_type", "reason", "opened"])
            )
        with timer("cases opened, every reason"):  # the reason mix's denominator ignores the reason filter
            opened_all_reasons = (
                _int(cases_opened(conn, replace(f, reasons=()))["opened"].iloc[0]) if cases_ok and f.reasons else None
            )
        with timer("cases opened, previous period"):
            opened_prev = _int(cases_opened(conn, prev)["opened"].iloc[0]) if cases_ok else None
        with timer("exception list"):
            exceptions = exception_list(conn, f)
        with timer("pending approvals"):
            pending = pending_approvals(conn, f)
        with timer("backlog"):
            ages = backlog(conn, f, today)
        with timer("users"):
            names = user_names(conn)
        with timer("money awaiting approval"):
            awaiting = awaiting_approval(conn, f, today)
        with timer("approvals per manager"):
            approvals = approvals_by_manager(conn, f)
        with timer("granted against requested"):
            granted = granted_vs_requested(conn, f)
        with timer("refund rate by sale month"):
            sale_months = by_sale_month(conn, f)
        with timer("time to close: the approval waits"):
            waited = close_times(conn, f)  # (the previous period's time to close is not shown)
        with timer("restated months"):
            restated = restated_months(conn, f, today)

    with timer("pandas: shaping"):
        trend_states = in_currency(trend_by_currency, f.currency)
        per_currency = money_per_currency(trend_by_currency)
        sold = trend_sales[["sold", "revenue_cents"]].sum().to_frame().T
        opened = int(opened_detail["opened"].sum()) if cases_ok else None
        measured = measures(states)
        close = closing(lead, waited)
        kpis = _kpis(summarise(states, measured=measured), summarise_lead(lead), sold, opened, close)
        kpis_prev = _kpis(summarise(states_prev), summarise_lead(lead_prev), sold_prev, opened_prev)
        trend = _trend(trend_states, trend_sales, opened_detail)
        by_reason, by_reason_type, reason_trend = _reasons(measured, opened_detail, opened_all_reasons)
        by_reviewer = summarise(states, ["decided_by_id"], measured=measured).merge(
            summarise_lead(lead, ["decided_by_id"]), on="decided_by_id", how="outer"
        )
        by_reviewer.insert(1, "reviewer", by_reviewer["decided_by_id"].map(names).fillna("(unknown user)"))
        by_version = summarise(states, ["policy_version"], measured=measured)
        exc = summarise(trend_states, ["bucket"])
        exc = exc[exc["exceptions"] > 0][
            ["bucket", "exceptions", "exceptions_approved", "exceptions_pending", "exceptions_rejected"]
            + ["exception_money_cents", "decisions", "exception_share"]
        ].reset_index(drop=True)
        hist = summarise_lead(lead)[list(LEAD_COLUMNS)].iloc[0].to_numpy()
        lead_hist = pd.DataFrame({"days": range(len(LEAD_COLUMNS)), "decisions": [int(x) for x in hist]})
        approvals.insert(1, "manager", approvals["approver_id"].map(names).fillna("(unknown user)"))
    return Report(
        filters=f,
        previous=prev,
        today=today,
        own_numbers_only=not actor.may("view_all_analytics"),
        kpis=kpis,
        kpis_previous=kpis_prev,
        pending_approvals=pending,
        money_by_currency=per_currency,
        trend=trend,
        lead_histogram=lead_hist,
        by_reason=by_reason,
        by_reason_type=by_reason_type,
        reason_trend=reason_trend,
        by_reviewer=by_reviewer,
        by_version=by_version,
        exceptions_by_bucket=exc,
        exception_list=exceptions,
        backlog=ages,
        timings_ms=timer.ms,
        awaiting=awaiting,
        approvals=approvals,
        granted=granted,
        sale_months=sale_months,
        close_histogram=close,
        restated=restated,
    )


def _trend(states: pd.DataFrame, sold: pd.DataFrame, opened: pd.DataFrame) -> pd.DataFrame:
    """Per bucket and service type: services sold, revenue, cases opened and the decision metrics."""
    keys = ["bucket", "service_type"]
    frames = [
        sold if not sold.empty else pd.DataFrame(columns=[*keys, "sold", "revenue_cents"]),
        summarise(states, keys),
    ]
    if not opened.empty:
        frames.append(opened.groupby(keys, as_index=False)["opened"].sum())
    for frame in frames:
        frame["bucket"] = pd.to_datetime(frame["bucket"]).dt.date
    out = frames[0]
    for frame in frames[1:]:
        out = out.merge(frame, on=keys, how="outer")
    counts = [c for c in out.columns if c not in keys and not c.endswith(("_share", "_rate"))]
    out[counts] = out[counts].fillna(0).astype("int64")
    if opened.empty:
        out["opened"] = pd.NA  # not attributable to reviewers
    return out.sort_values(keys).reset_index(drop=True)


def _reasons(
    measured: pd.DataFrame, opened: pd.DataFrame, all_reasons: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """By reason, and by reason and service type: cases opened (and their share), decision metrics; and
    cases opened per bucket and reason. ``all_reasons``: the cases opened under the same filters but every
    reason (with a reason filter), the share's denominator as docs/metrics.md defines it."""
    by_r = summarise(pd.DataFrame(), ["reason"], measured=measured)
    by_rt = summarise(pd.DataFrame(), ["reason", "service_type"], measured=measured)
    if opened.empty:
        by_r["opened"] = pd.NA
        by_r["share_of_cases"] = float("nan")
        by_rt["opened"] = pd.NA
        trend = pd.DataFrame(columns=["bucket", "reason", "opened"])
    else:
        by_r = opened.groupby("reason", as_index=False)["opened"].sum().merge(by_r, on="reason", how="outer")
        by_rt = (
            opened.groupby(["reason", "service_type"], as_index=False)["opened"]
            .sum()
            .merge(by_rt, on=["reason", "service_type"], how="outer")
        )
        for frame in (by_r, by_rt):
            counts = [
                c for c in frame.columns if c not in ("reason", "service_type") and not c.endswith(("_share", "_rate"))
            ]
            frame[counts] = frame[counts].fillna(0).astype("int64")
        total = by_r["opened"].sum() if all_reasons is None else all_reasons
        by_r["share_of_cases"] = by_r["opened"] / total if total else float("nan")
        trend = opened.groupby(["bucket", "reason"], as_index=False)["opened"].sum()
        trend["bucket"] = pd.to_datetime(trend["bucket"]).dt.date
        trend = trend.sort_values(["bucket", "reason"]).reset_index(drop=True)
    order = {r: i for i, r in enumerate(REASONS)}
    by_r = by_r.sort_values("reason", key=lambda col: col.map(order)).reset_index(drop=True)
    return by_r, by_rt, trend
