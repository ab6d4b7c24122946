"""The reviewers' hot paths at 1,000,000 cases: queue pages (first and 300 deep), filtered counts, the case page
in AppTest, and decision commits with four writer processes on SQLite.

    python -m benchmarks.queue                          # a copy of data/large.db (make demo-large), deleted after
    python -m benchmarks.queue --db sqlite:////path/to/my-copy.db      # a database you made; it WRITES decisions
    python -m benchmarks.queue --cases 200000                   # generate a fresh database (--request-rate 0.1)
    python -m benchmarks.queue --db URL --case-page-only [--case-tab 'Customer history'] [--profile 20]

Targets (issue 4, issue 12): queue query p95 <= 5 ms at any depth for every sort and for "my cases"; name and
email search p95 <= 20 ms; case page warm render <= 150 ms in AppTest;
decision commit p95 <= 50 ms with 4 concurrent writers, and no "database is locked" error ever.
Medians and 95th percentiles come from one run of this script; the machine is shared, so expect noise.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from benchmarks.common import LARGE_DB as BIG  # noqa: E402
from benchmarks.common import SCRATCH, require_large_db  # noqa: E402
from data.db import describe_url, open_database  # noqa: E402
from data.models import Case  # noqa: E402

TODAY = date(2026, 11, 26)
REVIEWERS = ["rita", "omar", "li", "sofia"]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


class Timings(list):
    """Wall-clock milliseconds of each run, plus the process CPU milliseconds they used in total."""

    cpu_ms: float = 0.0


def timed(fn: Callable[[], object], n: int, warmup: int = 3) -> Timings:
    for _ in range(warmup):
        fn()
    out = Timings()
    cpu = time.process_time()
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    out.cpu_ms = (time.process_time() - cpu) * 1000
    return out


def line(label: str, ms: list[float], target: float | None = None) -> None:
    p50, p95 = statistics.median(ms), pct(ms, 95)
    verdict = ""
    if target is not None:
        verdict = f"   target p95 <= {target:g} ms: {'met' if p95 <= target else 'MISSED'}"
    cpu = f"   cpu {ms.cpu_ms / len(ms):6.2f} ms/run" if isinstance(ms, Timings) and ms.cpu_ms else ""
    print(f"  {label:<58} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms   (n={len(ms)}){cpu}{verdict}", flush=True)


# ---- the queue ---------------------------------------------------------------------------------------------------


def bench_queue(url: str, runs: int) -> None:
    from desk.auth import find_active_user
    from desk.queue import QueueFilters, count_matching, open_cases

    db = open_database(url)
    rita = find_active_user(db, "rita@refund-desk.example")
    base = QueueFilters()
    print("Queue (desk.queue.open_cases: keyset SQL + the policy verdict of each of the 50 rows)")
    first = open_cases(db, actor=rita, filters=base, today=TODAY)
    cursor, depth = None, 0
    started = time.perf_counter()
    while depth < 299:  # walk to page 300 the way a user would: cursor after cursor
        page = open_cases(db, actor=rita, filters=base, after=cursor, today=TODAY)
        if page.next_cursor is None:
            break
        cursor, depth = page.next_cursor, depth + 1
    walk_ms = (time.perf_counter() - started) * 1000
    print(
        f"  (walked {depth} pages to reach page {depth + 1} in {walk_ms:,.0f} ms, "
        f"{walk_ms / max(depth, 1):.2f} ms a page)"
    )
    line("first page", timed(lambda: open_cases(db, actor=rita, filters=base, today=TODAY), runs), 5)
    line(
        f"page {depth + 1} (keyset cursor, no OFFSET)",
        timed(lambda: open_cases(db, actor=rita, filters=base, after=cursor, today=TODAY), runs),
        5,
    )
    from desk.queue import SORTS

    print("  every sort (each on its own partial index over the open cases), first page and 10 pages deep:")
    for sort, (label, _column, _desc) in SORTS.items():
        by = QueueFilters(sort=sort)
        line(f"first page, {label}", timed(lambda by=by: open_cases(db, actor=rita, filters=by, today=TODAY), runs), 5)
        deep = None
        for _ in range(10):
            nxt = open_cases(db, actor=rita, filters=by, after=deep, today=TODAY).next_cursor
            if nxt is None:
                break
            deep = nxt
        line(
            f"page 11, {label}",
            timed(lambda by=by, deep=deep: open_cases(db, actor=rita, filters=by, after=deep, today=TODAY), runs),
            5,
        )
    filtered = QueueFilters(reasons=("our_error", "technical_issue"), assignee="unassigned")
    line(
        "first page, reason + unassigned filter",
        timed(lambda: open_cases(db, actor=rita, filters=filtered, today=TODAY), runs),
        5,
    )
    mine = QueueFilters(assignee="mine", statuses=("open",))
    line("first page, my open cases", timed(lambda: open_cases(db, actor=rita, filters=mine, today=TODAY), runs), 5)
    all_mine = QueueFilters(assignee="mine")
    line("first page, my cases", timed(lambda: open_cases(db, actor=rita, filters=all_mine, today=TODAY), runs), 5)
    for sort in [s for s in SORTS if s != "due"]:  # each on its (assignee_id, key, id) index (migration 0013)
        mine_by = QueueFilters(assignee="mine", sort=sort)
        line(
            f"first page, my cases by {sort}",
            timed(lambda mine_by=mine_by: open_cases(db, actor=rita, filters=mine_by, today=TODAY), runs),
            5,
        )
    by_id = QueueFilters(text=str(first.rows[0].case_id))
    line("search by case number", timed(lambda: open_cases(db, actor=rita, filters=by_id, today=TODAY), runs), 5)
    by_name = QueueFilters(text="smith")
    search_runs = max(20, runs // 4)
    print(
        "  name and email search over queue_search, the open cases (SQLite FTS5 trigram / PostgreSQL pg_trgm;\n"
        "  under 3 characters a scan of the open cases): first page, then the count line (capped at 1,000)"
    )
    for text in ("smith", "Li Wei", "maria.g", "example.com", "@corp", "zzqx", "wu", "an", "m", "e"):
        found = QueueFilters(text=text)
        n = count_matching(db, actor=rita, filters=found, today=TODAY)
        shown = f"more than {n.total:,}" if n.capped else f"{n.total:,}"
        line(
            f"search {text!r} ({shown} open cases match)",
            timed(lambda found=found: open_cases(db, actor=rita, filters=found, today=TODAY), search_runs),
            20,
        )
        line(
            f"  count line for {text!r}",
            timed(lambda found=found: count_matching(db, actor=rita, filters=found, today=TODAY), search_runs),
            20,
        )
        # a common term in every order (walked along queue_search's own sort index, migration 0013); others by
        # customer only
        for sort in [s for s in SORTS if s != "due"] if text in ("example.com", "@corp", "e") else ["customer"]:
            by_sort = QueueFilters(text=text, sort=sort)
            line(
                f"  sorted by {sort}, {text!r}",
                timed(lambda f=by_sort: open_cases(db, actor=rita, filters=f, today=TODAY), search_runs),
                20,
            )
        mine_found = QueueFilters(text=text, assignee="mine")
        line(
            f"  my cases, {text!r}",
            timed(lambda f=mine_found: open_cases(db, actor=rita, filters=f, today=TODAY), search_runs),
            20,
        )

    # the SQL alone (the same statement open_cases runs), to separate it from building rows and verdicts
    from desk import queue as q

    with db.engine.connect() as conn:
        dialect = db.engine.dialect.name
        first_sql = q._page_statement(base, rita.id, False, 50, dialect)
        deep_sql = q._page_statement(base, rita.id, True, 50, dialect)
        deep_params = {"after_value": cursor.value, "after_id": cursor.id}
        line("SQL only, first page", timed(lambda: conn.execute(first_sql).all(), runs), 5)
        line(f"SQL only, page {depth + 1}", timed(lambda: conn.execute(deep_sql, deep_params).all(), runs), 5)

    print("Counts for the filter line (count_matching: total, overdue, awaiting approval)")
    line("all open cases", timed(lambda: count_matching(db, actor=rita, filters=base, today=TODAY), max(10, runs // 5)))
    line(
        "reason + unassigned",
        timed(lambda: count_matching(db, actor=rita, filters=filtered, today=TODAY), max(10, runs // 5)),
    )
    line(
        "awaiting approval (the managers' preset)",
        timed(
            lambda: count_matching(db, actor=rita, filters=QueueFilters(statuses=("awaiting_approval",)), today=TODAY),
            max(10, runs // 5),
        ),
    )
    line(
        "search by name 'smith'",
        timed(lambda: count_matching(db, actor=rita, filters=by_name, today=TODAY), max(5, runs // 10)),
    )
    db.dispose()


# ---- the case page in AppTest -----------------------------------------------------------------------------------


class SqlCounter:
    """Statements sent and connections checked out from the pool, by every engine of this process (the page's
    engine lives in Streamlit's resource cache). On PostgreSQL each checkout also costs a ping, a BEGIN and a
    ROLLBACK: round trips the statement count does not show."""

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine
        from sqlalchemy.pool import Pool

        self.statements = self.checkouts = 0
        self.texts: list[str] = []
        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Pool, "checkout", self._checkout)

    def _statement(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements += 1
        self.texts.append(" ".join(statement.split())[:110])

    def _checkout(self, *_args) -> None:
        self.checkouts += 1

    def reset(self) -> None:
        self.statements = self.checkouts = 0
        self.texts = []


def profile_reruns(rerun: Callable[[], None], n: int, out: str | None) -> None:
    """cProfile `n` reruns in the script's own thread (a profiler only sees the thread that enabled it)."""
    import cProfile
    import pstats

    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    prof = cProfile.Profile()
    original = ScriptRunner._run_script

    def profiled(self, rerun_data):
        prof.enable()
        try:
            return original(self, rerun_data)
        finally:
            prof.disable()

    ScriptRunner._run_script = profiled
    try:
        for _ in range(n):
            rerun()
    finally:
        ScriptRunner._run_script = original
    if out:
        prof.dump_stats(out)
    print(f"  cProfile of {n} warm reruns (cumulative, top 45):")
    pstats.Stats(prof, stream=sys.stdout).sort_stats("cumulative").print_stats(45)


def bench_case_page(
    url: str,
    runs: int,
    case_id: int,
    *,
    tab: str | None = None,
    profile: int = 0,
    profile_out: str | None = None,
    show_sql: bool = False,
) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ["REFUND_DESK_TODAY"] = TODAY.isoformat()
    from streamlit.testing.v1 import AppTest

    counter = SqlCounter()
    shown = f", tab {tab!r} open" if tab else ""
    print(f"Case page in AppTest (app.py + pages/case.py?case={case_id}{shown}: guard, case_detail, verdict, history)")
    started = time.perf_counter()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    at.query_params["case"] = str(case_id)
    at.switch_page("pages/case.py").run()
    if tab:
        at.session_state[f"case_tabs_{case_id}"] = tab
        at.run()
    cold = (time.perf_counter() - started) * 1000
    if at.exception:
        raise SystemExit(f"the case page failed: {at.exception}")
    print(f"  {'cold (first run in the process: imports, engine, first queries)':<58} {cold:8.0f} ms")

    def rerun():
        at.run()
        assert not at.exception

    rerun()
    counter.reset()
    rerun()
    statements, checkouts, texts = counter.statements, counter.checkouts, list(counter.texts)
    line("warm (a rerun, as after any interaction)", timed(rerun, runs), 150)
    print(f"  SQL per warm rerun: {statements} statements, {checkouts} connection checkouts")
    if show_sql:
        for text in texts:
            print("    " + text)
    if profile:
        profile_reruns(rerun, profile, profile_out)
    if tab is None and not profile:
        at2 = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        at2.switch_page("pages/queue.py").run()
        line("queue page warm rerun (for comparison)", timed(lambda: at2.run(), runs))


# ---- decisions with four writer processes ----------------------------------------------------------------------


def _writer(url: str, email: str, plan: list, barrier, results) -> None:
    from desk.auth import find_active_user
    from desk.decisions import decide
    from desk.errors import StaleCase

    db = open_database(url)
    actor = find_active_user(db, email)
    won: list[float] = []
    stale = locked = 0
    errors: list[str] = []
    barrier.wait(timeout=300)
    began = time.perf_counter()
    for case_id, seen, outcome, amount in plan:
        started = time.perf_counter()
        try:
            decide(db, actor.id, case_id, outcome, amount, "Benchmark decision.", seen, uuid.uuid4().hex, today=TODAY)
        except StaleCase:
            stale += 1
        except Exception as exc:  # noqa: BLE001 - reported
            locked += "locked" in str(exc)
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
        else:
            won.append((time.perf_counter() - started) * 1000)
    elapsed = time.perf_counter() - began
    db.dispose()
    results.put((won, stale, locked, errors, elapsed))


def _plans(url: str, n: int) -> list:
    from desk.cases import case_detail

    db = open_database(url)
    with db.read() as s:
        ids = list(
            s.scalars(
                select(Case.id).where(Case.status == "open").order_by(Case.due_on.desc(), Case.id.desc()).limit(n)
            )
        )
    plan = []
    for cid in ids:
        d = case_detail(db, cid, TODAY)
        v = d.verdict
        if v is None:
            continue
        outcome, paid = v.recommended_outcome, round(v.amount_paid * 100)
        amount = {"full_refund": paid, "partial_refund": max(1, paid // 2), "credit": max(1, paid // 3)}.get(outcome)
        plan.append((cid, d.version, outcome, amount))
    db.dispose()
    return plan


def _run_writers(url: str, plans: list[list]) -> tuple[list[float], int, int, list[str], float]:
    import benchmarks.queue as this  # by module path: spawned children import it (AppTest rebinds __main__)

    ctx = multiprocessing.get_context("spawn")
    barrier, results = ctx.Barrier(len(plans)), ctx.Queue()
    procs = [
        ctx.Process(target=this._writer, args=(url, f"{REVIEWERS[i]}@refund-desk.example", plan, barrier, results))
        for i, plan in enumerate(plans)
    ]
    for p in procs:
        p.start()
    reports = [results.get(timeout=600) for _ in procs]
    wall = max(r[4] for r in reports)  # from the barrier to the last writer's last commit
    for p in procs:
        p.join()
    won = [ms for r in reports for ms in r[0]]
    return won, sum(r[1] for r in reports), sum(r[2] for r in reports), [e for r in reports for e in r[3]], wall


def bench_decisions(url: str, per_writer: int) -> None:
    print(f"Decisions: 4 writer processes (spawned), each deciding {per_writer} different open cases at once")
    plan = _plans(url, 4 * per_writer + 50)
    own, shared = plan[: 4 * per_writer], plan[4 * per_writer :]
    won, stale, locked, errors, wall = _run_writers(url, [own[i::4] for i in range(4)])
    line("decide(): authorize + BEGIN IMMEDIATE + version check + decision + event, committed", won, 50)
    print(
        f"  {len(won)} committed in {wall:.1f} s ({len(won) / wall:.0f} decisions/s); stale {stale}; "
        f"'database is locked' {locked}; other errors {len(errors)}"
    )
    for e in errors[:3]:
        print("    " + e)
    print(f"Contention: the same {len(shared)} open cases decided by all 4 processes at once")
    won, stale, locked, errors, wall = _run_writers(url, [shared[i * 12 :] + shared[: i * 12] for i in range(4)])
    line("decide() that won", won, 50)
    print(
        f"  decided once: {len(won)} of {len(shared)}; refused as stale: {stale} (expected {3 * len(shared)}); "
        f"'database is locked' {locked}; other errors {len(errors)}"
    )


# ---- the database --------------------------------------------------------------------------------------------------


def prepare(args) -> tuple[str, Path | None]:
    if args.db:
        return args.db, None
    if args.cases:
        from data.generate import Plan, generate
        from data.migrate import upgrade

        path = SCRATCH / f"queue-gen-{args.cases}.db"
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        db = open_database(url)
        upgrade(db.engine)
        print(f"Generating {args.cases:,} cases (--request-rate 0.1) into {path} ...", flush=True)
        generate(db, Plan(cases=args.cases, seed=7, request_rate=0.1, today=TODAY), quiet=True)
        db.dispose()
        return url, path
    require_large_db(BIG)
    copy = SCRATCH / "queue-bench-copy.db"
    print(
        f"Copying {BIG} ({BIG.stat().st_size / 1e9:.1f} GB) to {copy} (the benchmark writes decisions) ...", flush=True
    )
    started = time.perf_counter()
    shutil.copyfile(BIG, copy)
    print(f"  copied in {time.perf_counter() - started:.0f} s", flush=True)
    return f"sqlite:///{copy}", copy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL to use (it gets written to); default: a copy of " + str(BIG))
    ap.add_argument("--cases", type=int, help="generate a fresh database with this many cases instead")
    ap.add_argument("--runs", type=int, default=200, help="timed runs per queue query (default 200)")
    ap.add_argument("--page-runs", type=int, default=30, help="timed AppTest reruns (default 30)")
    ap.add_argument("--per-writer", type=int, default=50, help="cases each writer process decides (default 50)")
    ap.add_argument("--keep", action="store_true", help="keep the copied / generated database")
    ap.add_argument("--queue-only", action="store_true", help="only the queue reads (no writers, no AppTest)")
    ap.add_argument(
        "--case-page-only",
        action="store_true",
        help="only the case page in AppTest: warm rerun p50/p95, CPU and SQL statements per rerun (no writers)",
    )
    ap.add_argument("--case-tab", help="with --case-page-only: open this tab first, e.g. 'Customer history'")
    ap.add_argument("--case", type=int, help="with --case-page-only: this case (default: the most overdue open one)")
    ap.add_argument("--profile", type=int, default=0, help="with --case-page-only: cProfile this many reruns")
    ap.add_argument("--profile-out", help="with --profile: also write the profile to this file (pstats)")
    ap.add_argument("--show-sql", action="store_true", help="with --case-page-only: list one rerun's statements")
    args = ap.parse_args(argv)
    url, made = prepare(args)
    try:
        if make_url(url).get_backend_name() != "sqlite":
            # PostgreSQL: the same reads, writers and AppTest (it writes decisions: use a database of your own,
            # e.g. CREATE DATABASE me_1m TEMPLATE bench1m)
            print("note: PostgreSQL run;", describe_url(url))
        db = open_database(url)
        with db.read() as s:
            total = s.scalar(select(func.count()).select_from(Case))
            open_n = s.scalar(select(func.count()).select_from(Case).where(Case.status != "closed"))
            # the case page is timed on the most overdue open case; the writers take the newest ones
            page_case = s.scalar(select(Case.id).where(Case.status == "open").order_by(Case.due_on, Case.id).limit(1))
        db.dispose()
        print(
            f"Refund Desk queue benchmark — {describe_url(url)} · {total:,} cases, {open_n:,} open · "
            f"today {TODAY} · python {sys.version.split()[0]} · {os.cpu_count()} CPUs"
        )
        if args.case_page_only:
            bench_case_page(
                url,
                args.page_runs,
                args.case or page_case,
                tab=args.case_tab,
                profile=args.profile,
                profile_out=args.profile_out,
                show_sql=args.show_sql,
            )
            return 0
        bench_queue(url, args.runs)
        if args.queue_only:
            return 0
        bench_decisions(url, args.per_writer)  # before AppTest, which rebinds __main__ (spawned children re-run it)
        bench_case_page(url, args.page_runs, page_case)
    finally:
        if made is not None and not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(str(made) + suffix).unlink(missing_ok=True)
            print(f"(deleted {made})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
