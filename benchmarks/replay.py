"""How fast the what-if replay re-judges past decisions, and whether its memory stays flat.

    python -m benchmarks.replay [--db data/large.db] [--window-days 14 | --draft ID] [--runs 1] [--chunk 50000]

Opens the database read-only (SQLite ``mode=ro``: the benchmark cannot write to it), then replays every
decided case of the whole history under a draft of the current policy with another contact window, as
the manager Max would from the What-if replay page; or, with ``--draft ID``, under the policy draft stored with
that id (the Policy changes page's "Replay" step), judged against the book of the versions published in the
database. Prints the cases re-judged, the wall time, the time spent reading versus judging (facts + two
verdicts + tallies per case), cases per second of judging time, the process's resident memory after each
50,000-case chunk (flat means chunking works), and the policy time alone (facts_from_row + the verdicts) on
200,000 cases held in memory.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from benchmarks.common import LARGE_DB, require_large_db
from data.db import Database
from desk.replay import draft_from_version, replay
from policy import load_book

MANAGER_ID = 7  # max@refund-desk.example in the demo data


def read_only_database(path: Path) -> Database:
    uri = f"file:{path}?mode=ro"
    engine = create_engine("sqlite://", creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN")

    factory = sessionmaker(engine, expire_on_commit=False)
    return Database(url=f"sqlite:///{path}", engine=engine, read=factory, write=factory)


POLICY_SAMPLE = 200_000


def policy_time(db: Database, book, draft, runs: int) -> tuple[float, float]:
    """Cases per second of policy time alone on decided cases held in memory (median of ``runs``)."""
    from desk.facts import facts_from_row
    from desk.replay import _chunks, draft_book
    from policy import evaluate

    what_if = draft_book(book, draft)
    with db.engine.connect() as conn:
        rows = [r._mapping for r in next(_chunks(conn, date(2000, 1, 1), date(2100, 1, 1), POLICY_SAMPLE))]
    both, draft_only = [], []
    for _ in range(max(runs, 3)):
        t0 = time.perf_counter()
        for m in rows:
            facts = facts_from_row(m)
            evaluate(facts, book)
            evaluate(facts, what_if)
        both.append(len(rows) / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        for m in rows:
            evaluate(facts_from_row(m), what_if)
        draft_only.append(len(rows) / (time.perf_counter() - t0))
    return statistics.median(both), statistics.median(draft_only)


def stored_draft(db: Database, draft_id: int):
    """(the published book, the draft as the replay judges it, the version it was drafted from). The draft
    takes the place of the version it was drafted from, as on the Policy changes page."""
    from desk.policy_changes import as_replacement
    from desk.policy_store import get_version, published_book

    stored = get_version(db, draft_id)
    if stored is None or stored.status != "draft":
        raise SystemExit(f"no policy draft #{draft_id} in {db.url} (status: {stored.status if stored else 'none'})")
    book = published_book(db) or load_book()
    base = book.get(stored.based_on, None) or book.versions[-1]
    return book, as_replacement(stored, base), base


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=LARGE_DB, help="SQLite file (default: data/large.db, `make demo-large`)")
    ap.add_argument("--window-days", type=int, default=14)
    ap.add_argument("--draft", type=int, default=None, help="replay the stored policy draft with this id")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--chunk", type=int, default=50_000)
    args = ap.parse_args()
    require_large_db(args.db)
    db = read_only_database(args.db)
    if args.draft is None:
        book = load_book()
        base = book.versions[-1]
        draft = draft_from_version(book, base.version, window_days=args.window_days)
        label = f"window_days {base.window_days} -> {args.window_days}"
    else:
        book, draft, base = stored_draft(db, args.draft)
        label = (
            f"stored draft #{args.draft} {draft.version!r} (window_days {base.window_days} -> "
            f"{draft.window_days}, effective {draft.effective_from})"
        )
    walls, rates = [], []
    for run in range(args.runs):
        samples: list[float] = []
        t0 = time.perf_counter()
        result = replay(
            db,
            MANAGER_ID,
            draft,
            date(2000, 1, 1),
            date(2100, 1, 1),
            book=book,
            progress=lambda done, total, samples=samples: samples.append(rss_mb()),
            chunk=args.chunk,
        )
        wall = time.perf_counter() - t0
        walls.append(wall)
        rates.append(result.cases_per_judging_second)
        print(
            f"run {run + 1}: {result.cases:,} decided cases re-judged in {wall:.1f} s "
            f"(reading {result.read_seconds:.1f} s, judging {result.judge_seconds:.1f} s -> "
            f"{result.cases_per_judging_second:,.0f} cases per second of judging time); "
            f"{result.verdicts_changed:,} verdicts change ({result.more_generous:,} more generous, "
            f"{result.less_generous:,} less), {len(result.not_judged):,} not judgeable"
        )
        steady = samples[2:] or samples
        print(
            f"  memory (RSS) per chunk: first {samples[0]:.0f} MB, after chunk 3 {steady[0]:.0f} MB, "
            f"last {samples[-1]:.0f} MB, max {max(samples):.0f} MB over {len(samples) - 1} chunks"
        )
        rates_table = result.rates()
        for _, r in rates_table.iterrows():
            print(f"  {r['measure']}: {r['as decided']:.2%} as decided -> {r['under the draft']:.2%} under the draft")
    policy_rates = policy_time(db, book, draft, args.runs)
    print(
        f"policy time alone, {POLICY_SAMPLE:,} cases in memory: facts_from_row + 2 verdicts "
        f"{policy_rates[0]:,.0f} cases/s; facts_from_row + the draft's verdict {policy_rates[1]:,.0f} cases/s"
    )
    print(
        f"{label}: median wall {statistics.median(walls):.1f} s, "
        f"median {statistics.median(rates):,.0f} cases/s of judging time, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB"
    )


if __name__ == "__main__":
    main()
