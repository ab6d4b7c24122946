"""Small things a user reads every day: singular and plural, and count axes with whole-number ticks."""

from __future__ import annotations

import pandas as pd
import pytest

from ui import charts
from ui.analytics_view import _change, days_label
from ui.export import plural


@pytest.mark.parametrize(("n", "text"), [(0, "0 rows"), (1, "1 row"), (2, "2 rows"), (1234, "1,234 rows")])
def test_a_count_of_rows_is_singular_only_for_one(n, text):
    assert plural(n, "row") == text


@pytest.mark.parametrize(
    ("now", "before", "text"), [(3, 2, "+1 day"), (2, 3, "-1 day"), (5, 2, "+3 days"), (2, 2, "no change")]
)
def test_a_change_in_days_says_day_for_one(now, before, text):
    assert _change(now, before, "days") == text


def test_the_lead_time_note_and_hover_say_day_for_one():
    hist = pd.DataFrame({"days": range(32), "decisions": [1] * 32})
    fig = charts.lead_time_chart(hist, 1, 2)
    assert fig.layout.annotations[0].text == "dashed lines: median 1 day, p90 2 days"
    assert list(fig.data[0].text[:3]) == ["0 days", "1 day", "2 days"] and fig.data[0].text[-1] == "31+ days"
    assert days_label(1) == "1 day"


@pytest.mark.parametrize(("top", "step"), [(0, 1), (2, 1), (6, 1), (7, 2), (12, 2), (13, 5), (31, 10), (250, 50)])
def test_a_count_axis_steps_by_whole_numbers(top, step):
    assert charts.integer_dtick(top) == step


def test_a_small_stacked_count_chart_has_distinct_whole_number_ticks():
    """Two open cases once gave ticks 0, 0.5, 1, 1.5, 2 shown as 0, 1, 1, 2, 2."""
    backlog = pd.DataFrame({"age": ["0–2 days", "3–7 days"], "cases": [2, 1], "overdue": [1, 0]})
    fig = charts.backlog_chart(backlog)
    assert (fig.layout.yaxis.tickformat, fig.layout.yaxis.tick0, fig.layout.yaxis.dtick) == (",d", 0, 1)
    ticks = [fig.layout.yaxis.tick0 + i * fig.layout.yaxis.dtick for i in range(3)]
    assert len({f"{t:,d}" for t in ticks}) == len(ticks)


def test_a_horizontal_count_chart_steps_from_its_stacked_totals():
    frame = pd.DataFrame(
        {
            "exceptions": [9, 4],
            "exceptions_approved": [5, 4],
            "exceptions_pending": [2, 0],
            "exceptions_rejected": [2, 0],
            "exception_share": [0.1, 0.05],
            "decisions": [90, 80],
        }
    )
    fig = charts.exceptions_by_chart(frame, pd.Series(["Ann", "Bo"]))
    assert fig.layout.xaxis.dtick == 2  # 9 stacked exceptions: 0, 2, 4, 6, 8, 10
