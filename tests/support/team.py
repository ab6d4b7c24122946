"""The team deployment started as docs/deployment.md starts it — `deploy/serve.py`: nginx in front of two
`streamlit run` servers on one PostgreSQL — for the two-servers browser test and `benchmarks.load`."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def write_oidc_secrets(path: Path, *, port: int, idp_url: str, cookie_secret: str) -> Path:
    """A secrets.toml whose [auth] signs in through `idp_url` (a local OIDC provider) and comes back to the
    proxy on `port` under the name `localhost`, the host the browser and the login cookie use."""
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        'client_id = "refund-desk"\n'
        'client_secret = "not-a-secret"\n'
        f'server_metadata_url = "{idp_url}/.well-known/openid-configuration"\n'
    )
    return path


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


def start_team(
    db_url: str, *, secrets: Path, port: int, run_dir: Path, log: Path, today: str, timeout_s: float = 240
) -> subprocess.Popen:
    """`deploy/serve.py` on `port`; returns once both servers are up (servers.json written) and the proxy
    answers /_stcore/health. Raises RuntimeError with the start-up log if it stops or takes over `timeout_s`."""
    out = log.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "deploy/serve.py",
            "--db",
            db_url,
            "--secrets",
            str(secrets),
            "--port",
            str(port),
            "--run-dir",
            str(run_dir),
        ],
        cwd=ROOT,
        env={**os.environ, "REFUND_DESK_TODAY": today},
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()  # the child has its own copy
    deadline = time.monotonic() + timeout_s
    while not (run_dir / "servers.json").exists() or not healthy(port):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_team(proc)
            raise RuntimeError(f"deploy/serve.py did not start on port {port}:\n{log.read_text()}")
        time.sleep(0.5)
    return proc


def stop_team(proc: subprocess.Popen) -> None:
    """SIGTERM: serve.py stops its servers and nginx before it exits."""
    if proc.poll() is None:
        proc.terminate()
    proc.wait(30)
