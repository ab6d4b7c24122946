"""How long importing 100,000 rows takes: a services file, then a cases file about those services.

    python -m benchmarks.import_rows [--rows 100000] [--runs 3] [--db-dir DIR] [--pg URL]

Each run writes deterministic CSV files, makes a fresh migrated SQLite database (with the demo users, so
the desk's use case can authorize the admin) and imports both files through ``desk.imports.import_file``
-- the admin page's path: permission check, reading, every check of every row (for cases also the policy's),
the writes with the sales rollup and the audit events, one transaction each. It then re-imports the
services file (a no-op that still reads and checks every row). Prints the median and worst of the runs.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
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


def write_files(directory: Path, rows: int) -> tuple[Path, Path]:
    services, cases = directory / "services.csv", directory / "cases.csv"
    types = ("technical_support", "software_update", "online_service", "subscription")
    reasons = ("our_error", "technical_issue", "billing_error", "user_error", "changed_requirements", "dissatisfied")
    with services.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "customer_external_id", "customer_name", "customer_email", "service_type",
                    "status", "price", "currency", "purchased_on", "scheduled_on", "initiated_on", "completed_on",
                    "cycle", "cycle_start", "cycle_end", "cancelled_on"])
        for i in range(rows):
            t = types[i % 4]
            bought = START + timedelta(days=i % 600)
            cust = f"C{i % (rows // 5 or 1):07d}"
            name, email = f"Customer {cust}", f"{cust.lower()}@example.com"
            price = f"{20 + i % 180}.{i % 100:02d}"
            if t == "subscription":
                end = bought + timedelta(days=29)
                w.writerow([f"S{i:08d}", cust, name, email, t, "completed", price, "USD", bought, "", "", "",
                            "monthly", bought, end, ""])
            else:
                done = bought + timedelta(days=2)
                w.writerow([f"S{i:08d}", cust, name, email, t, "completed", price, "USD", bought, bought + timedelta(1),
                            bought + timedelta(1), done, "", "", "", ""])
    with cases.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "service_external_id", "opened_on", "channel", "reason", "description",
                    "amount_requested", "documentation", "fix_attempted", "fix_succeeded"])
        for i in range(rows):
            t = types[i % 4]
            bought = START + timedelta(days=i % 600)
            service_date = bought if t == "subscription" else bought + timedelta(days=2)
            reason = reasons[i % len(reasons)]
            fix = reason in ("our_error", "technical_issue") and i % 3 == 0
            w.writerow([f"T{i:08d}", f"S{i:08d}", service_date + timedelta(days=i % 10), ("email", "phone")[i % 2],
                        reason, "The service did not work as described.", f"{20 + i % 180}.00",
                        "screenshot.png" if i % 2 else "", "true" if fix else "false",
                        ("true" if i % 2 else "false") if fix else ""])
    return services, cases


def fresh_db(url: str):
    db = open_database(url)
    upgrade(db.engine)
    with db.engine.begin() as conn:
        bulk.insert_columns(conn, "users", {
            "id": list(range(1, len(DEMO_USERS) + 1)),
            "email": [u[0] for u in DEMO_USERS],
            "display_name": [u[1] for u in DEMO_USERS],
            "role": [u[2] for u in DEMO_USERS],
            "active": [u[3] for u in DEMO_USERS],
            "created_at": ["2026-01-01 00:00:00"] * len(DEMO_USERS),
        })
    return db


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db-dir", type=Path, default=None, help="where the scratch SQLite files go (default: a temp dir)")
    args = ap.parse_args()
    timings: dict[str, list[float]] = {"services": [], "cases": [], "re-import services": []}
    with tempfile.TemporaryDirectory(dir=args.db_dir) as tmp:
        tmpdir = Path(tmp)
        services, cases = write_files(tmpdir, args.rows)
        print(f"files: {services.stat().st_size / 1e6:.1f} MB services, {cases.stat().st_size / 1e6:.1f} MB cases")
        for run in range(args.runs):
            path = tmpdir / f"import-{run}.db"
            db = fresh_db(f"sqlite:///{path}")
            for label, file, kind in (("services", services, "services"), ("cases", cases, "cases"),
                                      ("re-import services", services, "services")):
                t0 = time.perf_counter()
                report = import_file(db, ADMIN_ID, file.read_bytes(), file.name, kind)
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
        print(f"  {label:<20} {statistics.median(ts):6.2f} s / {max(ts):6.2f} s  "
              f"({args.rows / statistics.median(ts):,.0f} rows/s)")


if __name__ == "__main__":
    main()
