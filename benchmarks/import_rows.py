"""Imports at scale: throughput, the memory of checking a large file, and reviewers deciding during an import.

    python -m benchmarks.import_rows [--rows 100000] [--runs 3] [--db-dir DIR]
        [--check-mb 200] [--locked-rows 50000] [--deciders 2] [--only throughput|memory|deciders]

- **throughput**: each run writes deterministic CSV files, makes a fresh migrated SQLite database (with the
  demo users, so the desk's use case can authorize the admin) and imports both files through
  ``desk.imports.import_file`` -- the admin page's path: permission check, reading, every check of every row
  (for cases also the policy's), the writes with the sales rollup and the audit events. It then re-imports
  the services file (a no-op that still reads and checks every row). Median and worst of the runs.
- **memory**: the peak memory (max RSS, in a fresh process) of checking a services file of about
  ``--check-mb`` MB, read from its path (the command line) and from bytes held in memory (a page upload).
- **deciders**: ``--deciders`` reviewer processes decide open cases, one after another, while a file of
  ``--locked-rows`` cases is imported into the same SQLite file: the import's check time, its write-lock
  time, every decision's time (the slowest, and those that overlapped the write phase) and the decisions
  refused (any exception, "the desk is busy" included). There must be none.
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select

from data import bulk
from data.db import open_database
from data.generate import DEMO_USERS
from data.migrate import upgrade
from data.models import Case, SalesDaily, Service
from desk.imports import import_file

ADMIN_ID = next(i for i, u in enumerate(DEMO_USERS, start=1) if u[2] == "admin")
START = date(2025, 1, 1)


def write_files(directory: Path, rows: int, cases_too: bool = True) -> tuple[Path, Path]:
    services, cases = directory / "services.csv", directory / "cases.csv"
    types = ("technical_support", "software_update", "online_service", "subscription")
    reasons = ("our_error", "technical_issue", "billing_error", "user_error", "changed_requirements", "dissatisfied")
    with services.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "external_id",
                "customer_external_id",
                "customer_name",
                "customer_email",
                "service_type",
                "status",
                "price",
                "currency",
                "purchased_on",
                "scheduled_on",
                "initiated_on",
                "completed_on",
                "cycle",
                "cycle_start",
                "cycle_end",
                "cancelled_on",
            ]
        )
        for i in range(rows):
            t = types[i % 4]
            bought = START + timedelta(days=i % 600)
            cust = f"C{i % (rows // 5 or 1):07d}"
            name, email = f"Customer {cust}", f"{cust.lower()}@example.com"
            price = f"{20 + i % 180}.{i % 100:02d}"
            if t == "subscription":
                end = bought + timedelta(days=29)
                w.writerow(
                    [
                        f"S{i:08d}",
                        cust,
                        name,
                        email,
                        t,
                        "completed",
                        price,
                        "USD",
                        bought,
                        "",
                        "",
                        "",
                        "monthly",
                        bought,
                        end,
                        "",
                    ]
                )
            else:
                done = bought + timedelta(days=2)
                w.writerow(
                    [
                        f"S{i:08d}",
                        cust,
                        name,
                        email,
                        t,
                        "completed",
                        price,
                        "USD",
                        bought,
                        bought + timedelta(1),
                        bought + timedelta(1),
                        done,
                        "",
                        "",
                        "",
                        "",
                    ]
                )
    if not cases_too:
        return services, cases
    with cases.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            [
                "external_id",
                "service_external_id",
                "opened_on",
                "channel",
                "reason",
                "description",
                "amount_requested",
                "documentation",
                "fix_attempted",
                "fix_succeeded",
            ]
        )
        for i in range(rows):
            t = types[i % 4]
            bought = START + timedelta(days=i % 600)
            service_date = bought if t == "subscription" else bought + timedelta(days=2)
            reason = reasons[i % len(reasons)]
            fix = reason in ("our_error", "technical_issue") and i % 3 == 0
            w.writerow(
                [
                    f"T{i:08d}",
                    f"S{i:08d}",
                    service_date + timedelta(days=i % 10),
                    ("email", "phone")[i % 2],
                    reason,
                    "The service did not work as described.",
                    f"{20 + i % 180}.00",
                    "screenshot.png" if i % 2 else "",
                    "true" if fix else "false",
                    ("true" if i % 2 else "false") if fix else "",
                ]
            )
    return services, cases


def fresh_db(url: str):
    db = open_database(url)
    upgrade(db.engine)
    with db.engine.begin() as conn:
        bulk.insert_columns(
            conn,
            "users",
            {
                "id": list(range(1, len(DEMO_USERS) + 1)),
                "email": [u[0] for u in DEMO_USERS],
                "display_name": [u[1] for u in DEMO_USERS],
                "role": [u[2] for u in DEMO_USERS],
                "active": [u[3] for u in DEMO_USERS],
                "created_at": ["2026-01-01 00:00:00"] * len(DEMO_USERS),
            },
        )
    return db


def throughput(args) -> None:
    timings: dict[str, list[float]] = {"services": [], "cases": [], "re-import services": []}
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        tmpdir = Path(tmp)
        services, cases = write_files(tmpdir, args.rows)
        print(f"files: {services.stat().st_size / 1e6:.1f} MB services, {cases.stat().st_size / 1e6:.1f} MB cases")
        for run in range(args.runs):
            path = tmpdir / f"import-{run}.db"
            db = fresh_db(f"sqlite:///{path}")
            for label, file, kind in (
                ("services", services, "services"),
                ("cases", cases, "cases"),
                ("re-import services", services, "services"),
            ):
                t0 = time.perf_counter()
                report = import_file(db, ADMIN_ID, file, file.name, kind)
                timings[label].append(time.perf_counter() - t0)
                assert not report.errors, report.errors[:5]
            with db.read() as s:
                n_s = s.scalar(select(func.count()).select_from(Service))
                n_c = s.scalar(select(func.count()).select_from(Case))
                sold = s.scalar(select(func.sum(SalesDaily.services_sold)))
            assert n_s == n_c == sold == args.rows, (n_s, n_c, sold)
            db.dispose()
            path.unlink()
    print(f"{args.rows:,} rows per file, SQLite, {args.runs} runs (median / worst):")
    for label, ts in timings.items():
        print(
            f"  {label:<20} {statistics.median(ts):6.2f} s / {max(ts):6.2f} s  "
            f"({args.rows / statistics.median(ts):,.0f} rows/s)"
        )


# --- memory: checking a large file, in a fresh process per measurement ---------------------------------------


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_check(file: Path, url: str, held_in_memory: bool) -> None:
    """In a fresh process: check (and spool) ``file`` as a services import; print peak RSS before and after."""
    from data import importer

    db = open_database(url)
    source = file.read_bytes() if held_in_memory else file
    before = _max_rss_mb()
    t0 = time.perf_counter()
    with importer.check_file(db.engine, source, file.name, "services") as checked:
        assert checked.ok, checked.errors[:3]
        rows = checked.rows
    print(f"{before:.0f} {_max_rss_mb():.0f} {time.perf_counter() - t0:.1f} {rows}")


def memory(args) -> None:
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        tmpdir = Path(tmp)
        rows = int(args.check_mb * 1e6 / 142)  # a services row of this generator is ~142 bytes
        services, _ = write_files(tmpdir, rows, cases_too=False)
        size = services.stat().st_size / 1e6
        url = f"sqlite:///{tmpdir / 'memory.db'}"
        fresh_db(url).dispose()
        print(f"checking a {size:.0f} MB services file ({rows:,} rows), peak memory of a fresh process (max RSS):")
        for label, held in (("from its path (command line)", False), ("from bytes in memory (page upload)", True)):
            out = subprocess.run(
                [sys.executable, "-m", "benchmarks.import_rows", "--_measure", str(services), "--_url", url]
                + (["--_held"] if held else []),
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()
            before, peak, seconds, checked = float(out[0]), float(out[1]), float(out[2]), int(out[3])
            assert checked == rows, (checked, rows)
            print(
                f"  {label:<36} peak {peak:6.0f} MB ({peak / size:.1f}x the file; {before:.0f} MB before the "
                f"check, the interpreter, pandas and {'the file' if held else 'no file'}), {seconds:.1f} s"
            )


# --- reviewers deciding while a large import runs -------------------------------------------------------------


def decider(url: str, actor_email: str, cases: list[int], start, stop, results) -> None:
    """A reviewer process: decide ``cases`` one after another from ``start`` until ``stop`` (or no case left);
    put (start, seconds, error) of every decision on ``results``."""
    from datetime import date

    from desk.auth import find_active_user
    from desk.decisions import decide

    db = open_database(url)
    actor = find_active_user(db, actor_email)
    out = []
    results.put("ready")
    start.wait(300)
    for case_id in cases:
        if stop.is_set():
            break
        began, t0 = time.time(), time.perf_counter()
        error = ""
        try:
            decide(
                db,
                actor.id,
                case_id,
                "deny",
                None,
                "Decided while an import runs (benchmark).",
                1,
                uuid.uuid4().hex,
                today=date(2026, 12, 1),
            )
        except Exception as exc:  # noqa: BLE001 - every refusal is counted and printed
            error = f"{type(exc).__name__}: {exc}"[:200]
        out.append((began, time.perf_counter() - t0, error))
    db.dispose()
    results.put(out)


def deciders(args) -> None:
    pool = 400 * args.deciders * 10
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        tmpdir = Path(tmp)
        services, cases = write_files(tmpdir, args.locked_rows + pool)
        lines = cases.read_text().splitlines(keepends=True)
        first, big = tmpdir / "open-cases.csv", tmpdir / "import-cases.csv"
        first.write_text("".join(lines[: pool + 1]))
        big.write_text(lines[0] + "".join(lines[pool + 1 :]))
        url = f"sqlite:///{tmpdir / 'deciders.db'}"
        db = fresh_db(url)
        import_file(db, ADMIN_ID, services, services.name, "services")
        import_file(db, ADMIN_ID, first, first.name, "cases")
        with db.read() as s:
            ids = [i for (i,) in s.execute(select(Case.id).order_by(Case.id))]
        ctx = mp.get_context("spawn")
        start, stop, results = ctx.Event(), ctx.Event(), ctx.Queue()
        reviewers = [u[0] for u in DEMO_USERS if u[2] == "reviewer" and u[3]][: args.deciders]
        procs = [
            ctx.Process(target=decider, args=(url, email, ids[n :: len(reviewers)], start, stop, results))
            for n, email in enumerate(reviewers)
        ]
        for p in procs:
            p.start()
        for _ in procs:
            assert results.get(timeout=300) == "ready"
        start.set()
        time.sleep(1.0)  # the reviewers are deciding before the import starts
        began = time.time()
        report = import_file(db, ADMIN_ID, big, big.name, "cases")
        ended = time.time()
        time.sleep(1.0)
        stop.set()
        decisions = [d for _ in procs for d in results.get(timeout=300)]
        for p in procs:
            p.join(60)
        db.dispose()
    assert not report.errors, report.errors[:3]
    lock_from = ended - report.lock_seconds
    during = [d for d in decisions if d[0] < ended and d[0] + d[1] > began]
    in_lock = [d for d in decisions if d[0] < ended and d[0] + d[1] > lock_from]
    refused = [d for d in decisions if d[2]]
    print(f"importing {report.inserted:,} cases into a SQLite file while {len(procs)} reviewer processes decide:")
    print(f"  check (no lock)          {report.check_seconds:6.2f} s")
    print(f"  write lock held          {report.lock_seconds:6.2f} s  (the whole import {report.seconds:.2f} s)")
    print(
        f"  decisions                {len(decisions):,} in all, {len(during):,} during the import, "
        f"{len(in_lock):,} overlapping the write lock"
    )
    slow = max(d[1] for d in during) if during else 0.0
    slow_lock = max(d[1] for d in in_lock) if in_lock else 0.0
    med = statistics.median(d[1] for d in during) if during else 0.0
    print(
        f"  slowest decision         {slow:6.2f} s during the import ({slow_lock:.2f} s overlapping the write lock; "
        f"median {med * 1000:.0f} ms)"
    )
    print(f"  refused decisions        {len(refused)}" + (f": {refused[:3]}" if refused else ""))
    if refused:
        raise SystemExit(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db-dir", type=Path, default=None, help="where the scratch SQLite files go (default: a temp dir)")
    ap.add_argument("--check-mb", type=float, default=200, help="size of the file whose check's memory is measured")
    ap.add_argument("--locked-rows", type=int, default=50_000, help="cases imported while reviewers decide")
    ap.add_argument("--deciders", type=int, default=2, help="reviewer processes deciding during that import")
    ap.add_argument("--only", choices=("throughput", "memory", "deciders"), action="append")
    ap.add_argument("--_measure", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--_url", help=argparse.SUPPRESS)
    ap.add_argument("--_held", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args._measure:
        measure_check(args._measure, args._url, args._held)
        return
    parts = args.only or ["throughput", "memory", "deciders"]
    for part in parts:
        {"throughput": throughput, "memory": memory, "deciders": deciders}[part](args)


if __name__ == "__main__":
    main()
