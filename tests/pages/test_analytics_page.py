"""The analytics page in AppTest: renders for each role, charts present with one colour per outcome, a
filter changes the numbers, empty states explain themselves, reviewers see only their own numbers."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from data.db import open_database
from data.models import Decision
from tests.conftest import TODAY
from ui.charts import OUTCOME_COLORS, OUTCOME_LABELS

MANAGER = "max@refund-desk.example"
ADMIN = "ada@refund-desk.example"
REVIEWER = "rita@refund-desk.example"  # the default local user


def open_page(app, email: str | None = None):
    at = app()
    if email:
        at.session_state["local_user_email"] = email
    at.run()
    at.switch_page("pages/analytics.py")
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def apply(at):
    next(b for b in at.button if b.label == "Apply filters").click()
    at.run()
    assert not at.exception, at.exception
    return at


def custom(at):
    """Pick the "Custom range" period, which enables the date box."""
    at.selectbox(key="an_period").set_value("custom").run()
    assert not at.date_input(key="an_dates").disabled
    return at


def caption_text(at) -> str:
    return "\n".join(c.value for c in at.caption)


def test_a_manager_sees_kpis_charts_tables_and_csv_exports(app):
    at = open_page(app, MANAGER)
    assert at.title[0].value == "Analytics"
    m = metrics(at)
    for label in (
        "Refund rate (count)",
        "Refund rate (value)",
        "Credits",
        "Request rate",
        "Exceptions",
        "Override rate",
        "Time to decision",
        "Pending approvals",
    ):
        assert label in m
    assert m["Refund rate (count)"].endswith("%") and m["Request rate"].endswith("%")
    deltas = {x.label: x.delta for x in at.metric}
    assert deltas["Refund rate (count)"].endswith(" pp")  # change against the previous period
    specs = charts(at)
    assert len(specs) >= 10
    assert all(spec["data"] for spec in specs)
    assert len(at.dataframe) >= 8
    downloads = at.get("download_button")
    assert len(downloads) >= 8


def test_an_outcome_has_the_same_colour_on_every_chart(app):
    at = open_page(app, MANAGER)
    seen: dict[str, set[str]] = {}
    by_label = {v: k for k, v in OUTCOME_LABELS.items()}
    for spec in charts(at):
        for trace in spec["data"]:
            outcome = by_label.get(trace.get("name"))
            if outcome:
                seen.setdefault(outcome, set()).add(trace["marker"]["color"])
    assert {"full_refund", "partial_refund", "credit"} <= set(seen)
    assert all(colors == {OUTCOME_COLORS[o]} for o, colors in seen.items()), seen


def test_axes_name_their_units(app):
    at = open_page(app, MANAGER)
    titles = {spec["layout"]["yaxis"]["title"]["text"] for spec in charts(at) if spec["layout"]["yaxis"].get("title")}
    assert "Refund rate (% of services sold)" in titles
    assert "Money granted (USD)" in titles  # the reporting currency by default


def test_a_service_type_filter_changes_the_numbers(app):
    at = open_page(app, MANAGER)
    before = metrics(at)
    at.multiselect(key="an_types").set_value(["subscription"])
    after = metrics(apply(at))
    assert after["Decisions"] != before["Decisions"]
    assert after["Refund rate (count)"] != before["Refund rate (count)"]


def test_a_date_range_without_data_says_so(app):
    at = open_page(app, MANAGER)
    custom(at).date_input(key="an_dates").set_value((date(2020, 1, 1), date(2020, 1, 31)))
    apply(at)
    assert any("Nothing to show for these filters" in i.value for i in at.info)
    assert not at.get("plotly_chart")


def test_a_reviewer_sees_only_their_own_numbers(app, sqlite_demo_url):
    at = open_page(app)  # Rita, a reviewer
    assert "You see your own numbers only" in at.caption[0].value
    reviewer_filter = at.multiselect(key="an_reviewers")
    assert reviewer_filter.disabled and len(reviewer_filter.value) == 1
    m = metrics(at)
    assert m["Request rate"] == "—"
    db = open_database(sqlite_demo_url)
    with db.read() as s:
        rita = s.scalar(
            select(func.count()).where(
                Decision.decided_by_id == 1, Decision.decided_on.between(date(2025, 11, 27), TODAY)
            )
        )
    db.dispose()
    assert m["Decisions"] == f"{rita:,}"


def test_a_reviewer_without_decisions_in_the_range_is_told_so(app, sqlite_demo_url):
    db = open_database(sqlite_demo_url)
    with db.read() as s:
        rita_days = set(s.scalars(select(Decision.decided_on).where(Decision.decided_by_id == 1)))
    db.dispose()
    day = next(d for d in (date(2026, 11, 26 - i) for i in range(20)) if d not in rita_days)
    at = open_page(app)
    custom(at).date_input(key="an_dates").set_value((day, day))
    apply(at)
    assert any("You have no decisions" in i.value for i in at.info)


def test_the_exception_list_links_each_row_to_its_case(app):
    at = open_page(app, MANAGER)
    listed = next(df.value for df in at.dataframe if "Rationale" in df.value.columns)
    assert len(listed) > 0
    assert listed["Case"].str.match(r"^/case\?case=\d+$").all()
    assert {"Approver", "Rationale", "Approval"} <= set(listed.columns)


def test_admins_may_open_the_page_too(app):
    at = open_page(app, ADMIN)
    assert "Refund rate (count)" in metrics(at)


@pytest.mark.parametrize("page", ["pages/analytics.py"])
def test_the_page_stays_thin(page):
    source = (Path(__file__).resolve().parents[2] / page).read_text()
    assert "sqlalchemy" not in source and "from data" not in source and "import data" not in source
    assert "unsafe_allow_html" not in source and "st.html" not in source


def test_money_figures_follow_the_currency_filter_and_counts_do_not(app):
    at = open_page(app, MANAGER)
    assert at.selectbox(key="an_currency").value == "USD"  # the reporting currency by default
    assert set(at.selectbox(key="an_currency").options) == {"USD", "EUR", "GBP"}
    usd = metrics(at)
    assert usd["Money granted"].startswith("$")
    assert any("Money granted per currency" in c.value and "€" in c.value and "£" in c.value for c in at.caption)
    at.selectbox(key="an_currency").set_value("GBP")
    gbp = metrics(apply(at))
    assert gbp["Money granted"].startswith("£")
    for count in ("Refund rate (count)", "Decisions", "Exceptions", "Override rate", "Request rate"):
        assert gbp[count] == usd[count], count
    assert gbp["Refund rate (value)"] != usd["Refund rate (value)"]
    titles = {spec["layout"]["yaxis"]["title"]["text"] for spec in charts(at) if spec["layout"]["yaxis"].get("title")}
    assert "Money granted (GBP)" in titles
    assert "Revenue (GBP)" in at.dataframe[0].value.columns


def test_the_reporting_currency_comes_from_the_environment(app, monkeypatch):
    monkeypatch.setenv("REFUND_DESK_REPORTING_CURRENCY", "eur")
    at = open_page(app, MANAGER)
    assert at.selectbox(key="an_currency").value == "EUR"
    assert metrics(at)["Money granted"].startswith("€")
    monkeypatch.setenv("REFUND_DESK_REPORTING_CURRENCY", "EURO")
    at = open_page(app, MANAGER)
    assert at.selectbox(key="an_currency").value == "USD"
    assert any("reporting currency is not valid" in w.value for w in at.warning)


# ---- periods and the desk time zone ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("last_12_months", date(2025, 11, 27), TODAY),
        ("this_month", date(2026, 11, 1), TODAY),
        ("last_month", date(2026, 10, 1), date(2026, 10, 31)),
        ("this_quarter", date(2026, 10, 1), TODAY),
        ("last_quarter", date(2026, 7, 1), date(2026, 9, 30)),
        ("year_to_date", date(2026, 1, 1), TODAY),
    ],
)
def test_a_period_preset_sets_the_range_and_the_link_keeps_it(app, preset, start, end):
    at = open_page(app, MANAGER)
    at.selectbox(key="an_period").set_value(preset).run()
    assert not at.exception, at.exception
    assert at.date_input(key="an_dates").value == (start, end)
    assert at.date_input(key="an_dates").disabled
    assert f"**{start:%d %b %Y} – {end:%d %b %Y}**" in caption_text(at)
    assert at.query_params["period"] == preset


def test_a_link_with_a_preset_opens_that_period(app):
    at = app()
    at.session_state["local_user_email"] = MANAGER
    at.run()
    at.switch_page("pages/analytics.py")
    at.query_params["period"] = "last_month"
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="an_period").value == "last_month"
    assert "**01 Oct 2026 – 31 Oct 2026**" in caption_text(at)
    assert not at.warning


def test_a_custom_range_is_kept_in_the_link_and_read_back(app):
    at = custom(open_page(app, MANAGER))
    at.date_input(key="an_dates").set_value((date(2026, 3, 2), date(2026, 4, 15)))
    apply(at)
    assert at.query_params["period"] == "custom"
    assert at.query_params["from"] == "2026-03-02" and at.query_params["to"] == "2026-04-15"
    again = app()
    again.session_state["local_user_email"] = MANAGER
    again.run()
    again.switch_page("pages/analytics.py")
    for k in ("period", "from", "to"):
        again.query_params[k] = at.query_params[k]
    again.run()
    assert again.selectbox(key="an_period").value == "custom"
    assert "**02 Mar 2026 – 15 Apr 2026**" in caption_text(again)


@pytest.mark.parametrize(
    "params",
    [
        {"period": "fortnight"},
        {"period": "custom", "from": "2026-13-01", "to": "2026-11-01"},
        {"period": "custom", "from": "2026-01-01", "to": "2099-01-01"},
        {"period": "custom", "from": "2026-05-01", "to": "2026-04-01"},
    ],
)
def test_a_bad_period_link_warns_and_uses_the_default(app, params):
    at = app()
    at.session_state["local_user_email"] = MANAGER
    at.run()
    at.switch_page("pages/analytics.py")
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, at.exception
    assert any("not valid" in w.value and "using the default" in w.value for w in at.warning)
    assert at.selectbox(key="an_period").value == "last_12_months"
    assert "**27 Nov 2025 – 26 Nov 2026**" in caption_text(at)


def test_the_desk_time_zone_is_named_on_screen(app, monkeypatch):
    monkeypatch.setenv("REFUND_DESK_TIMEZONE", "Europe/Berlin")
    at = open_page(app, MANAGER)
    text = caption_text(at)
    assert "desk's time zone, **Europe/Berlin**" in text
    assert re.search(r"Figures as of \d\d:\d\d:\d\d Europe/Berlin", text)


def test_a_bad_time_zone_warns_and_uses_utc(app, monkeypatch):
    monkeypatch.setenv("REFUND_DESK_TIMEZONE", "Mars/Olympus")
    at = open_page(app, MANAGER)
    assert any("time zone 'Mars/Olympus' is not valid" in w.value for w in at.warning)
    assert "desk's time zone, **UTC**" in caption_text(at)


def test_the_monthly_review_numbers_are_on_the_page(app):
    at = open_page(app, MANAGER)
    text = caption_text(at)
    assert re.search(r"Cash-only refund rate .*: \*\*\d+\.\d\d%\*\*", text)
    assert "Dating rule" in text
    headings = {h.value for h in at.subheader}
    assert {"Money awaiting approval", "Approvals and rejections per manager"} <= headings
    granted = next(df.value for df in at.dataframe if "Amount requested" in df.value.columns)
    assert len(granted) >= 3  # the demo desk sells in three currencies: a row each, never summed
    assert granted["Currency"].is_unique
    per_manager = next(
        df.value for df in at.dataframe if "Approved" in df.value.columns and "Manager" in df.value.columns
    )
    assert per_manager["Approved"].sum() + per_manager["Rejected"].sum() > 0
    cohorts = next(df.value for df in at.dataframe if "Refund rate by sale month (%)" in df.value.columns)
    assert len(cohorts) == 13  # 27 Nov 2025 – 26 Nov 2026 touches 13 months
    assert cohorts["Money outcomes, by sale month"].sum() > 0


# ---- drill-down ------------------------------------------------------------------------------------------


def test_selecting_a_refund_rate_row_lists_the_cases_behind_it(app):
    at = open_page(app, MANAGER)
    trend = next(df.value for df in at.dataframe if "Cash refund rate (%)" in df.value.columns)
    busiest = int(trend["Money outcomes"].to_numpy().argmax())
    at.session_state["table_trend"] = {"selection": {"rows": [busiest], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    last = trend.iloc[busiest]
    text = "\n".join(m.value for m in at.markdown)
    assert "**The cases behind it:** money decisions recorded" in text
    assert last["Service type"] in text
    assert "Filters: 27 Nov 2025 – 26 Nov 2026; all service types; all reasons; all reviewers." in caption_text(at)
    listed = next((df.value for df in at.dataframe if "Requested" in df.value.columns), None)
    assert listed is not None, caption_text(at)
    # the list is the number's cases: as many as the row's money outcomes, of that type only
    assert len(listed) == last["Money outcomes"]
    assert set(listed["Service type"]) == {last["Service type"]}
    assert any(b.label.startswith("Download CSV (") for b in at.get("download_button"))
    # picking a case gives a same-tab link to it
    at.session_state["table_drill_trend"] = {"selection": {"rows": [0], "columns": []}}
    at.run()
    links = at.get("page_link")
    assert any(f"Open case {listed['Case'].iloc[0]}" in link.proto.label for link in links)


def test_the_report_buttons_offer_the_workbook_and_the_html(app):
    at = open_page(app, MANAGER)
    labels = {b.label for b in at.get("download_button")}
    assert {"Report (XLSX)", "Report with charts (HTML)"} <= labels


# ---- drill-down from a chart point -------------------------------------------------------------------------


def _select_point(at, key: str, spec: dict, curve: int, i: int) -> None:
    """What Streamlit stores when a point of a Plotly chart is clicked (AppTest cannot click a chart)."""
    trace = spec["data"][curve]
    point = {"curve_number": curve, "point_number": i, "point_index": i, "x": trace["x"][i], "y": trace["y"][i]}
    at.session_state[key] = {"selection": {"points": [point], "point_indices": [i], "box": [], "lasso": []}}
    at.run()
    assert not at.exception, at.exception


def _listed(at):
    return next((df.value for df in at.dataframe if "Requested" in df.value.columns), None)


def test_selecting_a_bar_of_the_money_chart_lists_the_decisions_behind_it(app):
    at = open_page(app, MANAGER)
    spec = next(c for c in charts(at) if c["data"] and c["data"][0]["meta"].get("outcome") == "full_refund")
    bars = spec["data"][0]  # full refunds per period; customdata holds how many decisions each bar is
    i = max(range(len(bars["x"])), key=lambda j: bars["customdata"][j])
    _select_point(at, "ch_money", spec, 0, i)
    text = "\n".join(m.value for m in at.markdown)
    assert "**The cases behind it:** full refund decisions recorded" in text
    assert "Filters: 27 Nov 2025 – 26 Nov 2026; all service types; all reasons; all reviewers." in caption_text(at)
    listed = _listed(at)
    assert listed is not None, caption_text(at)
    # as many cases as the bar's decisions (at most the 1,000 newest are listed), every one a full refund
    assert len(listed) == min(bars["customdata"][i], 1000)
    assert set(listed["Outcome"]) == {OUTCOME_LABELS["full_refund"]}
    assert any(b.label.startswith("Download CSV (") for b in at.get("download_button"))


def test_selecting_a_point_of_the_refund_rate_chart_lists_that_period_and_type(app):
    at = open_page(app, MANAGER)
    spec = next(c for c in charts(at) if c["data"] and c["data"][0]["meta"].get("service_type") == "technical_support")
    trend = next(df.value for df in at.dataframe if "Cash refund rate (%)" in df.value.columns)
    _select_point(at, "ch_refund_count", spec, 0, 2)
    row = trend[(trend["Service type"] == "Technical support")].iloc[2]
    listed = _listed(at)
    assert listed is not None, caption_text(at)
    assert len(listed) == min(row["Money outcomes"], 1000)
    assert set(listed["Service type"]) == {"Technical support"}


def test_a_stale_chart_selection_selects_nothing(app):
    """A point of a period the chart no longer has (the filters changed) lists nothing, instead of whatever
    now sits at its position."""
    at = open_page(app, MANAGER)
    point = {"curve_number": 0, "point_number": 0, "point_index": 0, "x": "1999-01-01", "y": 0.1}
    at.session_state["ch_money"] = {"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}}
    at.run()
    assert not at.exception, at.exception
    assert "**The cases behind it:**" not in "\n".join(m.value for m in at.markdown)


def _panel(at) -> str:
    return next((m.value for m in at.markdown if m.value.startswith("**The cases behind it:**")), "")


def test_a_row_of_a_table_on_another_tab_lists_the_cases_of_the_number_picked(app):
    """The exceptions-by-reviewer row lists that reviewer's exceptions; picking "Pending" lists only those."""
    at = open_page(app, MANAGER)
    table = next(df.value for df in at.dataframe if "Reviewer" in df.value.columns and "Pending" in df.value.columns)
    i = int(table["Pending"].to_numpy().argmax())
    row = table.iloc[i]
    at.session_state["table_exc_rev"] = {"selection": {"rows": [i], "columns": []}}
    at.run()
    assert not at.exception, at.exception
    expected = "discretionary exceptions recorded 27 Nov 2025 – 26 Nov 2026 (every selected service type; decided by"
    assert f"{expected} {row['Reviewer']})" in _panel(at)
    assert len(_listed(at)) == row["Exceptions"]
    at.session_state["drill_pick_exc_rev_Exceptions_Approved_Pending_Rejected"] = "Pending"  # the control's pick
    at.run()
    assert not at.exception, at.exception
    assert "discretionary exceptions (pending)" in _panel(at)
    listed = _listed(at)
    assert len(listed) == row["Pending"] and set(listed["Approval"]) == {"Pending"}
    assert set(listed["Decided by"]) == {row["Reviewer"]}


def test_a_bar_of_the_backlog_chart_lists_the_open_cases_of_that_age(app):
    at = open_page(app, MANAGER)
    spec = next(c for c in charts(at) if c["data"] and c["data"][0]["meta"].get("drill") == "backlog")
    bars = spec["data"][1]  # the overdue cases per age
    i = max(range(len(bars["x"])), key=lambda j: bars["y"][j])
    _select_point(at, "ch_backlog", spec, 1, i)
    assert "cases not closed today, opened " in _panel(at) and ", overdue (every selected service type)" in _panel(at)
    listed = next(df.value for df in at.dataframe if "Opened on" in df.value.columns)
    assert len(listed) == min(bars["y"][i], 1000)
    assert (listed["Due on"] < date(2026, 11, 26)).all() and "Closed" not in set(listed["Status"])
