"""How fast the analytics page is at a million cases, against the naive way, in one run.

    python -m benchmarks.analytics [--db URL] [--runs 7] [--keep-copy]

Default database: data/large.db (`make demo-large`: 1,000,000 cases, ~10M services sold, --request-rate 0.1,
today = 2026-11-26). A database not yet at the head migration is never changed: a SQLite file
is copied next to it and the copy is migrated (and deleted afterwards unless --keep-copy); a PostgreSQL
database must be migrated first (`alembic upgrade head`).

Prints, for the default 12-month view as a manager:
  1. every query of desk.analytics.report (median of --runs, after one cold run);
  2. the page's server-side render time in AppTest, in a fresh process: first render (imports included),
     cold renders (the analytics caches cleared: every query runs, every figure is built; median) and warm
     renders (median);
     peak memory (tracemalloc during a cache-cold render, and the process's max RSS);
  3. the same headline numbers computed the naive way — decisions and cases read whole into pandas — in
     a fresh process: time, max RSS, the numbers side by side, and the ratio.
  4. every period preset of the page (this month ... last 12 months) in AppTest: a cold render (caches
     cleared) and the median warm render of each;
  5. the monthly report of the last whole month: the XLSX workbook and the HTML report (desk/report.py),
     each timed, with their sizes and the process's max RSS.
Targets on a 2-core machine: cold <= 1.0 s, warm <= 100 ms per preset, peak memory <= 400 MB, >= 10x the
naive way; the XLSX report <= 10 s, the HTML report <= 30 s. On a shared machine the presets also print the
process's CPU time per render, which other processes do not inflate.

    python -m benchmarks.analytics --only presets,report   # skip the slow naive comparison (and the rest)

--only runs only the named sections; the naive comparison (3) also runs the report() queries (1), whose
numbers and time it sets beside its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import tracemalloc
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TODAY = date(2026, 11, 26)
from benchmarks.common import LARGE_DB, head_revision  # noqa: E402

DEFAULT_DB = f"sqlite:///{LARGE_DB}"
MANAGER = "max@refund-desk.example"
PARTS = ("queries", "page", "naive", "presets", "report")  # the sections --only picks from


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---- children (run in fresh processes) -------------------------------------------------------------------


def child_page(url: str, runs: int) -> dict:
    """AppTest renders of the analytics page as a manager, in this (fresh) process."""
    os.environ["DATABASE_URL"] = url
    os.environ["REFUND_DESK_TODAY"] = TODAY.isoformat()
    t0 = time.perf_counter()
    from streamlit.testing.v1 import AppTest

    imports = time.perf_counter() - t0

    def render(at) -> float:
        t = time.perf_counter()
        at.run()
        elapsed = time.perf_counter() - t
        assert not at.exception, at.exception
        return elapsed

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["local_user_email"] = MANAGER
    at.run()
    at.switch_page("pages/analytics.py")
    first = render(at)  # the process's first render of the page: imports of plotly etc., empty caches
    assert at.title[0].value == "Analytics", "the analytics page did not render"
    charts = len(at.get("plotly_chart"))
    kpis = {m.label: m.value for m in at.metric}

    from ui.cache import clear_analytics_cache

    cold = []
    for _ in range(runs):
        clear_analytics_cache()  # every query runs and every figure is built again; the engine stays
        cold.append(render(at))
    warm = [render(at) for _ in range(runs)]

    clear_analytics_cache()
    tracemalloc.start()
    render(at)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "imports_s": imports,
        "first_s": first,
        "cold_s": cold,
        "warm_s": warm,
        "tracemalloc_peak_mb": peak / 2**20,
        "max_rss_mb": _rss_mb(),
        "charts": charts,
        "kpis": kpis,
    }


def child_presets(url: str, runs: int) -> dict:
    """Each period preset of the page: one cold render (caches cleared) and warm renders, in AppTest."""
    os.environ["DATABASE_URL"] = url
    os.environ["REFUND_DESK_TODAY"] = TODAY.isoformat()
    from streamlit.testing.v1 import AppTest

    from policy.vocabulary import PERIOD_PRESETS
    from ui.cache import clear_analytics_cache

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["local_user_email"] = MANAGER
    at.run()
    at.switch_page("pages/analytics.py")
    at.run()
    out = {}
    for preset in [p for p in PERIOD_PRESETS if p != "custom"]:
        at.selectbox(key="an_period").set_value(preset)
        colds, cold_cpus = [], []
        for _ in range(max(1, runs // 2)):  # a few cold renders: one alone is at the mercy of a busy machine
            clear_analytics_cache()
            t, c = time.perf_counter(), time.process_time()
            at.run()
            colds.append(time.perf_counter() - t)
            cold_cpus.append(time.process_time() - c)
            assert not at.exception, at.exception
        warm, warm_cpu = [], []
        for _ in range(runs):
            t, c = time.perf_counter(), time.process_time()
            at.run()
            warm.append(time.perf_counter() - t)
            warm_cpu.append(time.process_time() - c)
        out[preset] = {
            "cold_s": statistics.median(colds),
            "cold_p95_s": max(colds),
            "warm_s": statistics.median(warm),
            "warm_p95_s": sorted(warm)[int(0.95 * (len(warm) - 1))],
            # CPU seconds of this process (every thread): what the render costs, whatever else the machine runs
            "cold_cpu_s": statistics.median(cold_cpus),
            "warm_cpu_s": statistics.median(warm_cpu),
        }
    return {"presets": out, "max_rss_mb": _rss_mb()}


def child_report(url: str) -> dict:
    """The monthly report of the last whole month before TODAY: XLSX and HTML, timed apart."""
    from zoneinfo import ZoneInfo

    from data.db import open_database
    from desk import analytics, report
    from desk.auth import Actor
    from desk.review import build_view

    db = open_database(url)
    start, end = report.month_range(f"{TODAY.year}-{TODAY.month - 1:02d}", TODAY)
    tz, now = ZoneInfo("UTC"), __import__("datetime").datetime.now(ZoneInfo("UTC"))
    t0 = time.perf_counter()
    r = analytics.report(db, analytics.Filters(start, end), Actor(0, "bench", "bench", "manager"), TODAY)
    view = build_view(r)
    numbers = time.perf_counter() - t0
    t1 = time.perf_counter()
    xlsx = report.workbook_for(r, view.tables, tz, now)
    t2 = time.perf_counter()
    page = report.html_for(r, view.figures, view.tables, tz, now)
    t3 = time.perf_counter()
    db.dispose()
    return {
        "month": f"{start:%Y-%m}",
        "numbers_s": numbers,
        "xlsx_s": t2 - t1,
        "html_s": t3 - t2,
        "xlsx_kb": len(xlsx) / 1024,
        "html_kb": len(page.encode()) / 1024,
        "max_rss_mb": _rss_mb(),
    }


def child_naive(url: str, start: str, end: str, currency: str = "USD") -> dict:
    """The headline numbers with the whole decisions and cases tables in pandas (no SQL aggregates); money
    in `currency` only (each case with its service's currency, revenue from the per-currency sales rollup)."""
    import pandas as pd
    from sqlalchemy import text

    from data.db import open_database

    db = open_database(url)
    t0 = time.perf_counter()
    with db.engine.connect() as conn:
        decisions = pd.read_sql(text("SELECT * FROM decisions"), conn)
        cases = pd.read_sql(
            text("SELECT cases.*, services.currency FROM cases JOIN services ON services.id = cases.service_id"), conn
        )
        sales = pd.read_sql(text("SELECT * FROM sales_by_currency"), conn)
    loaded = time.perf_counter() - t0
    for frame, cols in ((decisions, ["decided_on"]), (cases, ["opened_on", "due_on"]), (sales, ["day"])):
        for c in cols:
            frame[c] = pd.to_datetime(frame[c])
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    d = decisions[(decisions["decided_on"] >= lo) & (decisions["decided_on"] <= hi)]
    eff = d[~d["superseded"].astype(bool) & d["approval_status"].isin(["not_required", "approved"])]
    money = eff[eff["outcome"].isin(["full_refund", "partial_refund", "credit"])]
    money_currency = money["case_id"].map(cases.set_index("id")["currency"])
    s = sales[(sales["day"] >= lo) & (sales["day"] <= hi)]
    s_revenue = s.loc[s["currency"] == currency, "revenue_cents"].sum()
    opened = cases[(cases["opened_on"] >= lo) & (cases["opened_on"] <= hi)]
    joined = eff.merge(cases[["id", "opened_on", "due_on"]], left_on="case_id", right_on="id")
    lead = (joined["decided_on"] - joined["opened_on"]).dt.days.clip(lower=0)
    rank = {"deny": 0, "fix": 1, "credit": 2, "partial_refund": 3, "full_refund": 4}
    numbers = {
        "refund_rate": len(money) / s["services_sold"].sum(),
        "refund_value_rate": money.loc[money_currency == currency, "amount_cents"].sum() / s_revenue,
        "credit_rate": (money["outcome"] == "credit").sum() / s["services_sold"].sum(),
        "request_rate": len(opened) / s["services_sold"].sum(),
        "decisions": len(d),
        "exception_share": d["is_exception"].astype(bool).sum() / len(d),
        "override_rate": (d["outcome"] != d["recommended_outcome"]).sum() / len(d),
        "more_generous": int((d["outcome"].map(rank) > d["recommended_outcome"].map(rank)).sum()),
        "lead_median": float(lead.quantile(0.5, interpolation="lower")),
        "within_due_share": (joined["decided_on"] <= joined["due_on"]).sum() / len(joined),
        "pending_approvals": int(
            ((decisions["approval_status"] == "pending") & ~decisions["superseded"].astype(bool)).sum()
        ),
    }
    elapsed = time.perf_counter() - t0
    db.dispose()
    return {
        "load_s": loaded,
        "total_s": elapsed,
        "max_rss_mb": _rss_mb(),
        "numbers": {k: float(v) for k, v in numbers.items()},
    }


def _run_child(mode: str, *args: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.analytics", "--child", mode, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"{mode} run failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# ---- the database ----------------------------------------------------------------------------------------


def _revision(url: str) -> str | None:
    from sqlalchemy import text

    from data.db import open_database

    db = open_database(url)
    try:
        with db.engine.connect() as c:
            return c.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        db.dispose()


def prepare(url: str, keep_copy: bool) -> tuple[str, Path | None]:
    """The URL to benchmark: the database itself when it is at HEAD, else a migrated copy (SQLite)."""
    from sqlalchemy.engine import make_url

    rev = _revision(url)
    if rev == head_revision():
        return url, None
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        raise SystemExit(f"{url} is at revision {rev}; run `alembic upgrade head` on it first.")
    src = Path(u.database)
    copy = src.with_name(f"analytics-copy-{src.stem}.db")
    print(f"{src.name} is at revision {rev}: copying it to {copy} and migrating the copy (it is read-only) ...")
    t0 = time.perf_counter()
    shutil.copyfile(src, copy)
    copied = time.perf_counter() - t0
    from data.db import open_database
    from data.migrate import upgrade

    db = open_database(f"sqlite:///{copy}")
    t1 = time.perf_counter()
    upgrade(db.engine)
    with db.engine.connect() as c:
        c.exec_driver_sql("ANALYZE")
    db.dispose()
    print(
        f"  copied in {copied:.1f} s; migrations to head (rollup backfill, triggers, indexes) in "
        f"{time.perf_counter() - t1:.1f} s{' (kept)' if keep_copy else ''}"
    )
    return f"sqlite:///{copy}", copy


# ---- the report ------------------------------------------------------------------------------------------


def _ms(x: float) -> str:
    return f"{x * 1000:8.1f} ms"


def main(argv: list[str] | None = None) -> int:  # noqa: C901 — one section per figure the script prints
    ap = argparse.ArgumentParser(prog="python -m benchmarks.analytics", description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default=DEFAULT_DB, help=f"database URL (default {DEFAULT_DB})")
    ap.add_argument("--runs", type=int, default=7, help="repetitions for the medians (default 7)")
    ap.add_argument("--keep-copy", action="store_true", help="keep the migrated copy of an old SQLite database")
    ap.add_argument("--only", default=",".join(PARTS), help="which parts to run (comma-separated; default all)")
    ap.add_argument("--child", choices=["page", "naive", "presets", "report"], help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child == "page":
        print(json.dumps(child_page(a.args[0], int(a.args[1]))))
        return 0
    if a.child == "naive":
        print(json.dumps(child_naive(*a.args)))
        return 0
    if a.child == "presets":
        print(json.dumps(child_presets(a.args[0], int(a.args[1]))))
        return 0
    if a.child == "report":
        print(json.dumps(child_report(a.args[0])))
        return 0

    from data.db import describe_url, open_database
    from desk import analytics
    from desk.auth import find_active_user

    url, copy = prepare(a.db, a.keep_copy)
    try:
        db = open_database(url)
        actor = find_active_user(db, MANAGER)
        f = analytics.default_filters(TODAY)
        with db.engine.connect() as c:
            n_cases = c.exec_driver_sql("SELECT COUNT(*) FROM cases").scalar()
            n_dec = c.exec_driver_sql("SELECT COUNT(*) FROM decisions").scalar()
            sold = c.exec_driver_sql("SELECT SUM(services_sold) FROM sales_daily").scalar()
        print(f"\nDatabase: {describe_url(url)} — {n_cases:,} cases, {n_dec:,} decisions, {int(sold):,} services sold")
        print(f"View: {f.start} – {f.end} (default 12 months), all service types, reasons and reviewers; manager\n")

        only = set(a.only.split(","))
        unknown = only - set(PARTS)
        if unknown:
            raise SystemExit(f"--only: unknown part(s) {', '.join(sorted(unknown))}; choose from {', '.join(PARTS)}")
        cold = cold_report = None
        totals: list[float] = []
        # 1. the queries (also for the naive comparison, which sets its numbers and time beside them)
        if only & {"queries", "naive"}:
            t0 = time.perf_counter()
            cold_report = analytics.report(db, f, actor, TODAY)
            cold_total = time.perf_counter() - t0
            per_query: dict[str, list[float]] = {}
            for _ in range(a.runs):
                t0 = time.perf_counter()
                r = analytics.report(db, f, actor, TODAY)
                totals.append(time.perf_counter() - t0)
                for k, v in r.timings_ms.items():
                    per_query.setdefault(k, []).append(v / 1000)
            print(
                f"1. desk.analytics.report(): first {_ms(cold_total)}, median of {a.runs} "
                f"{_ms(statistics.median(totals))}"
            )
            for name, ts in per_query.items():
                print(
                    f"   {_ms(statistics.median(ts))}  (p95 {_ms(sorted(ts)[int(0.95 * (len(ts) - 1))]).strip()})  "
                    f"{name}"
                )
        db.dispose()

        # 2. the page
        if "page" in only:
            page = _run_child("page", url, str(a.runs))
            cold, warm = statistics.median(page["cold_s"]), statistics.median(page["warm_s"])
            print(f"\n2. Analytics page, server-side render in AppTest ({page['charts']} Plotly charts):")
            print(
                f"   first render in a fresh process {_ms(page['first_s'])}  (streamlit imports before it: "
                f"{page['imports_s']:.2f} s)"
            )
            print(
                f"   cold render (caches cleared)    {_ms(cold)}  median of {a.runs}, "
                f"max {_ms(max(page['cold_s'])).strip()}"
                f"   target <= 1000 ms: {'met' if cold <= 1.0 else 'MISSED'}"
            )
            print(
                f"   warm render (cached)            {_ms(warm)}  median of {a.runs}, "
                f"max {_ms(max(page['warm_s'])).strip()}"
                f"   target <= 100 ms: {'met' if warm <= 0.100 else 'MISSED'}"
            )
            print(
                f"   peak memory: tracemalloc {page['tracemalloc_peak_mb']:.1f} MB during a cold render; "
                f"process max RSS {page['max_rss_mb']:.0f} MB   target <= 400 MB: "
                f"{'met' if page['max_rss_mb'] <= 400 else 'MISSED'}"
            )

        # 3. the naive way
        if "naive" in only and cold_report is not None:
            naive = _run_child("naive", url, f.start.isoformat(), f.end.isoformat())
            k = cold_report.kpis
            ours = {
                "refund_rate": k.refund_rate,
                "refund_value_rate": k.refund_value_rate,
                "credit_rate": k.credit_rate,
                "request_rate": k.request_rate,
                "decisions": k.decisions,
                "exception_share": k.exception_share,
                "override_rate": k.override_rate,
                "more_generous": int(cold_report.by_reviewer["more_generous"].sum()),
                "lead_median": k.lead_median,
                "within_due_share": k.within_due_share,
                "pending_approvals": cold_report.pending_approvals,
            }
            sql_s = statistics.median(totals)
            print("\n3. The naive way (decisions + cases read whole into pandas, then filtered and grouped there):")
            print(
                f"   {naive['total_s']:.2f} s ({naive['load_s']:.2f} s reading the tables), "
                f"max RSS {naive['max_rss_mb']:.0f} MB"
            )
            print(f"   {'headline number':<20}{'SQL + rollups':>16}{'naive pandas':>16}")
            same = True
            for name, value in ours.items():
                other = naive["numbers"][name]
                ok = abs(float(value) - other) <= 1e-9 * max(1.0, abs(other))
                same &= ok
                print(f"   {name:<20}{float(value):>16.6g}{other:>16.6g}{'' if ok else '   DIFFERENT'}")
            print(f"   the numbers {'agree' if same else 'DISAGREE'}")
            print(
                f"   ratio: naive {naive['total_s']:.2f} s / report() {sql_s * 1000:.0f} ms = "
                f"{naive['total_s'] / sql_s:.0f}x"
                + (
                    f";  naive / cold page render {cold * 1000:.0f} ms = {naive['total_s'] / cold:.1f}x   target >= "
                    f"10x: {'met' if naive['total_s'] / cold >= 10 else 'MISSED'}"
                    if cold
                    else ""
                )
            )

        # 4. the period presets
        if "presets" in only:
            presets = _run_child("presets", url, str(a.runs))
            print(
                f"\n4. Period presets, AppTest render (cold: caches cleared, median of {max(1, a.runs // 2)}; "
                f"warm: median of {a.runs}); wall clock, and in brackets the process's CPU time "
                "(what a busy machine does not inflate):"
            )
            for name, t in presets["presets"].items():
                ok = t["cold_s"] <= 1.0 and t["warm_s"] <= 0.100
                print(
                    f"   {name:<16} cold {_ms(t['cold_s'])} (cpu {_ms(t['cold_cpu_s']).strip()}, max "
                    f"{_ms(t['cold_p95_s']).strip()})   warm {_ms(t['warm_s'])} (cpu {_ms(t['warm_cpu_s']).strip()}, "
                    f"p95 {_ms(t['warm_p95_s']).strip()})   targets <= 1000 / 100 ms: {'met' if ok else 'MISSED'}"
                )
            print(f"   process max RSS {presets['max_rss_mb']:.0f} MB")

        # 5. the report
        if "report" in only:
            rep = _run_child("report", url)
            print(f"\n5. Monthly report of {rep['month']} (desk/report.py), in a fresh process:")
            print(f"   numbers + view {_ms(rep['numbers_s'])}")
            print(
                f"   XLSX workbook  {_ms(rep['xlsx_s'])}  ({rep['xlsx_kb']:.0f} KB)   target <= 10 s: "
                f"{'met' if rep['numbers_s'] + rep['xlsx_s'] <= 10 else 'MISSED'}"
            )
            print(f"   HTML report    {_ms(rep['html_s'])}  ({rep['html_kb']:.0f} KB, plotly.js embedded)")
            print(f"   process max RSS {rep['max_rss_mb']:.0f} MB")
    finally:
        if copy is not None and not a.keep_copy:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{copy}{suffix}").unlink(missing_ok=True)
            print(f"\n(removed the migrated copy {copy.name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
