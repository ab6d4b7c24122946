"""Browser fixtures: a live `streamlit run app.py` on a free localhost port, and a Playwright page in
Debian's headless Chromium (`/usr/bin/chromium`; Playwright's own browser download does not work here).
A failing test leaves a screenshot under test-artifacts/.

Nothing here waits a fixed time: `wait_for_app` waits until every rerun the page asked for has finished
(see RERUN_TRACKER), and Playwright's `expect` waits for what the page shows, up to TIMEOUT_MS, a bound
generous enough for a loaded 2-core machine (a passing test never waits for it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tests.support.cases import TODAY

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 60_000  # the longest any single wait may take before the test fails
SERVER_START_S = 120  # a fresh `streamlit run` on a busy machine
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class StreamlitServer:
    """`streamlit run app.py` in a subprocess; `url` once /_stcore/health answers ok.

    `extra_args` go after the defaults (e.g. `["--secrets.files", str(path)]` to give this server its own
    secrets without touching the repository's .streamlit/); `host` is the name the browser uses (the
    sign-in tests use "localhost", the name in their redirect_uri, so the login cookie matches).
    """

    def __init__(
        self,
        db_url: str,
        env: dict[str, str] | None = None,
        address: str = "127.0.0.1",
        cwd: Path = ROOT,
        log_name: str = "server",
        extra_args: Sequence[str] = (),
        host: str = "127.0.0.1",
    ):
        self.port = free_port()
        self.address = address
        self.url = f"http://{host}:{self.port}"
        self._health_url = f"http://127.0.0.1:{self.port}/_stcore/health"
        ARTIFACTS.mkdir(exist_ok=True)
        self.log_path = ARTIFACTS / f"{log_name}-{self.port}.log"
        full_env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REFUND_DESK_TODAY": TODAY.isoformat(),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(self.port),
                "--server.address",
                address,
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
                *extra_args,
            ],
            cwd=cwd,
            env=full_env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = SERVER_START_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited early; see {self.log_path}:\n{self.log_path.read_text()}")
            try:
                with urllib.request.urlopen(self._health_url, timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return
            except OSError:
                pass
            time.sleep(0.3)  # poll interval while the server starts (the wait is for "ok", bounded by timeout)
        raise RuntimeError(f"streamlit did not become healthy in {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        """Killed, not terminated: a test keeps nothing of its server but the log (written unbuffered), and
        Streamlit's graceful shutdown took 0.6 s a server on a quiet machine, up to 2 s on a loaded one."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self._log.close()


@contextlib.contextmanager
def open_chromium() -> Iterator:
    """Debian's headless Chromium under Playwright, closed on exit (the tests, benchmarks and scripts all open
    it here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright (one per test session)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: run `make test` (it installs it) or `apt-get install chromium`")
    with open_chromium() as browser:
        yield browser


@pytest.fixture
def server_factory() -> Iterator:
    """Start servers for a test: `server_factory(db_url, env={...})`; all stopped afterwards."""
    servers: list[StreamlitServer] = []

    def _start(db_url: str, **kw) -> StreamlitServer:
        s = StreamlitServer(db_url, **kw)
        servers.append(s)
        return s

    yield _start
    for s in servers:
        s.stop()


@pytest.fixture(scope="session")
def live_server(sqlite_demo_url) -> Iterator[StreamlitServer]:
    """One server for the whole session on the shared (read-only) SQLite demo database."""
    s = StreamlitServer(sqlite_demo_url, log_name="shared-server")
    yield s
    s.stop()


@pytest.fixture
def browser_page(chromium, request):
    """A fresh browser context and page (every page in it tracks its reruns, see RERUN_TRACKER); a screenshot
    to test-artifacts/ when the test fails."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(RERUN_TRACKER)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):  # the page may be gone; the failure itself is what matters
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


