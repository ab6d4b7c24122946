"""Screenshots of the queue and the case page at 1400x900 for the README (headless Debian Chromium).

    python scripts/screenshots.py sqlite:////tmp/demo.db [case id]   # writes docs/screenshots/{queue,case}.png

Without a case id it shows the most overdue open case (the top of the default queue view).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.browser import StreamlitServer, open_chromium, select_row, wait_for_app  # noqa: E402


def main(url: str, case_id: str | None = None) -> None:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    server = StreamlitServer(url, log_name="screenshots")
    try:
        with open_chromium() as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url)
            wait_for_app(page)
            page.goto(server.url + "/queue")
            wait_for_app(page)
            page.wait_for_timeout(1500)  # the grid paints after the run ends
            page.screenshot(path=str(out / "queue.png"))
            if case_id is None:
                select_row(page.get_by_test_id("stDataFrame").first)
            else:
                page.goto(f"{server.url}/case?case={case_id}")
            wait_for_app(page)
            # the decision form is drawn last in the right column: wait for its buttons, then for the paint
            page.get_by_role("button", name="Decide and open next").wait_for()
            page.wait_for_timeout(1500)
            page.screenshot(path=str(out / "case.png"))
    finally:
        server.stop()
    print(f"wrote {out / 'queue.png'} and {out / 'case.png'}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
