"""One look for every chart: a colour per outcome, per service type, per reason and per approval state,
defined once here, plus the Plotly figures of the analytics page (graph_objects: fast to build, no
validation surprises). A colour means the same thing on every chart of the app.

Figures take the small frames of desk.analytics.Report; money arrives in minor units of one currency (the
report's currency filter) and leaves in that currency's major units, labelled with its symbol.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

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
FONT = "Source Sans Pro, sans-serif"


# Figures are built as plain dicts and validated once by go.Figure(dict): five times faster than
# add_trace/update_layout, which matters on every rerun of a page with a dozen charts.


def _figure(
    traces: list[dict],
    *,
    y_title: str | None,
    y_format: str | None = None,
    x_title: str | None = None,
    xaxis: dict | None = None,
    yaxis: dict | None = None,
    **layout,
) -> go.Figure:
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
    return go.Figure(fig)


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
    x, num, den, name: str, color: str, what: str, money: bool, partial: Partial, dash: bool = False, meta: str = ""
) -> dict:
    num, den = (
        pd.Series(num, dtype="float64").reset_index(drop=True),
        pd.Series(den, dtype="float64").reset_index(drop=True),
    )
    scale, digits = (100.0, 2) if money else (1.0, 0)
    return {
        "type": "scatter",
        "x": _list(x),
        "y": _list(num / den.where(den != 0)),
        "name": name,
        "mode": "lines" if dash else "lines+markers",
        "line": {"color": color, "width": 2, **({"dash": "dash"} if dash else {})},
        "marker": _point_marker(color, _list(x), partial),
        "customdata": [[a, b] for a, b in zip(_list(num / scale), _list(den / scale))],
        "hovertemplate": f"%{{y:.2%}} — %{{customdata[0]:,.{digits}f}} {what} of %{{customdata[1]:,.{digits}f}}"
        f"<extra>{name}</extra>",
        "meta": meta,  # what a selected point stands for: its service type ("" = all selected types)
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
    money: bool = False,
) -> go.Figure:
    """A rate per service type over time, plus the rate of all selected types together (dashed)."""
    traces = []
    for st_ in SERVICE_TYPE_ORDER:
        d = trend[trend["service_type"] == st_]
        if d.empty or d[den].sum() == 0:
            continue
        traces.append(
            _rate_line(
                d["bucket"],
                d[num],
                d[den],
                SERVICE_TYPE_LABELS[st_],
                SERVICE_TYPE_COLORS[st_],
                what,
                money,
                partial,
                meta=st_,
            )
        )
    total = trend.groupby("bucket", as_index=False)[[num, den]].sum()
    if not total.empty and total[den].sum():
        traces.append(
            _rate_line(
                total["bucket"],
                total[num],
                total[den],
                "All selected types",
                TOTAL_COLOR,
                what,
                money,
                partial,
                dash=True,
            )
        )
    return _figure(traces, y_title=y_title, y_format=".1%", hovermode="x unified", xaxis=_date_axis(granularity))


def refund_rate_chart(
    trend: pd.DataFrame,
    granularity: str,
    by_value: bool,
    partial: Partial = frozenset(),
    currency: str = DEFAULT_CURRENCY,
) -> go.Figure:
    if by_value:
        return _rate_lines(
            trend,
            "money_cents",
            "revenue_cents",
            granularity,
            partial,
            y_title=f"Refunded value (% of {currency} revenue)",
            what=f"{currency} refunded or credited",
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
    )


def request_rate_chart(trend: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> go.Figure:
    return _rate_lines(
        trend, "opened", "sold", granularity, partial, y_title="Request rate (% of services sold)", what="cases opened"
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


def money_by_outcome_chart(
    trend: pd.DataFrame, granularity: str, partial: Partial = frozenset(), currency: str = DEFAULT_CURRENCY
) -> go.Figure:
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
            "meta": outcome,  # what a selected bar stands for
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


def reason_share_chart(by_reason: pd.DataFrame) -> go.Figure:
    d = by_reason[by_reason["opened"].fillna(0) > 0]
    trace = {
        "type": "bar",
        "orientation": "h",
        "x": _list(d["share_of_cases"]),
        "y": [REASON_LABELS.get(r, r) for r in d["reason"]],
        "marker": {"color": NEUTRAL_COLOR},  # reasons are named on the axis; colours stay for outcomes
        "customdata": _list(d["opened"].astype("int64")),
        "hovertemplate": "%{x:.1%} of cases opened (%{customdata:,})<extra>%{y}</extra>",
    }
    return _figure(
        [trace],
        y_title=None,
        showlegend=False,
        yaxis=_reason_yaxis(d["reason"]),
        xaxis={"title": {"text": "Share of cases opened (%)"}, "tickformat": ".0%", "rangemode": "tozero"},
    )


def money_rate_by_reason_chart(by_reason: pd.DataFrame) -> go.Figure:
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


def reason_trend_chart(reason_trend: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> go.Figure:
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
            }
        )
    return _figure(traces, y_title="Cases opened", y_format=",d", hovermode="x unified", xaxis=_date_axis(granularity))


def reason_by_type_chart(by_reason_type: pd.DataFrame) -> go.Figure:
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
        "colorscale": "Blues",
        "zmin": 0,
        "colorbar": {"title": {"text": "% of type"}, "tickformat": ".0%"},
        "texttemplate": "%{z:.0%}",
        "hovertemplate": "%{y} — %{z:.1%} of %{x} cases (%{customdata:,})<extra></extra>",
    }
    fig = _figure([trace], y_title=None, height=HEIGHT + 40, yaxis={"autorange": "reversed", "rangemode": None})
    return fig


# ---- exceptions ------------------------------------------------------------------------------------------


def exceptions_by_period_chart(exc: pd.DataFrame, granularity: str, partial: Partial = frozenset()) -> go.Figure:
    traces = [
        {
            "type": "bar",
            "x": _list(exc["bucket"]),
            "y": _list(exc[f"exceptions_{status}"]),
            "name": APPROVAL_LABELS[status],
            "marker": _approval_marker(status, _list(exc["bucket"]), partial),
            "hovertemplate": "%{y:,} exceptions<extra>" + APPROVAL_LABELS[status] + "</extra>",
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


def exceptions_by_chart(frame: pd.DataFrame, names: pd.Series) -> go.Figure:
    """Exceptions per reviewer or per reason (`names`, aligned with `frame`), stacked by approval state."""
    d = frame[frame["exceptions"] > 0].sort_values("exceptions")
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


def override_chart(by_reviewer: pd.DataFrame) -> go.Figure:
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


def lead_time_chart(hist: pd.DataFrame, median: float | None, p90: float | None) -> go.Figure:
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


def backlog_chart(backlog: pd.DataFrame) -> go.Figure:
    x = _list(backlog["age"])
    traces = [
        {
            "type": "bar",
            "x": x,
            "y": _list(backlog["cases"] - backlog["overdue"]),
            "name": "Within due date",
            "marker": {"color": DUE_COLORS["within"]},
            "hovertemplate": "%{y:,} cases within their due date<extra>%{x}</extra>",
        },
        {
            "type": "bar",
            "x": x,
            "y": _list(backlog["overdue"]),
            "name": "Overdue",
            "marker": {"color": DUE_COLORS["overdue"]},
            "hovertemplate": "%{y:,} cases overdue<extra>%{x}</extra>",
        },
    ]
    return _figure(traces, y_title="Open cases", y_format=",d", x_title="Age (days since opened)", barmode="stack")


def decisions_per_reviewer_chart(by_reviewer: pd.DataFrame) -> go.Figure:
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


def outcome_mix_by_version_chart(by_version: pd.DataFrame) -> go.Figure:
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
