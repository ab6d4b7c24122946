"""The decide-and-next round trip in Chromium: from clicking "Decide and open next" on a case page to the next
case's heading on screen, N times in a row over the default queue view (a real server, headless Chromium).

    python -m benchmarks.decide_next                      # a fresh 2,000-case demo desk in data/, deleted after
    python -m benchmarks.decide_next --db sqlite:////path/to/copy.db --runs 20    # it WRITES decisions

Each case is decided with the outcome its verdict recommends when that needs no amount; cases whose
recommendation needs an amount (a partial refund or a credit) are stepped over with "Next case" (J) and not
timed; a colleague's case is taken over with the "Decide it anyway" tick first. Prints the median and 95th
percentile of the timed round trips.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.common import SCRATCH  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="database URL (it gets written to); default: a fresh demo desk")
    ap.add_argument("--runs", type=int, default=20, help="timed round trips (default 20)")
    args = ap.parse_args(argv)
    from tests.support.browser import StreamlitServer, open_chromium, select_row, wait_for_app

    made = None
    url = args.db
    if url is None:
        from data.db import open_database
        from data.generate import Plan, generate
        from data.migrate import upgrade
        from tests.support.cases import TODAY

        made = SCRATCH / "decide-next-bench.db"
        made.unlink(missing_ok=True)
        url = f"sqlite:///{made}"
        db = open_database(url)
        upgrade(db.engine)
        generate(db, Plan(cases=2000, seed=5, request_rate=0.05, today=TODAY), quiet=True)
        db.dispose()
    server = StreamlitServer(url, log_name="decide-next-bench")
    times: list[float] = []
    try:
        with open_chromium() as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url)
            wait_for_app(page)
            page.goto(server.url + "/queue")
            wait_for_app(page)
            select_row(page.get_by_test_id("stDataFrame").first)
            wait_for_app(page)
            heading = page.get_by_test_id("stHeading").filter(has_text="Case #").first
            steps = 0
            while len(times) < args.runs and steps < args.runs * 5:
                steps += 1
                current = heading.inner_text()
                button = page.get_by_role("button", name="Decide and open next")
                # the page can still be drawing after the run ends: the form's last button is there once the
                # whole form is (a colleague's case has its "Decide it anyway" tick above it)
                button.wait_for()
                # an outcome needing an amount (partial refund, credit) has an editable amount field, whatever
                # the currency ("Amount (EUR)"); a full refund's amount field is read-only (decide_full_...)
                if page.locator('[class*="st-key-decide_amount_"]').count():
                    page.get_by_role("button", name="Next case").click()
                    page.wait_for_function(
                        "t => { const h = [...document.querySelectorAll('[data-testid=stHeading]')]"
                        ".find(e => e.innerText.includes('Case #')); return h && h.innerText.trim() !== t; }",
                        arg=current.strip(),
                    )
                    wait_for_app(page)
                    continue
                takeover = page.get_by_text("Decide it anyway")
                if takeover.count():  # a colleague's case: the form asks first
                    takeover.click()
                started = time.perf_counter()
                button.click()
                page.wait_for_function(
                    "t => { const h = [...document.querySelectorAll('[data-testid=stHeading]')]"
                    ".find(e => e.innerText.includes('Case #')); return h && h.innerText.trim() !== t; }",
                    arg=current.strip(),
                )
                times.append((time.perf_counter() - started) * 1000)
                wait_for_app(page)
    finally:
        server.stop()
        if made is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(str(made) + suffix).unlink(missing_ok=True)
    if not times:
        print("no round trip timed")
        return 1
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    print(
        f"decide and open next, click -> next case's heading: median {statistics.median(times):.0f} ms, "
        f"p95 {p95:.0f} ms (n={len(times)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
