"""From a number to the cases behind it: every row of every table of the analytics view and every point or bar
of its charts lists exactly as many cases as the number it stands for — on the generated demo desk, for a manager
and a reviewer, by month and by week, with filters; SQLite and PostgreSQL. Then the kinds of list by hand on the
desk of tests/desk/test_analytics.py, and bad requests refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from desk import analytics
from desk.analytics import Drill, Filters
from desk.auth import Actor
from desk.errors import InvalidInput
from desk.review import build_view, drill_title, point_drill
from tests.conftest import TODAY
from tests.desk.test_analytics import MANAGER, MARCH, OMAR, REVIEWER, RITA, d, desk, run  # noqa: F401 — the fixture
from tests.support.intake import MAX
from tests.support.intake import RITA as DEMO_RITA

DEMO_MANAGER = Actor(MAX, "max@refund-desk.example", "Max Müller", "manager")
DEMO_REVIEWER = Actor(DEMO_RITA, "rita@refund-desk.example", "Rita", "reviewer")
YEAR = analytics.default_filters(TODAY)
VIEWS = {
    "manager, last 12 months by month": (YEAR, DEMO_MANAGER),
    "manager, a quarter by week, two types and a reason": (
        replace(
            YEAR,
            start=TODAY - timedelta(days=120),
            granularity="week",
            service_types=("technical_support", "subscription"),
            reasons=("technical_issue",),
        ),
        DEMO_MANAGER,
    ),
    "reviewer, own numbers": (YEAR, DEMO_REVIEWER),
}


def _total(db, report, actor, drill: Drill) -> int:
    return analytics.drill_cases(db, report.filters, actor, drill, limit=1, today=report.today)[1]


# What each chart's point counts, read from the trace as the chart shows it (None: not a count, e.g. money).
def _count(name: str, trace: dict, i, spec: dict, curve: int) -> int | None:
    if name in ("refund_count", "request", "reason_money", "versions"):
        return trace["customdata"][i][0]
    if name == "refund_value":
        return None
    if name in ("money", "reason_share"):
        return trace["customdata"][i]
    if name == "reason_type":
        row, col = i
        return trace["customdata"][row][col]
    if name == "exc" and trace["type"] == "scatter":  # the share line: every exception of the period
        return sum(t["y"][i] for t in spec["data"] if t["type"] == "bar")
    if name == "override":
        return trace["customdata"][i][1]
    if trace.get("orientation") == "h":
        return trace["x"][i]
    return trace["y"][i]


def _points(trace: dict):
    if trace["type"] == "heatmap":
        for row, y in enumerate(trace["y"]):
            for col, x in enumerate(trace["x"]):
                yield [row, col], {"point_index": [row, col], "x": x, "y": y}
    else:
        for i, (x, y) in enumerate(zip(trace["x"], trace["y"])):
            yield i, {"point_index": i, "point_number": i, "x": x, "y": y}


@pytest.mark.parametrize("which", list(VIEWS))
def test_every_table_row_lists_as_many_cases_as_its_numbers(demo_db, which):
    filters, actor = VIEWS[which]
    r = analytics.report(demo_db, filters, actor, TODAY)
    v = build_view(r)
    checked = 0
    for name, rows in v.drills.items():
        table = v.tables[name]
        assert len(rows) == len(table), name
        for i, options in enumerate(rows):
            for label, drill in options.items():
                row = table.iloc[i]
                if label == "Approved and rejected":
                    expected = row["Approved"] + row["Rejected"]
                else:
                    assert label in table.columns, (name, label)
                    expected = row[label]
                assert _total(demo_db, r, actor, drill) == expected, (name, i, label, drill)
                checked += 1
    assert checked > 100  # the demo desk has something in every table
    if not r.cases_attributable:
        assert not any(o.kind == "opened" for rows in v.drills.values() for opts in rows for o in opts.values())


@pytest.mark.parametrize("which", list(VIEWS))
def test_every_chart_point_lists_as_many_cases_as_it_counts(demo_db, which):
    filters, actor = VIEWS[which]
    r = analytics.report(demo_db, filters, actor, TODAY)
    v = build_view(r)
    checked, charts_seen = 0, set()
    for name, spec in v.specs.items():
        for curve, trace in enumerate(spec["data"]):
            if not isinstance(trace.get("meta"), dict):
                continue
            for i, point in _points(trace):
                expected = _count(name, trace, i, spec, curve)
                drill = point_drill(r, spec, {"curve_number": curve, **point})
                assert drill is not None, (name, curve, i)
                assert drill_title(drill)  # every list says what it is
                if expected is None:
                    continue
                assert _total(demo_db, r, actor, drill) == expected, (name, curve, i, drill)
                checked += 1
                charts_seen.add(name)
    assert checked > 100
    # every chart of the view drills down, the money-value chart included (it lists the same decisions)
    assert {n for n, s in v.specs.items() if any(isinstance(t.get("meta"), dict) for t in s["data"])} == set(v.specs)
    assert charts_seen == set(v.specs) - {"refund_value"}


def test_a_point_that_is_no_longer_there_selects_nothing(demo_db):
    r = analytics.report(demo_db, YEAR, DEMO_MANAGER, TODAY)
    v = build_view(r)
    spec = v.specs["exc_reviewer"]
    trace = spec["data"][0]
    assert point_drill(r, spec, {"curve_number": 0, "point_index": 0, "x": trace["x"][0], "y": "Nobody"}) is None
    assert point_drill(r, spec, {"curve_number": 9, "point_index": 0, "x": 1, "y": trace["y"][0]}) is None
    # the same name at another position still finds its bar (the position is only a hint)
    found = point_drill(r, spec, {"curve_number": 0, "point_index": 99, "x": 0, "y": trace["y"][-1]})
    assert found is not None and found.reviewer == trace["meta"]["y_keys"][-1]


# ---- each kind by hand, on the desk of tests/desk/test_analytics.py ------------------------------------------


def _cases(db, drill: Drill, filters: Filters = MARCH, actor=MANAGER) -> tuple[list[int], int]:
    rows, total = analytics.drill_cases(db, filters, actor, drill, today=date(2026, 3, 31))
    return list(rows["case_id"]), total


def test_the_kinds_of_list_by_hand(desk):  # noqa: F811
    march = (d("03-01"), d("03-31"))
    r = run(desk)
    # every decision recorded in March, the superseded, pending and rejected ones too
    assert _cases(desk, Drill("recorded", *march))[1] == r.kpis.decisions
    assert _cases(desk, Drill("effective", *march))[1] == r.kpis.effective
    assert _cases(desk, Drill("exceptions", *march))[1] == r.kpis.exceptions
    assert _cases(desk, Drill("overrides", *march))[1] == r.kpis.overrides
    # Rita's effective decisions: d1 (c1) and d2 (c2)
    assert sorted(_cases(desk, Drill("effective", *march, reviewer=RITA))[0]) == [1, 2]
    # time to decision: d3 (c3) on its opening day, d4 (c4) after 15 days
    assert _cases(desk, Drill("lead", *march, days_from=0, days_to=0))[0] == [3]
    assert _cases(desk, Drill("lead", *march, days_from=15, days_to=15))[0] == [4]
    assert _cases(desk, Drill("lead", *march, days_from=31))[1] == 0


def test_a_reviewer_never_lists_someone_else_s_decisions(desk):  # noqa: F811
    march = (d("03-01"), d("03-31"))
    assert _cases(desk, Drill("recorded", *march, reviewer=OMAR), actor=REVIEWER)[1] == 0
    mine = _cases(desk, Drill("recorded", *march), actor=REVIEWER)
    assert mine[1] == run(desk, actor=REVIEWER).kpis.decisions


def test_opened_cases_are_not_listed_per_reviewer(desk):  # noqa: F811
    with pytest.raises(InvalidInput):
        _cases(desk, Drill("opened", d("03-01"), d("03-31")), replace(MARCH, reviewers=(RITA,)))


@pytest.mark.parametrize(
    "bad",
    [
        Drill("everything", date(2026, 3, 1), date(2026, 3, 31)),
        Drill("recorded", date(2026, 3, 1), date(2026, 3, 31), reason="because"),
        Drill("recorded", date(2026, 3, 1), date(2026, 3, 31), outcome="all_of_it"),
        Drill("decided", date(2026, 3, 1), date(2026, 3, 31), outcome="deny"),
        Drill("exceptions", date(2026, 3, 1), date(2026, 3, 31), approval="maybe"),
        Drill("overrides", date(2026, 3, 1), date(2026, 3, 31), direction="sideways"),
        Drill("awaiting", date(2026, 3, 1), date(2026, 3, 31), currency="DOLLARS"),
    ],
)
def test_a_bad_drill_down_is_refused_with_a_clear_message(desk, bad):  # noqa: F811
    with pytest.raises(InvalidInput) as caught:
        _cases(desk, bad)
    assert caught.value.message
