"""One look for every chart: a colour per outcome, per service type, per reason and per approval state,
defined once here, plus the Plotly figures of the analytics page (graph_objects: fast to build, no
validation surprises). A colour means the same thing on every chart of the app.

Figures take the small frames of desk.analytics.Report; money arrives in minor units of one currency (the
report's currency filter) and leaves in that currency's major units, labelled with its symbol.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date
from functools import wraps
from typing import Any, ParamSpec

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import plotly.io as pio

# The labels are the app's one vocabulary (policy/vocabulary.py); re-exported here for the chart code.
from desk.money import DEFAULT_CURRENCY, currency_symbol, minor_digits
from policy.vocabulary import OUTCOME_LABELS, REASON_LABELS, REASONS, SERVICE_TYPE_LABELS, SERVICE_TYPES

# ---- colours (the labels are policy/vocabulary.py's) ---------------------------------------------------

OUTCOME_COLORS = {
    "full_refund": "#D1495B",  # red: the most money back
    "partial_refund": "#F08A24",  # orange
    "credit": "#2A9D8F",  # teal: value kept in the company
    "fix": "#4C78A8",  # blue: work, not money
    "deny": "#9E9E9E",  # grey: nothing
}
SERVICE_TYPE_ORDER = SERVICE_TYPES
SERVICE_TYPE_COLORS = {
    "technical_support": "#6F4E9C",  # purple
    "software_update": "#8CA252",  # olive
    "online_service": "#9C755F",  # brown
    "subscription": "#EDC948",  # yellow
}
TOTAL_COLOR = "#262730"  # "all selected service types": the ink colour, dashed
NEUTRAL_COLOR = "#6B7B8C"  # a bar that is no outcome, service type or state
REASON_ORDER = REASONS
REASON_COLORS = {
    "our_error": "#1F77B4",
    "technical_issue": "#17BECF",
    "billing_error": "#BCBD22",
    "user_error": "#8C564B",
    "changed_requirements": "#E377C2",
    "usage_after_completion": "#7F7F7F",
    "unused_subscription": "#9467BD",
    "dissatisfied": "#FF9896",
}
APPROVAL_LABELS = {"approved": "Approved", "pending": "Pending", "rejected": "Rejected"}
# States that are not outcomes use shades of slate, so no hue on the page ever means two things.
APPROVAL_COLORS = {"approved": "#3D4B5C", "pending": "#98A6B7", "rejected": "#D3D9E0"}
DIRECTION_COLORS = {"more": "#7B2D3B", "less": "#2F4B7C"}  # dark wine / navy: towards refunds / towards deny
DUE_COLORS = {"within": "#98A6B7", "overdue": "#262730"}

HEIGHT = 340
# Plotly's "Blues" as the stops its validation makes of the name (the specs are sent unvalidated)
BLUES = [[stop, color] for stop, color in plotly.colors.make_colorscale(plotly.colors.sequential.Blues)]
FONT = "Source Sans Pro, sans-serif"


# Figures are built as plain dicts (`*_spec`): what the page sends to the browser as it is (`finished`), with
# no Plotly validation, which took most of a cold render's chart time (a dozen figures, ~20 ms each, then
# `to_dict()` copying them again). The `*_chart` functions return the same figure validated, as a
# go.Figure (the HTML report draws those; tests read their attributes).

Spec = dict[str, Any]


def _figure(
    traces: list[dict],
    *,
    y_title: str | None,
    y_format: str | None = None,
    x_title: str | None = None,
    xaxis: dict | None = None,
    yaxis: dict | None = None,
    **layout,
) -> Spec:
    fig = {
        "data": traces,
        "layout": {
            "height": HEIGHT,
            "margin": {"l": 10, "r": 10, "t": 30, "b": 10},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0},
            "font": {"family": FONT},
            "hoverlabel": {"namelength": -1},
            "xaxis": {"title": {"text": x_title}, "automargin": True, **(xaxis or {})},
            "yaxis": {
                "title": {"text": y_title},
                "tickformat": y_format,
                "rangemode": "tozero",
                "automargin": True,
                **(yaxis or {}),
            },
            **layout,
        },
    }
    _integer_ticks(fig)
    return fig


def integer_dtick(top: float) -> int:
    """A whole-number tick step for a count axis reaching ``top``: 1, 2, 5, 10, 20, 50, ... giving at most
    about six ticks, so a small count never gets ticks like 0, 0.5, 1 (shown as 0, 1, 1 with a ",d" format)."""
    step = 1
    while top / step > 6:
        for factor in (2, 2.5, 2):  # 1 -> 2 -> 5 -> 10 -> 20 -> 50 -> 100 ...
            step = int(step * factor)
            if top / step <= 6:
                break
    return step


def _integer_ticks(fig: dict) -> None:
    """Give every count axis (tickformat ",d") a whole-number tick step from the data it shows (stacked
    traces summed), unless the figure sets its own ticks."""
    layout = fig["layout"]
    for axis, value_key, ref_key in (("xaxis", "x", "xaxis"), ("yaxis", "y", "yaxis")):
        spec = layout.get(axis) or {}
        if spec.get("tickformat") != ",d" or "dtick" in spec or "tickvals" in spec:
            continue
        other = "y" if value_key == "x" else "x"
        stacked = layout.get("barmode") in ("stack", "relative")
        totals: dict = {}
        for trace in fig["data"]:
            if trace.get(ref_key, value_key) != value_key:  # a trace on a secondary axis
                continue
            horizontal = trace.get("orientation") == "h"
            if (value_key == "x") != horizontal and trace.get("type") == "bar":
                continue  # this axis holds the bars' categories, not their values
            for cat, v in zip(trace.get(other) or [], trace.get(value_key) or []):
                if not isinstance(v, int | float) or v != v:  # None or NaN
                    continue
                before = totals.get(cat, 0)
                totals[cat] = before + max(v, 0) if stacked and trace.get("type") == "bar" else max(before, v)
        top = max(totals.values(), default=0)
        spec.update({"tick0": 0, "dtick": integer_dtick(top)})
        layout[axis] = spec


def _date_axis(granularity: str) -> dict:
    return {
        "tickformat": "%b %Y" if granularity == "month" else "%d %b %Y",
        "hoverformat": "%B %Y" if granularity == "month" else "week of %d %b %Y",
    }


def _list(values) -> list:
    return list(values.tolist() if hasattr(values, "tolist") else values)


def drill_meta(kind: str, *, x: str | None = None, y: str | None = None, x_keys=None, y_keys=None, **fields) -> dict:
    """A trace's `meta`: what a selected point of it stands for, read by desk.review.point_drill. `kind` and
    `fields` are the desk.analytics.Drill it lists (one kind of cases, narrowed by e.g. a service type);
    `x`/`y` name the Drill field the point's position on that axis gives — "start" for a period axis (the
    value is the period's first day), otherwise `x_keys`/`y_keys` hold the field's value for each of the
    trace's x/y values (a reviewer's id for their name, a reason's code for its label)."""
    meta: dict = {"drill": kind, **{k: v for k, v in fields.items() if v is not None}}
    for axis, name, keys in (("x", x, x_keys), ("y", y, y_keys)):
        if name:
            meta[axis] = name
            if keys is not None:
                meta[f"{axis}_keys"] = _list(keys)
    return meta