# Counts, in the page, the runs it waits for, by reading the protobuf messages on Streamlit's websocket
# (Streamlit 1.67's streamlit/proto/): a BackMsg whose first field is rerun_script (field 11, length-delimited:
# tag byte 0x5a) asks for a run; a ForwardMsg carrying new_session (field 4) starts a run and one carrying
# script_finished (field 6, an enum) ends it. When a run finishes, every rerun asked for before that moment has
# been served by it. A run the server starts by itself is pending too, from its new_session to its
# script_finished: st.switch_page and st.rerun end the current run with FINISHED_EARLY_FOR_RERUN (2) and the
# server then starts the next page's run with a new_session that no rerun_script asked for (recorded frames:
# script_finished 2, session_status_changed running=false, new_session, ..., script_finished 0). So the page
# is waiting while a rerun is unanswered, while a run is open, or after an early finish until the next run
# starts. A session runs one script at a time, so a new_session also ends the run before it: the server
# empties its outgoing queue when a run starts (Streamlit 1.67 AppSession._clear_queue on SCRIPT_STARTED),
# and on a busy machine the script_finished of the run a click interrupted can go with it. Counting runs
# (open += 1) then stayed at 1 for good and wait_for_app timed out on a finished page (seen: the replay page,
# a date typed then "Run the replay" clicked, with both CPUs loaded).
RERUN_TRACKER = """
(() => {
  if (window.__rdRuns) return;
  const runs = window.__rdRuns = {asked: 0, answered: 0, open: 0, early: false};
  const bytes = (d) => d instanceof ArrayBuffer ? new Uint8Array(d)
    : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null;
  const varint = (b, i) => {
    let v = 0, s = 0, x;
    do { x = b[i++]; v += (x & 0x7f) * 2 ** s; s += 7; } while (x & 0x80);
    return [v, i];
  };
  // which run event a ForwardMsg is: {started: true} for new_session, {finished: status} for script_finished
  const runEvent = (b) => {
    let i = 0;
    while (i < b.length) {
      let tag, v; [tag, i] = varint(b, i);
      const field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) { [v, i] = varint(b, i); if (field === 6) return {finished: v}; }
      else if (wire === 2) { if (field === 4) return {started: true}; [v, i] = varint(b, i); i += v; }
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const Native = window.WebSocket;
  const send = Native.prototype.send;
  Native.prototype.send = function (data) {
    const b = bytes(data);
    if (b && b.length && b[0] === 0x5a) runs.asked += 1;
    return send.call(this, data);
  };
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (ev) => {
        const b = bytes(ev.data);
        const event = b ? runEvent(b) : null;
        if (!event) return;
        if (event.started) { runs.open = 1; runs.early = false; return; }
        runs.answered = runs.asked;
        runs.open = 0;
        runs.early = event.finished === 2;
      });
    }
  };
})();
"""

APP_IDLE = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testConnectionState !== "CONNECTED") return false;
  if (app.dataset.testScriptState !== "notRunning") return false;
  const runs = window.__rdRuns;
  return !runs || (runs.asked > 0 && runs.answered === runs.asked && runs.open === 0 && !runs.early);
}"""

APP_STATE = """() => {
  const app = document.querySelector("[data-testid='stApp']");
  return JSON.stringify({runs: window.__rdRuns || null, connection: app && app.dataset.testConnectionState,
                         script: app && app.dataset.testScriptState});
}"""


def wait_for_app(page, timeout: float = TIMEOUT_MS) -> None:
    """Wait until the app is connected, not running, has finished every rerun this page asked for (a click or a
    typed value that the server has not answered yet counts as asked as soon as it is sent) and every run the
    server started by itself (the next page's run after st.switch_page). A timeout says what the page was waiting
    for (the run counts and the app's own state)."""
    from playwright.sync_api import Error as PlaywrightError

    try:
        page.wait_for_function(APP_IDLE, timeout=timeout)
    except PlaywrightError as exc:
        try:
            state = page.evaluate(APP_STATE)
        except PlaywrightError:
            state = "(the page is gone)"
        raise AssertionError(f"the app was not idle within {timeout / 1000:.0f} s: {state}") from exc


GRID_ROW_PX = 35  # a data grid's row height; its header row is as high


def select_row(grid, row: int = 1) -> None:
    """Click the row marker of data row `row` (1 = the first below the header) of a data grid locator, e.g.
    `page.get_by_test_id("stDataFrame").first`: the queue opens that case.

    Returns once the page has sent the rerun that the selection asks for: the data grid sends it a moment after
    the click, so a `wait_for_app` straight after a bare click could see the previous run finished and nothing
    asked yet, and return on the old page (seen under CPU load)."""
    rerun_by(grid.page, lambda: grid.click(position={"x": 15, "y": row * GRID_ROW_PX + 17}))


ASKED = "() => window.__rdRuns ? window.__rdRuns.asked : 0"


def rerun_by(page, action) -> None:
    """Do `action` (a click, a key press) and return once the page has sent the rerun it asks for. A widget may
    send its rerun a moment after the event, so a `wait_for_app` straight after the event could see the previous
    run finished and nothing asked yet, and return on the old page while the new run has still to replace it:
    then the old page's elements and the new ones are both on the page for a moment (Streamlit keeps an element
    until the run that replaces it ends), e.g. two "Record decision" buttons, one of each case's form."""
    before = page.evaluate(ASKED)
    action()
    page.wait_for_function(f"n => !window.__rdRuns || ({ASKED})() > n", arg=before)  # a tracked page


def settle(page) -> None:
    """Wait for the app to be idle and for the browser to have drawn the result twice: whatever the last
    run put in the page (an image, a script) has been inserted and has started any request it makes."""
    wait_for_app(page)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
