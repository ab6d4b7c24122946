"""Browser fixtures: a live `streamlit run app.py` on a free localhost port, and a Playwright page in
Debian's headless Chromium (`/usr/bin/chromium`; Playwright's own browser download does not work here).
A failing test leaves a screenshot under test-artifacts/."""

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

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
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
            "REFUND_DESK_TODAY": "2026-11-26",
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

    def _wait_healthy(self, timeout: float = 60) -> None:
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
            time.sleep(0.3)
        raise RuntimeError(f"streamlit did not become healthy in {timeout}s; see {self.log_path}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self._log.close()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright (one per test session)."""
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: run `make test` (it installs it) or `apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


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
    """A fresh browser context and page; screenshot to test-artifacts/ when the test fails."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(Exception):  # the page may be gone; the failure itself is what matters
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def wait_for_app(page, timeout: float = 30_000) -> None:
    """Wait for a Streamlit rerun to finish, the way Streamlit's own e2e tests do."""
    page.wait_for_timeout(250)
    page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']", timeout=timeout)
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