# Partial periods (the range covers only some of their days) are drawn lighter (bars) or hollow (points),
# so a short first month does not read as a collapse.
Partial = frozenset


def _bar_marker(color: str, xs, partial: Partial) -> dict:
    return {"color": color, "opacity": [0.4 if x in partial else 1.0 for x in xs]} if partial else {"color": color}


def _approval_marker(status: str, xs, partial: Partial) -> dict:
    marker = _bar_marker(APPROVAL_COLORS[status], xs, partial)
    if status == "rejected":
        marker["pattern"] = {"shape": "/", "fgcolor": APPROVAL_COLORS["approved"], "size": 6}
    return marker


def _point_marker(color: str, xs, partial: Partial, size: int = 5) -> dict:
    symbols = ["circle-open" if x in partial else "circle" for x in xs]
    return {"size": size, "color": color, "symbol": symbols}


# ---- refund rates ------------------------------------------------------------------------------------------


def _rate_line(
    x, num, den, name: str, color: str, what: str, money: bool, partial: Partial, meta: dict, dash: bool = False
) -> dict:
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    scale, digits = (100.0, 2) if money else (1.0, 0)
    return {
        "type": "scatter",
        "x": _list(x),
        "y": _list(num / np.where(den != 0, den, np.nan)),
        "name": name,
        "mode": "lines" if dash else "lines+markers",
        "line": {"color": color, "width": 2, **({"dash": "dash"} if dash else {})},
        "marker": _point_marker(color, _list(x), partial),
        "customdata": [[a, b] for a, b in zip(_list(num / scale), _list(den / scale))],
        "hovertemplate": f"%{{y:.2%}} — %{{customdata[0]:,.{digits}f}} {what} of %{{customdata[1]:,.{digits}f}}"
        f"<extra>{name}</extra>",
        "meta": meta,  # what a selected point stands for (drill_meta)
    }


