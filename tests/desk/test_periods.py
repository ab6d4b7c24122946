"""Date presets and the desk time zone (desk/periods.py), as dated scenarios at the edges of months,
quarters and years."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from desk import periods


@pytest.mark.parametrize(
    ("preset", "today", "start", "end"),
    [
        ("this_month", date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1)),
        ("last_month", date(2026, 1, 31), date(2025, 12, 1), date(2025, 12, 31)),
        ("last_month", date(2026, 3, 31), date(2026, 2, 1), date(2026, 2, 28)),
        ("this_quarter", date(2026, 12, 31), date(2026, 10, 1), date(2026, 12, 31)),
        ("last_quarter", date(2026, 2, 3), date(2025, 10, 1), date(2025, 12, 31)),
        ("last_quarter", date(2026, 4, 1), date(2026, 1, 1), date(2026, 3, 31)),
        ("year_to_date", date(2026, 1, 1), date(2026, 1, 1), date(2026, 1, 1)),
        ("last_12_months", date(2024, 2, 29), date(2023, 3, 1), date(2024, 2, 29)),
        ("last_12_months", date(2026, 11, 26), date(2025, 11, 27), date(2026, 11, 26)),
    ],
)
def test_each_preset_covers_its_days_and_ends_by_today(preset, today, start, end):
    assert periods.preset_range(preset, today) == (start, end)


def test_custom_has_no_range_of_its_own():
    with pytest.raises(ValueError):
        periods.preset_range("custom", date(2026, 11, 26))


def test_a_choice_survives_the_round_trip_through_the_link():
    today = date(2026, 11, 26)
    for preset in ("last_quarter", "custom"):
        start, end = (date(2026, 2, 1), date(2026, 2, 9))
        if preset != "custom":
            start, end = periods.preset_range(preset, today)
        got = periods.from_query(periods.to_query(preset, start, end), today)
        assert got == (preset, start, end, [])


def test_the_time_zone_decides_the_day_near_midnight():
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    berlin, problem = periods.zone("Europe/Berlin")
    assert problem is None
    assert periods.now_in(berlin, late).date() == date(2026, 12, 1)
    assert periods.now_in(periods.zone(None)[0], late).date() == date(2026, 11, 30)
    assert periods.format_time(late, berlin) == "00:30:00 Europe/Berlin"
    # the database's naive times are UTC
    assert periods.format_time(late.replace(tzinfo=None), berlin) == "00:30:00 Europe/Berlin"


@pytest.mark.parametrize("name", ["Mars/Olympus", "../etc/passwd", "UTC+2"])
def test_a_bad_zone_name_falls_back_to_utc_with_a_warning(name):
    tz, problem = periods.zone(name)
    assert periods.zone_name(tz) == "UTC"
    assert problem and "not valid" in problem and "using UTC" in problem
