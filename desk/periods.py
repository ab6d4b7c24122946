"""The analytics page's periods and the desk's time zone. Pure: dates and a zone in, dates out.

Presets (docs/metrics.md, "Periods"): every range ends on or before today, in the desk's time zone; a
period still running ("this month", "this quarter", "year to date") ends today; "last 12 months" is the
day after today's date a year ago through today (the page's default, as before).

The desk time zone comes from configuration ($REFUND_DESK_TIMEZONE, else `[desk] timezone` in
.streamlit/secrets.toml, else UTC; read in ui/runtime.py) and decides what "today" is — so the day a
decision is dated, and every day and month boundary of the analytics — and how every time is shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from policy.vocabulary import PERIOD_PRESET_LABELS, PERIOD_PRESETS

DEFAULT_PRESET = "last_12_months"
DEFAULT_TIMEZONE = "UTC"
PERIOD_PARAM, FROM_PARAM, TO_PARAM = "period", "from", "to"
EARLIEST = date(2000, 1, 1)  # a link's custom range may not start before this


def zone(name: str | None) -> tuple[tzinfo, str | None]:
    """The desk time zone named `name` (an IANA name such as "Europe/Berlin"), and a warning when it is not
    a time zone (then UTC)."""
    if not name or not str(name).strip():
        return ZoneInfo(DEFAULT_TIMEZONE), None
    try:
        return ZoneInfo(str(name).strip()), None
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE), (
            f"The configured desk time zone {str(name)!r} is not valid (expected a name such as Europe/Berlin); "
            f"using {DEFAULT_TIMEZONE}."
        )


def zone_name(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


def now_in(tz: tzinfo, now: datetime | None = None) -> datetime:
    """`now` (aware, or naive UTC as the database stores it; default: the current time) in zone `tz`."""
    now = now or datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(tz)


def format_time(moment: datetime, tz: tzinfo, fmt: str = "%H:%M:%S") -> str:
    """A time as the desk shows it: in the desk zone, with the zone named ("20:08:53 Europe/Berlin")."""
    return f"{now_in(tz, moment):{fmt}} {zone_name(tz)}"


def _quarter_start(d: date) -> date:
    return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def _months_back(d: date, months: int) -> date:
    """The first of the month `months` before d's month."""
    index = d.year * 12 + d.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """[start, end] (inclusive) of a preset as of `today`. "custom" has no range of its own: ValueError."""
    if preset == "this_month":
        return today.replace(day=1), today
    if preset == "last_month":
        first = _months_back(today, 1)
        return first, today.replace(day=1) - timedelta(days=1)
    if preset == "this_quarter":
        return _quarter_start(today), today
    if preset == "last_quarter":
        this = _quarter_start(today)
        return _months_back(this, 3), this - timedelta(days=1)
    if preset == "year_to_date":
        return date(today.year, 1, 1), today
    if preset == "last_12_months":
        try:
            year_ago = today.replace(year=today.year - 1)
        except ValueError:  # 29 February
            year_ago = today.replace(year=today.year - 1, day=28)
        return year_ago + timedelta(days=1), today
    raise ValueError(f"no range for preset {preset!r}")


def preset_label(preset: str) -> str:
    return PERIOD_PRESET_LABELS[preset]


def _one(value: object) -> str:
    if isinstance(value, list | tuple):
        value = value[-1] if value else ""
    return str(value)


def from_query(params: Mapping[str, object], today: date) -> tuple[str, date, date, list[str]]:
    """(preset, start, end, problems) from link parameters `period` (a preset; "custom" with `from` and
    `to`, YYYY-MM-DD). A value that cannot be used gives a message and the default (last 12 months)."""
    problems: list[str] = []
    default = (DEFAULT_PRESET, *preset_range(DEFAULT_PRESET, today))
    if PERIOD_PARAM not in params:
        return (*default, problems)
    preset = _one(params[PERIOD_PARAM])
    if preset not in PERIOD_PRESETS:
        choices = ", ".join(PERIOD_PRESETS)
        problems.append(
            f"Link parameter period={preset!r} is not valid (expected one of {choices}); using the default instead."
        )
        return (*default, problems)
    if preset != "custom":
        return (preset, *preset_range(preset, today), problems)
    dates = []
    for name in (FROM_PARAM, TO_PARAM):
        text = _one(params.get(name, ""))
        try:
            d = date.fromisoformat(text)
            if not EARLIEST <= d <= today:
                raise ValueError(f"expected a date from {EARLIEST} to today, {today}")
        except ValueError as exc:
            reason = str(exc) if "expected" in str(exc) else "expected a date as YYYY-MM-DD"
            problems.append(f"Link parameter {name}={text!r} is not valid ({reason}); using the default instead.")
            return (*default, problems)
        dates.append(d)
    if dates[0] > dates[1]:
        problems.append(
            f"Link parameters from={dates[0]} and to={dates[1]} are not valid (the start is after the end); "
            "using the default instead."
        )
        return (*default, problems)
    return (preset, dates[0], dates[1], problems)


def to_query(preset: str, start: date, end: date) -> dict[str, str]:
    """The link parameters that keep a choice (the inverse of `from_query`)."""
    if preset == "custom":
        return {PERIOD_PARAM: preset, FROM_PARAM: start.isoformat(), TO_PARAM: end.isoformat()}
    return {PERIOD_PARAM: preset}