def _rate_lines(
    trend: pd.DataFrame,
    num: str,
    den: str,
    granularity: str,
    partial: Partial,
    *,
    y_title: str,
    what: str,
    drill: str,
    money: bool = False,
) -> Spec:
    """A rate per service type over time, plus the rate of all selected types together (dashed)."""
    traces = []
    # in numpy: a dozen boolean selections and a groupby of the trend frame cost more than the figure
    types = trend["service_type"].to_numpy(dtype=object)
    buckets = trend["bucket"].to_numpy(dtype=object)
    nums = trend[num].to_numpy(dtype=np.float64, na_value=np.nan)
    dens = trend[den].to_numpy(dtype=np.float64, na_value=np.nan)
    for st_ in SERVICE_TYPE_ORDER:
        mine = types == st_
        if not mine.any() or np.nansum(dens[mine]) == 0:
            continue
        traces.append(
            _rate_line(
                buckets[mine],
                nums[mine],
                dens[mine],
                SERVICE_TYPE_LABELS[st_],
                SERVICE_TYPE_COLORS[st_],
                what,
                money,
                partial,
                meta=drill_meta(drill, x="start", service_type=st_),
            )
        )
    codes, periods = pd.factorize(buckets, sort=True)  # the periods in order, as a groupby would sum them
    keep = codes >= 0
    sums = np.zeros((len(periods), 2))
    np.add.at(sums, codes[keep], np.nan_to_num(np.column_stack([nums, dens])[keep]))  # NaN counts as 0
    if len(periods) and sums[:, 1].sum():
        traces.append(
            _rate_line(
                np.asarray(periods, dtype=object),
                sums[:, 0],
                sums[:, 1],
                "All selected types",
                TOTAL_COLOR,
                what,
                money,
                partial,
                meta=drill_meta(drill, x="start"),
                dash=True,
            )
        )
    return _figure(traces, y_title=y_title, y_format=".1%", hovermode="x unified", xaxis=_date_axis(granularity))


def refund_rate_spec(
    trend: pd.DataFrame,
    granularity: str,
    by_value: bool,
    partial: Partial = frozenset(),
    currency: str = DEFAULT_CURRENCY,
) -> Spec:
    if by_value:
        return _rate_lines(
            trend,
            "money_cents",
            "revenue_cents",
            granularity,
            partial,
            y_title=f"Refunded value (% of {currency} revenue)",
            what=f"{currency} refunded or credited",
            drill="decided",
            money=True,
        )
    return _rate_lines(
        trend,
        "money",
        "sold",
        granularity,
        partial,
        y_title="Refund rate (% of services sold)",
        what="refunds and credits",
        drill="decided",
    )


