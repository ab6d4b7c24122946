"""The monthly review's late numbers, computed by hand on the desk of tests/desk/test_analytics.py: the time to
close including the approval wait, and the restated months. SQLite and PostgreSQL.

Effective decisions of March (docs/metrics.md): d1 c1 03-01 -> 03-04 (3 days, due 03-15), d2 c2 03-03 -> 03-06
(3, due 03-17), d3 c3 03-05 -> 03-05 (0, due 03-19), d4 c4 03-10 -> 03-25 (15, due 03-24: late), d7 c6 03-20 ->
03-22 (2, due 04-03), d9 c10 03-08 -> 03-09 (1, due 03-22; an exception approved by Omar).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import insert, update

from data.models import Case, CaseEvent, Decision
from desk import analytics
from desk.analytics import Filters
from desk.errors import InvalidInput
from desk.review import build_view
from tests.desk.test_analytics import MANAGER, MARCH, OMAR, RITA, TODAY, desk, run  # noqa: F401 — the fixture

APRIL_10 = date(2026, 4, 10)


# ---- time to close, the approval wait included -----------------------------------------------------------


@pytest.fixture
def approved_late(desk):  # noqa: F811
    """d9 (recorded 03-09) approved by Omar on 03-25 12:00: case c10 closed on 03-25, after its due date 03-22."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 9).values(approved_at=datetime(2026, 3, 25, 12, 0)))
        s.execute(update(Case).where(Case.id == 10).values(decided_on=date(2026, 3, 25)))
    return desk


def test_without_approval_waits_time_to_close_is_time_to_decision(desk):  # noqa: F811
    k = run(desk).kpis
    # days [0, 1, 2, 3, 3, 15]: nearest-rank median 2, p90 15; within the due date 5 of 6 (d4 is late)
    assert (k.lead_median, k.lead_p90, k.within_due) == (2.0, 15.0, 5)
    assert (k.close_median, k.close_p90, k.closed_within_due, k.waited_for_approval) == (2.0, 15.0, 5, 0)


def test_time_to_close_includes_the_approval_wait(approved_late):
    r = run(approved_late)
    k = r.kpis
    # decided: unchanged, d9 after 1 day and within its due date
    assert (k.lead_median, k.lead_p90, k.within_due) == (2.0, 15.0, 5)
    # closed: d9 closes on 03-25, 17 days after c10 opened: [0, 2, 3, 3, 15, 17] -> median 3, p90 17;
    # within the due date 4 of 6 (d4, and now d9 too)
    assert (k.close_median, k.close_p90, k.closed_within_due, k.waited_for_approval) == (3.0, 17.0, 4, 1)
    assert k.closed_within_due_share == pytest.approx(4 / 6)
    hist = dict(zip(r.close_histogram["days"], r.close_histogram["decisions"]))
    assert {d: n for d, n in hist.items() if n} == {0: 1, 2: 1, 3: 2, 15: 1, 17: 1}
    table = build_view(r).tables["close"]
    assert table.loc[table["Days"] == "1", "Decided (to the decision)"].item() == 1
    assert table.loc[table["Days"] == "1", "Closed (approval wait included)"].item() == 0
    assert table.loc[table["Days"] == "17", "Closed (approval wait included)"].item() == 1


def test_time_to_close_follows_the_reviewer_filter(approved_late):
    rita = run(approved_late, replace(MARCH, reviewers=(RITA,))).kpis  # d1, d2: nobody waited
    assert (rita.close_median, rita.waited_for_approval) == (3.0, 0)
    omar = run(approved_late, replace(MARCH, reviewers=(OMAR,))).kpis  # d3, d4, d7 (d9 is Max's)
    assert omar.waited_for_approval == 0


# ---- restated months ---------------------------------------------------------------------------------------


