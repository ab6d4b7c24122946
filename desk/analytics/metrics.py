"""From the small frames of `queries` to the numbers of docs/metrics.md: what each decision state adds to
each metric (`measures`), the sums per grouping (`summarise`), percentiles of the day histograms, the time to
close, and the headline numbers of one period (`Kpis`). Pure pandas/numpy, no SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data.models import EFFECTIVE_APPROVAL_STATUSES as EFFECTIVE_STATUSES
from data.models import (
    LEAD_COLUMNS,
)
from desk.analytics.filters import CASH_OUTCOMES, GENEROSITY, STATE
from policy import MONEY_OUTCOMES


def summarise_lead(lead: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """decided, within_due, within_due_share, lead_median and lead_p90 (days; 31 means 31 or more)."""
    by = list(by)
    cols = ["decided", "within_due", *LEAD_COLUMNS]
    if lead.empty:
        values = np.zeros((0, len(cols)), dtype=np.int64)
        keys = pd.DataFrame(columns=by)
    else:
        values = np.nan_to_num(lead[cols].to_numpy(dtype=np.float64)).astype(np.int64)  # SUM() of nothing: NULL
        keys = lead[by]
    if by:
        key_values, sums = group_sums(keys.reset_index(drop=True), by, values)
    else:
        key_values, sums = {}, values.sum(axis=0, keepdims=True)
    columns = dict(zip(cols, sums.T))
    hist = sums[:, 2:]  # the LEAD_COLUMNS
    return pd.DataFrame(
        {
            **key_values,
            **columns,
            "within_due_share": _ratio_of(columns["within_due"], columns["decided"]),
            "lead_median": [percentile(h, 0.5) for h in hist],
            "lead_p90": [percentile(h, 0.9) for h in hist],
        }
    )


def closing(lead: pd.DataFrame, waited: pd.DataFrame) -> pd.DataFrame:
    """The time to close including the approval wait, from the time to decision (`summarise_lead(lead)`,
    every effective decision) and the decisions that waited (`close_times`): those move from their decision
    day to their close day in the histogram. One row: closed, closed_within_due, closed_within_due_share,
    close_median, close_p90 (days; 31 means 31 or more)."""
    base = summarise_lead(lead)
    hist = base[list(LEAD_COLUMNS)].iloc[0].to_numpy(dtype=np.int64).copy()
    within = int(base["within_due"].iloc[0])
    if not waited.empty:
        n = waited["n"].to_numpy(dtype=np.int64)
        np.subtract.at(hist, waited["decision_days"].to_numpy(dtype=np.int64), n)
        np.add.at(hist, waited["close_days"].to_numpy(dtype=np.int64), n)
        within += int((n * (waited["closed_within"].to_numpy() - waited["decided_within"].to_numpy())).sum())
    hist = np.maximum(hist, 0)
    closed = int(base["decided"].iloc[0])
    out = pd.DataFrame({"days": range(len(LEAD_COLUMNS)), "decisions": hist})
    out.attrs.update(
        closed=closed,
        closed_within_due=within,
        closed_within_due_share=within / closed if closed else None,
        close_median=percentile(hist, 0.5),
        close_p90=percentile(hist, 0.9),
        waited=int(waited["n"].sum()) if not waited.empty else 0,
    )
    return out


def in_currency(states: pd.DataFrame, currency: str) -> pd.DataFrame:
    """`decision_states` rows per currency -> the same rows with the amounts of `currency` only (the other
    currencies' rows keep their counts, their amounts become 0)."""
    out = states.copy()
    if not out.empty:
        out["amount_cents"] = np.where(out["currency"] == currency, out["amount_cents"].fillna(0), 0)
    return out


def money_per_currency(states: pd.DataFrame) -> dict[str, int]:
    """Money granted (amounts of effective money decisions) per currency, from `decision_states` rows per
    currency: how the page shows amounts of several currencies together — side by side, never summed."""
    if states.empty:
        return {}
    per = summarise(states, ["currency"])
    per = per[(per["money"] > 0) & (per["currency"] != "")]  # '': amounts of 0 (see migration 0004)
    return {str(c): int(v) for c, v in zip(per["currency"], per["money_cents"])}


# ---- from decision states to metrics ---------------------------------------------------------------------


def _int(x: Any) -> int:
    return int(x) if x is not None and not pd.isna(x) else 0


MEASURES = (
    "decisions",
    "effective",
    "money",
    "money_cents",
    "refunds",
    "refund_cents",
    "full_refunds",
    "full_refund_cents",
    "partial_refunds",
    "partial_refund_cents",
    "credits",
    "credit_cents",
    "fixes",
    "denials",
    "pending",
    "exceptions",
    "exceptions_approved",
    "exceptions_pending",
    "exceptions_rejected",
    "exception_money_cents",
    "overrides",
    "more_generous",
    "less_generous",
)


def measures(states: pd.DataFrame) -> pd.DataFrame:
    """Per `decision_states` row, what it adds to each metric (the columns of MEASURES), with the row's
    dimension columns kept. The definitions of docs/metrics.md, in one place."""
    d = states
    key_columns = [c for c in d.columns if c not in STATE and c not in ("decisions", "amount_cents")]
    if d.empty:
        return pd.DataFrame(columns=[*key_columns, *MEASURES])
    n = d["decisions"].to_numpy(dtype=np.int64)
    amount = d["amount_cents"].to_numpy(dtype=np.int64)
    outcome = d["outcome"].to_numpy(dtype=object)
    advised = d["recommended_outcome"].to_numpy(dtype=object)
    approval = d["approval_status"].to_numpy(dtype=object)
    superseded = d["superseded"].to_numpy().astype(bool)
    exc = d["is_exception"].to_numpy().astype(bool)
    effective = ~superseded & np.isin(approval, EFFECTIVE_STATUSES)
    money = effective & np.isin(outcome, MONEY_OUTCOMES)
    cash = effective & np.isin(outcome, CASH_OUTCOMES)

    def outcome_is(o: str) -> np.ndarray:
        return effective & (outcome == o)

    rank = {o: i for i, o in enumerate(GENEROSITY)}
    given = np.array([rank[o] for o in outcome])
    recommended = np.array([rank[o] for o in advised])
    values = {
        "decisions": n,
        "effective": n * effective,
        "money": n * money,
        "money_cents": amount * money,
        "refunds": n * cash,
        "refund_cents": amount * cash,
        "full_refunds": n * outcome_is("full_refund"),
        "full_refund_cents": amount * outcome_is("full_refund"),
        "partial_refunds": n * outcome_is("partial_refund"),
        "partial_refund_cents": amount * outcome_is("partial_refund"),
        "credits": n * outcome_is("credit"),
        "credit_cents": amount * outcome_is("credit"),
        "fixes": n * outcome_is("fix"),
        "denials": n * outcome_is("deny"),
        "pending": n * ((approval == "pending") & ~superseded),
        "exceptions": n * exc,
        "exceptions_approved": n * (exc & (approval == "approved")),
        "exceptions_pending": n * (exc & (approval == "pending")),
        "exceptions_rejected": n * (exc & (approval == "rejected")),
        "exception_money_cents": amount * (exc & money),
        "overrides": n * (given != recommended),
        "more_generous": n * (given > recommended),
        "less_generous": n * (given < recommended),
    }
    return pd.concat([d[key_columns].reset_index(drop=True), pd.DataFrame(values)], axis=1)


def summarise(states: pd.DataFrame, by: Sequence[str] = (), *, measured: pd.DataFrame | None = None) -> pd.DataFrame:
    """The decision metrics of docs/metrics.md from `decision_states` rows, per `by` (one row if empty).

    Counts: decisions (recorded), effective, money, money_cents, refunds (cash: full + partial),
    refund_cents, full_refunds, full_refund_cents, partial_refunds, partial_refund_cents, credits,
    credit_cents, fixes, denials (all of effective decisions), pending, exceptions, exceptions_approved,
    exceptions_pending, exceptions_rejected, exception_money_cents, overrides, more_generous,
    less_generous. Rates: money_share (of effective decisions), exception_share and override_rate (of
    decisions recorded). Pass `measured=measures(states)` to reuse it across several groupings.
    """
    by = list(by)
    parts = measures(states) if measured is None else measured
    values = parts[list(MEASURES)].to_numpy(dtype=np.int64)
    if by:
        keys, sums = group_sums(parts, by, values)
    else:
        keys, sums = {}, values.sum(axis=0, keepdims=True)
    columns = dict(zip(MEASURES, sums.T))
    ratios = {
        "money_share": _ratio_of(columns["money"], columns["effective"]),
        "exception_share": _ratio_of(columns["exceptions"], columns["decisions"]),
        "override_rate": _ratio_of(columns["overrides"], columns["decisions"]),
    }
    return pd.DataFrame({**keys, **columns, **ratios})


def group_sums(frame: pd.DataFrame, by: Sequence[str], values: np.ndarray) -> tuple[dict[str, Any], np.ndarray]:
    """The rows of `values` (one per row of `frame`, int64 columns) summed per distinct `by` of `frame`, as
    `frame.groupby(by, sort=True)[...].sum()` gives them (groups in key order; rows with a missing key left
    out), in numpy: a pandas groupby costs 5-10 ms whatever the size, and a report makes a dozen. Returns
    ({key column: its values per group}, sums per group)."""
    codes, uniques = [], []
    for column in by:
        c, u = pd.factorize(frame[column], sort=True)
        codes.append(c)
        uniques.append(u)
    keep = np.ones(len(frame), dtype=bool)
    flat = np.zeros(len(frame), dtype=np.int64)
    for c, u in zip(codes, uniques):  # one number per key combination, in the keys' sort order
        keep &= c >= 0
        flat = flat * max(len(u), 1) + c
    groups, inverse = np.unique(flat[keep], return_inverse=True)
    sums = np.zeros((len(groups), values.shape[1]), dtype=np.int64)
    np.add.at(sums, inverse.reshape(-1), values[keep])
    keys: dict[str, Any] = {}
    rest = groups
    for column, u in reversed(list(zip(by, uniques))):
        keys[column] = u.take(rest % max(len(u), 1))
        rest = rest // max(len(u), 1)
    return {column: keys[column] for column in by}, sums


def _ratio_of(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den as float64, NaN where den is 0."""
    n, d = num.astype(np.float64), den.astype(np.float64)
    return n / np.where(d != 0, d, np.nan)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / den, NaN where den is 0 (or missing). In numpy: a dozen pandas steps per ratio added up."""
    n = num.to_numpy(dtype="float64", na_value=np.nan)
    d = den.to_numpy(dtype="float64", na_value=np.nan)
    return pd.Series(n / np.where(d != 0, d, np.nan), index=num.index, dtype="float64")


def percentile(histogram: Sequence[int], q: float) -> float | None:
    """Nearest-rank percentile of a day histogram (index = days): the smallest day by which at least a
    share q of the decisions were made. None when there are none."""
    total = sum(int(x) for x in histogram)
    if total <= 0:
        return None
    need, seen = q * total, 0
    for day, count in enumerate(histogram):
        seen += int(count)
        if seen >= need:
            return float(day)
    return float(len(histogram) - 1)


# ---- the report: everything the page shows, in one call --------------------------------------------------


@dataclass(frozen=True)
class Kpis:
    """The headline numbers of one period (see docs/metrics.md)."""

    sold: int
    revenue_cents: int
    opened: int | None  # None when a reviewer filter applies (cases are not attributed to reviewers)
    decisions: int
    effective: int
    money: int
    money_cents: int
    refunds: int  # cash: full + partial refunds
    refund_cents: int
    credits: int
    credit_cents: int
    exceptions: int
    exception_money_cents: int
    overrides: int
    within_due: int
    lead_median: float | None
    lead_p90: float | None
    # time to close including the approval wait (docs/metrics.md, "Time to close")
    closed_within_due: int = 0
    close_median: float | None = None
    close_p90: float | None = None
    waited_for_approval: int = 0  # effective decisions that waited for a manager

    @staticmethod
    def _rate(num: int | None, den: int) -> float | None:
        return num / den if den and num is not None else None

    @property
    def refund_rate(self) -> float | None:
        return self._rate(self.money, self.sold)

    @property
    def refund_value_rate(self) -> float | None:
        return self._rate(self.money_cents, self.revenue_cents)

    @property
    def cash_refund_rate(self) -> float | None:
        """Full and partial refunds only (no credits) ÷ services sold."""
        return self._rate(self.refunds, self.sold)

    @property
    def cash_refund_value_rate(self) -> float | None:
        return self._rate(self.refund_cents, self.revenue_cents)

    @property
    def credit_rate(self) -> float | None:
        return self._rate(self.credits, self.sold)

    @property
    def credit_value_rate(self) -> float | None:
        return self._rate(self.credit_cents, self.revenue_cents)

    @property
    def request_rate(self) -> float | None:
        return self._rate(self.opened, self.sold)

    @property
    def exception_share(self) -> float | None:
        return self._rate(self.exceptions, self.decisions)

    @property
    def override_rate(self) -> float | None:
        return self._rate(self.overrides, self.decisions)

    @property
    def within_due_share(self) -> float | None:
        return self._rate(self.within_due, self.effective)

    @property
    def money_share(self) -> float | None:
        return self._rate(self.money, self.effective)

    @property
    def closed_within_due_share(self) -> float | None:
        """Effective decisions whose case closed (the approval included) by its due date ÷ effective decisions."""
        return self._rate(self.closed_within_due, self.effective)


def _kpis(
    summary: pd.DataFrame, lead: pd.DataFrame, sold: pd.DataFrame, opened: int | None, close: pd.DataFrame | None = None
) -> Kpis:
    s, t = summary.iloc[0], lead.iloc[0]
    c = close.attrs if close is not None else {}
    return Kpis(
        sold=_int(sold["sold"].iloc[0]) if not sold.empty else 0,
        revenue_cents=_int(sold["revenue_cents"].iloc[0]) if not sold.empty else 0,
        opened=opened,
        decisions=_int(s["decisions"]),
        effective=_int(s["effective"]),
        money=_int(s["money"]),
        money_cents=_int(s["money_cents"]),
        refunds=_int(s["refunds"]),
        refund_cents=_int(s["refund_cents"]),
        credits=_int(s["credits"]),
        credit_cents=_int(s["credit_cents"]),
        exceptions=_int(s["exceptions"]),
        exception_money_cents=_int(s["exception_money_cents"]),
        overrides=_int(s["overrides"]),
        within_due=_int(t["within_due"]),
        lead_median=None if pd.isna(t["lead_median"]) else float(t["lead_median"]),
        lead_p90=None if pd.isna(t["lead_p90"]) else float(t["lead_p90"]),
        closed_within_due=int(c.get("closed_within_due", 0)),
        close_median=c.get("close_median"),
        close_p90=c.get("close_p90"),
        waited_for_approval=int(c.get("waited", 0)),
    )