def request_rate_spec(trend: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> Spec:
    return _rate_lines(
        trend,
        "opened",
        "sold",
        granularity,
        partial,
        y_title="Request rate (% of services sold)",
        what="cases opened",
        drill="opened",
    )


MONEY_PARTS = (
    ("full_refund", "full_refund_cents", "full_refunds"),
    ("partial_refund", "partial_refund_cents", "partial_refunds"),
    ("credit", "credit_cents", "credits"),
)
OUTCOME_COUNTS = (
    ("full_refund", "full_refunds"),
    ("partial_refund", "partial_refunds"),
    ("credit", "credits"),
    ("fix", "fixes"),
    ("deny", "denials"),
)


def money_by_outcome_spec(
    trend: pd.DataFrame, granularity: str, partial: Partial = frozenset(), currency: str = DEFAULT_CURRENCY
) -> Spec:
    """Money granted per period in `currency`, stacked by outcome: full refunds, partial refunds, credits."""
    symbol, scale = currency_symbol(currency), 10 ** minor_digits(currency)
    cols = [c for _, cents, count in MONEY_PARTS for c in (cents, count)]
    per = trend.groupby("bucket", as_index=False)[cols].sum()
    traces = [
        {
            "type": "bar",
            "x": _list(per["bucket"]),
            "y": _list(per[cents] / scale),
            "name": OUTCOME_LABELS[outcome],
            "marker": _bar_marker(OUTCOME_COLORS[outcome], _list(per["bucket"]), partial),
            "customdata": _list(per[count]),
            "hovertemplate": symbol
            + "%{y:,.2f} in %{customdata:,} decisions<extra>"
            + OUTCOME_LABELS[outcome]
            + "</extra>",
            "meta": drill_meta("decided", x="start", outcome=outcome),  # what a selected bar stands for
        }
        for outcome, cents, count in MONEY_PARTS
    ]
    return _figure(
        traces,
        y_title=f"Money granted ({currency})",
        y_format=",.0f",
        yaxis={"tickprefix": symbol},
        barmode="stack",
        hovermode="x unified",
        xaxis=_date_axis(granularity),
    )


# ---- reasons -----------------------------------------------------------------------------------------------


def _reason_yaxis(reasons) -> dict:
    return {
        "categoryorder": "array",
        "categoryarray": [REASON_LABELS.get(r, r) for r in reversed(_list(reasons))],
        "title": {"text": None},
    }


def reason_share_spec(by_reason: pd.DataFrame) -> Spec:
    d = by_reason[by_reason["opened"].fillna(0) > 0]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": _list(d["share_of_cases"]),
        "y": [REASON_LABELS.get(r, r) for r in d["reason"]],
        "marker": {"color": NEUTRAL_COLOR},  # reasons are named on the axis; colours stay for outcomes
        "customdata": _list(d["opened"].astype("int64")),
        "hovertemplate": "%{x:.1%} of cases opened (%{customdata:,})<extra>%{y}</extra>",
        "meta": drill_meta("opened", y="reason", y_keys=d["reason"]),
    }
    return _figure(
        [trace],
        y_title=None,
        showlegend=False,
        yaxis=_reason_yaxis(d["reason"]),
        xaxis={"title": {"text": "Share of cases opened (%)"}, "tickformat": ".0%", "rangemode": "tozero"},
    )