@pytest.fixture
def late_changes(desk):  # noqa: F811
    """After March ended: d9 (03-09) approved on 04-02 09:00, and c1 reopened on 04-05 10:00 — its decision d1
    (03-04) superseded. In March itself: d6 rejected on 03-21 06:00 (not a late change)."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 9).values(approved_at=datetime(2026, 4, 2, 9, 0)))
        s.execute(update(Decision).where(Decision.id == 6).values(approved_at=datetime(2026, 3, 21, 6, 0)))
        s.execute(update(Decision).where(Decision.id == 1).values(superseded=True))
        s.execute(
            insert(CaseEvent).values(
                case_id=1,
                actor_id=3,
                actor="max@example.test",
                at=datetime(2026, 4, 5, 10, 0),
                kind="case_reopened",
                payload={"decision_id": 1, "reason": "customer sent proof"},
            )
        )
    return desk


def test_a_month_changed_after_it_ended_is_restated(late_changes):
    r = run(late_changes, Filters(date(2026, 2, 1), date(2026, 3, 31)), today=APRIL_10)
    assert r.restated.to_dict("records") == [
        {
            "month": date(2026, 3, 1),
            "late_answers": 1,  # d9's approval on 04-02 (d6's rejection came within March)
            "late_supersedes": 1,  # d1, superseded by the reopen on 04-05
            "changes": 2,
            "last_change_at": datetime(2026, 4, 5, 10, 0),
        }
    ]  # February: nothing changed after it ended
    table = build_view(r).tables["restated"]
    assert table.to_dict("records") == [
        {
            "Month": "2026-03",
            "Answered after the month ended": 1,
            "Superseded after the month ended": 1,
            "Late changes": 2,
            "Last change": "2026-04-05 10:00 UTC",
        }
    ]


def test_the_running_month_is_never_restated(late_changes):
    assert run(late_changes, MARCH, today=TODAY).restated.empty  # March is not over on 03-31


def test_restated_follows_the_filters(late_changes):
    rita = run(late_changes, replace(MARCH, reviewers=(RITA,)), today=APRIL_10).restated  # d1 is Rita's
    assert rita[["late_answers", "late_supersedes"]].to_dict("records") == [{"late_answers": 0, "late_supersedes": 1}]
    subscription = run(late_changes, replace(MARCH, service_types=("subscription",)), today=APRIL_10).restated
    assert subscription[["late_answers", "late_supersedes"]].to_dict("records") == [
        {"late_answers": 1, "late_supersedes": 0}  # d9 is about a subscription, d1 technical support
    ]


def test_a_month_ends_at_midnight_of_the_desk_time_zone(desk):  # noqa: F811
    """d9 approved at 2026-03-31 23:00 UTC: still March in UTC, already 1 April 01:00 in Berlin (CEST)."""
    with desk.write.begin() as s:
        s.execute(update(Decision).where(Decision.id == 9).values(approved_at=datetime(2026, 3, 31, 23, 0)))
    assert run(desk, MARCH, today=APRIL_10).restated.empty
    berlin = run(desk, replace(MARCH, zone="Europe/Berlin"), today=APRIL_10).restated
    assert berlin["late_answers"].tolist() == [1]
    assert build_view(run(desk, replace(MARCH, zone="Europe/Berlin"), today=APRIL_10)).tables["restated"][
        "Last change"
    ].tolist() == ["2026-04-01 01:00 Europe/Berlin"]


def test_a_zone_that_does_not_exist_is_refused(desk):  # noqa: F811
    with pytest.raises(InvalidInput, match="not a time zone"):
        analytics.report(desk, replace(MARCH, zone="Mars/Olympus"), MANAGER, TODAY)


# ---- what a failing read is called -------------------------------------------------------------------------


class _Failing:
    """A Database stand-in whose every connection fails with `exc`."""

    def __init__(self, exc):
        self.engine = self
        self.exc = exc

    def connect(self):
        raise self.exc


class _Timeout(Exception):
    sqlstate = "57014"


class _Undefined(Exception):
    sqlstate = "42P01"


def test_a_timeout_on_a_rollup_query_is_not_reported_as_missing_tables():
    from sqlalchemy.exc import OperationalError

    from desk.errors import DatabaseNotReady

    timeout = OperationalError("SELECT ... FROM decision_rollup", {}, _Timeout("canceling statement due to timeout"))
    with pytest.raises(OperationalError), analytics._reading(_Failing(timeout)):
        pass
    for missing in (
        OperationalError("SELECT ... FROM decision_rollup", {}, Exception("no such table: decision_rollup")),
        OperationalError(
            "SELECT ... FROM decision_rollup", {}, _Undefined('relation "decision_rollup" does not exist')
        ),
    ):
        with pytest.raises(DatabaseNotReady), analytics._reading(_Failing(missing)):
            pass


# ---- the figures: sent as plain dicts, the same as validated go.Figure objects ---------------------------


@pytest.mark.parametrize("granularity", ["month", "week"])
def test_every_chart_spec_is_what_plotly_validation_would_make_of_it(desk, granularity):  # noqa: F811
    """The page draws the specs as built (no Plotly validation); each must send exactly the JSON a go.Figure
    of it sends (template, colour scales, dates and gaps included), so skipping the validation changes nothing
    the browser gets; and the view's figures are those go.Figure objects."""
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    from desk import charts

    r = run(desk, replace(MARCH, granularity=granularity, start=date(2026, 2, 20)))
    raw, view = build_view(r, finish=lambda spec: spec), build_view(r)
    assert len(view.specs) >= 12 and set(raw.specs) == set(view.specs)

    def sent(figure) -> dict:
        return json.loads(pio.to_json(figure, validate=False))

    differ = [name for name, spec in raw.specs.items() if sent(go.Figure(spec)) != sent(charts.finished(spec))]
    assert differ == []
    assert all(sent(view.figures[name]) == sent(view.specs[name]) for name in view.specs)
    assert set(view.figures) == set(view.specs) and "nothing" not in view.figures