def money_rate_by_reason_spec(by_reason: pd.DataFrame) -> Spec:
    """Of the effective decisions for each reason, the share that gave money back, split by outcome."""
    d = by_reason[by_reason["effective"] > 0]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "x": _list(d[col] / d["effective"]),
            "y": [REASON_LABELS.get(r, r) for r in d["reason"]],
            "name": OUTCOME_LABELS[outcome],
            "marker": {"color": OUTCOME_COLORS[outcome]},
            "customdata": [[a, b] for a, b in zip(_list(d[col]), _list(d["effective"]))],
            "hovertemplate": "%{x:.1%} — %{customdata[0]:,} of %{customdata[1]:,} decisions<extra>"
            + OUTCOME_LABELS[outcome]
            + "</extra>",
            "meta": drill_meta("decided", y="reason", y_keys=d["reason"], outcome=outcome),
        }
        for outcome, col in OUTCOME_COUNTS[:3]
    ]
    return _figure(
        traces,
        y_title=None,
        barmode="stack",
        yaxis=_reason_yaxis(d["reason"]),
        xaxis={"title": {"text": "Money outcome rate (% of decisions)"}, "tickformat": ".0%", "rangemode": "tozero"},
    )


def reason_trend_spec(reason_trend: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> Spec:
    traces = []
    for reason in REASON_ORDER:
        d = reason_trend[reason_trend["reason"] == reason]
        if d.empty:
            continue
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "x": _list(d["bucket"]),
                "y": _list(d["opened"]),
                "name": REASON_LABELS[reason],
                "line": {"color": REASON_COLORS[reason], "width": 2},
                "marker": _point_marker(REASON_COLORS[reason], _list(d["bucket"]), partial, size=4),
                "hovertemplate": "%{y:,} cases<extra>" + REASON_LABELS[reason] + "</extra>",
                "meta": drill_meta("opened", x="start", reason=reason),
            }
        )
    return _figure(traces, y_title="Cases opened", y_format=",d", hovermode="x unified", xaxis=_date_axis(granularity))


def reason_by_type_spec(by_reason_type: pd.DataFrame) -> Spec:
    """Heatmap: for each service type (column), the share of its cases opened for each reason."""
    d = by_reason_type[by_reason_type["opened"].fillna(0) > 0]
    types = [t for t in SERVICE_TYPE_ORDER if t in set(d["service_type"])]
    reasons = [r for r in REASON_ORDER if r in set(d["reason"])]
    counts = d.groupby(["reason", "service_type"])["opened"].sum().unstack(fill_value=0)
    counts = counts.reindex(index=reasons, columns=types, fill_value=0).astype("int64")
    share = counts / counts.sum(axis=0).replace(0, float("nan"))
    trace = {
        "type": "heatmap",
        "z": share.to_numpy().tolist(),
        "x": [SERVICE_TYPE_LABELS[t] for t in types],
        "y": [REASON_LABELS[r] for r in reasons],
        "customdata": counts.to_numpy().tolist(),
        "colorscale": BLUES,
        "zmin": 0,
        "colorbar": {"title": {"text": "% of type"}, "tickformat": ".0%"},
        "texttemplate": "%{z:.0%}",
        "hovertemplate": "%{y} — %{z:.1%} of %{x} cases (%{customdata:,})<extra></extra>",
        "meta": drill_meta("opened", x="service_type", x_keys=types, y="reason", y_keys=reasons),
    }
    return _figure([trace], y_title=None, height=HEIGHT + 40, yaxis={"autorange": "reversed", "rangemode": None})


# ---- exceptions ------------------------------------------------------------------------------------------


def exceptions_by_period_spec(exc: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> Spec:
    traces = [
        {
            "type": "bar",
            "x": _list(exc["bucket"]),
            "y": _list(exc[f"exceptions_{status}"]),
            "name": APPROVAL_LABELS[status],
            "marker": _approval_marker(status, _list(exc["bucket"]), partial),
            "hovertemplate": "%{y:,} exceptions<extra>" + APPROVAL_LABELS[status] + "</extra>",
            "meta": drill_meta("exceptions", x="start", approval=status),
        }
        for status in ("approved", "pending", "rejected")
    ]
    traces.append(
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": _list(exc["bucket"]),
            "y": _list(exc["exception_share"]),
            "name": "Share of decisions",
            "yaxis": "y2",
            "line": {"color": TOTAL_COLOR, "dash": "dot"},
            "marker": _point_marker(TOTAL_COLOR, _list(exc["bucket"]), partial),
            "hovertemplate": "%{y:.2%} of decisions<extra>Share</extra>",
            "meta": drill_meta("exceptions", x="start"),
        }
    )
    return _figure(
        traces,
        y_title="Exceptions",
        y_format=",d",
        barmode="stack",
        hovermode="x unified",
        xaxis=_date_axis(granularity),
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "tickformat": ".1%",
            "title": {"text": "Share of decisions (%)"},
            "rangemode": "tozero",
            "showgrid": False,
            "tickmode": "auto",
            "nticks": 5,
        },
    )


def exceptions_by_spec(frame: pd.DataFrame, names: pd.Series, key: str | None = None) -> Spec:
    """Exceptions per reviewer or per reason (`names`, aligned with `frame`), stacked by approval state;
    `key`: the column of `frame` a bar stands for ("decided_by_id" or "reason"), for the drill-down."""
    d = frame[frame["exceptions"] > 0].sort_values("exceptions")
    field = "reviewer" if key == "decided_by_id" else key
    ys = _list(names.loc[d.index])
    custom = [[a, b] for a, b in zip(_list(d["exception_share"]), _list(d["decisions"]))]
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "x": _list(d[f"exceptions_{status}"]),
            "y": ys,
            "name": APPROVAL_LABELS[status],
            "marker": _approval_marker(status, ys, frozenset()),
            "customdata": custom,
            "hovertemplate": "%{x:,} "
            + APPROVAL_LABELS[status].lower()
            + " — all exceptions are %{customdata[0]:.2%} of %{customdata[1]:,} decisions<extra>%{y}</extra>",
            "meta": drill_meta("exceptions", y=field, y_keys=d[key], approval=status) if key else None,
        }
        for status in ("approved", "pending", "rejected")
    ]
    return _figure(
        traces,
        y_title=None,
        barmode="stack",
        xaxis={"title": {"text": "Exceptions"}, "tickformat": ",d"},
        yaxis={"type": "category"},
    )


# ---- overrides -------------------------------------------------------------------------------------------


def override_spec(by_reviewer: pd.DataFrame) -> Spec:
    """Diverging bars: per reviewer, the share of decisions less generous (left) and more generous (right)
    than the policy's recommendation."""
    d = by_reviewer[by_reviewer["decisions"] > 0].sort_values("override_rate")
    more = d["more_generous"] / d["decisions"]
    less = d["less_generous"] / d["decisions"]

    def bar(values, counts, side: str, sign: int) -> dict:
        return {
            "type": "bar",
            "orientation": "h",
            "x": _list(values * sign),
            "y": _list(d["reviewer"]),
            "name": f"{side.title()} generous than recommended",
            "marker": {"color": DIRECTION_COLORS[side]},
            "customdata": [[a, b, c] for a, b, c in zip(_list(values), _list(counts), _list(d["decisions"]))],
            "hovertemplate": "%{customdata[0]:.2%} " + side + " generous (%{customdata[1]:,} of %{customdata[2]:,})"
            "<extra>%{y}</extra>",
            "meta": drill_meta("overrides", y="reviewer", y_keys=d["decided_by_id"], direction=side),
        }

    lim = float(max(more.max() if len(d) else 0, less.max() if len(d) else 0, 0.01)) * 1.15
    ticks = [x * lim / 4 for x in range(-4, 5)]
    return _figure(
        [bar(less, d["less_generous"], "less", -1), bar(more, d["more_generous"], "more", 1)],
        y_title=None,
        barmode="relative",
        yaxis={"type": "category"},
        xaxis={
            "title": {"text": "Share of the reviewer's decisions (%) — ← less generous · more generous →"},
            "range": [-lim, lim],
            "zeroline": True,
            "zerolinecolor": TOTAL_COLOR,
            "tickvals": ticks,
            "ticktext": [f"{abs(t):.1%}" for t in ticks],  # both sides read as positive shares
        },
    )


# ---- desk health -----------------------------------------------------------------------------------------


def lead_time_spec(hist: pd.DataFrame, median: float | None, p90: float | None) -> Spec:
    labels = [str(d) if d <= 30 else "31+" for d in hist["days"]]
    total = int(hist["decisions"].sum())
    trace = {
        "type": "bar",
        "x": labels,
        "y": _list(hist["decisions"]),
        "marker": {"color": NEUTRAL_COLOR},
        "customdata": _list(hist["decisions"] / total) if total else [0] * len(labels),
        "text": [f"{x} day" if x == "1" else f"{x} days" for x in labels],
        "textposition": "none",
        "hovertemplate": "%{y:,} decisions (%{customdata:.1%}) after %{text}<extra></extra>",
        "showlegend": False,
        "meta": drill_meta("lead", x="days", x_keys=hist["days"]),
    }
    shapes = []
    for value in (median, p90):
        if value is not None:
            x = str(int(value)) if value <= 30 else "31+"
            shapes.append(
                {
                    "type": "line",
                    "x0": x,
                    "x1": x,
                    "y0": 0,
                    "y1": 1,
                    "yref": "paper",
                    "line": {"color": TOTAL_COLOR, "dash": "dash", "width": 1},
                }
            )

    def days(v):
        if v is None:
            return "—"
        return "31+ days" if v > 30 else f"{int(v)} day" + ("" if int(v) == 1 else "s")

    note = {
        "x": 1,
        "y": 1,
        "xref": "paper",
        "yref": "paper",
        "xanchor": "right",
        "yanchor": "top",
        "showarrow": False,
        "align": "right",
        "text": f"dashed lines: median {days(median)}, p90 {days(p90)}",
    }
    return _figure(
        [trace],
        y_title="Effective decisions",
        y_format=",d",
        x_title="Days from opening to decision",
        xaxis={"type": "category"},
        shapes=shapes,
        annotations=[note],
    )


def backlog_spec(backlog: pd.DataFrame) -> Spec:
    x = _list(backlog["age"])
    traces = [
        {
            "type": "bar",
            "x": x,
            "y": _list(backlog["cases"] - backlog["overdue"]),
            "name": "Within due date",
            "marker": {"color": DUE_COLORS["within"]},
            "hovertemplate": "%{y:,} cases within their due date<extra>%{x}</extra>",
            "meta": drill_meta("backlog", x="age", x_keys=x, overdue=False),
        },
        {
            "type": "bar",
            "x": x,
            "y": _list(backlog["overdue"]),
            "name": "Overdue",
            "marker": {"color": DUE_COLORS["overdue"]},
            "hovertemplate": "%{y:,} cases overdue<extra>%{x}</extra>",
            "meta": drill_meta("backlog", x="age", x_keys=x, overdue=True),
        },
    ]
    return _figure(traces, y_title="Open cases", y_format=",d", x_title="Age (days since opened)", barmode="stack")


def decisions_per_reviewer_spec(by_reviewer: pd.DataFrame) -> Spec:
    d = by_reviewer[by_reviewer["decisions"] > 0].sort_values("decisions")
    traces = [
        {
            "type": "bar",
            "orientation": "h",
            "x": _list(d[col]),
            "y": _list(d["reviewer"]),
            "name": OUTCOME_LABELS[outcome],
            "marker": {"color": OUTCOME_COLORS[outcome]},
            "hovertemplate": "%{x:,} decisions<extra>" + OUTCOME_LABELS[outcome] + "</extra>",
            "meta": drill_meta("effective", y="reviewer", y_keys=d["decided_by_id"], outcome=outcome),
        }
        for outcome, col in OUTCOME_COUNTS
    ]
    return _figure(
        traces,
        y_title=None,
        barmode="stack",
        yaxis={"type": "category"},
        xaxis={"title": {"text": "Effective decisions (by outcome)"}, "tickformat": ",d"},
    )


# ---- policy versions -------------------------------------------------------------------------------------


def outcome_mix_by_version_spec(by_version: pd.DataFrame) -> Spec:
    d = by_version[by_version["effective"] > 0]
    traces = [
        {
            "type": "bar",
            "x": _list(d["policy_version"]),
            "y": _list(d[col] / d["effective"]),
            "name": OUTCOME_LABELS[outcome],
            "marker": {"color": OUTCOME_COLORS[outcome]},
            "customdata": [[a, b] for a, b in zip(_list(d[col]), _list(d["effective"]))],
            "hovertemplate": "%{y:.1%} — %{customdata[0]:,} of %{customdata[1]:,}<extra>"
            + OUTCOME_LABELS[outcome]
            + "</extra>",
            "meta": drill_meta("effective", x="policy_version", x_keys=d["policy_version"], outcome=outcome),
        }
        for outcome, col in OUTCOME_COUNTS
    ]
    return _figure(
        traces,
        y_title="Share of effective decisions (%)",
        y_format=".0%",
        barmode="stack",
        xaxis={"title": {"text": "Policy version (effective from)"}, "type": "category"},
    )


# ---- from specs to what is drawn -------------------------------------------------------------------------

P = ParamSpec("P")


def _validated(spec: Callable[P, Spec]) -> Callable[P, go.Figure]:
    @wraps(spec)
    def figure(*args: P.args, **kwargs: P.kwargs) -> go.Figure:
        return go.Figure(spec(*args, **kwargs))

    figure.__doc__ = f"{spec.__doc__ or ''}\n\nAs a validated go.Figure; `{spec.__name__}` is the same as a plain dict."
    return figure


refund_rate_chart = _validated(refund_rate_spec)
request_rate_chart = _validated(request_rate_spec)
money_by_outcome_chart = _validated(money_by_outcome_spec)
reason_share_chart = _validated(reason_share_spec)
money_rate_by_reason_chart = _validated(money_rate_by_reason_spec)
reason_trend_chart = _validated(reason_trend_spec)
reason_by_type_chart = _validated(reason_by_type_spec)
exceptions_by_period_chart = _validated(exceptions_by_period_spec)
exceptions_by_chart = _validated(exceptions_by_spec)
override_chart = _validated(override_spec)
lead_time_chart = _validated(lead_time_spec)
backlog_chart = _validated(backlog_spec)
decisions_per_reviewer_chart = _validated(decisions_per_reviewer_spec)
outcome_mix_by_version_chart = _validated(outcome_mix_by_version_spec)


def _pruned(value: Any) -> Any:
    """The spec without its unset properties (None values of dict keys, and dicts left empty, at any depth), as
    Plotly's validation leaves them out; None inside a data array (a gap) stays. Dates become the ISO text and
    NaN and infinities None (null), as Plotly's JSON encoder writes them: the spec then goes through it as plain
    JSON, without its per-object fallbacks and its second pass over any text holding a NaN."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items() if v is not None}
        return {k: v for k, v in out.items() if v != {}}  # a property with nothing set is left out too
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    return value


_TEMPLATES: dict[int, Spec] = {}


def _template() -> Spec | None:
    """Plotly's default template (Streamlit's once Streamlit is imported) as a dict, made once per template:
    the layout.template a go.Figure would carry."""
    default = pio.templates.default
    if default is None:
        return None
    template = default if not isinstance(default, str) else pio.templates[default]
    key = id(template)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = template.to_plotly_json()
    return _TEMPLATES[key]


def finished(spec: Spec) -> Spec:
    """A spec as go.Figure(spec).to_dict() would give it, without validating it: unset properties left out
    and the default template set (shared between figures: treat it as read-only)."""
    out = _pruned(spec)
    layout = out.setdefault("layout", {})
    template = _template()
    if "template" not in layout and template is not None:
        layout["template"] = template
    return out
