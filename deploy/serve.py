"""Start two Refund Desk servers on one PostgreSQL behind nginx (sticky sessions, WebSockets): one command.

    make team DB=postgresql+psycopg://refund_desk_app@db-host/refund_desk SECRETS=/etc/refund-desk/secrets.toml
    .venv/bin/python deploy/serve.py --db URL --secrets FILE [--port 8080] [--host desk.example.com]

The secrets file must hold a complete `[auth]` section (sign-in; local mode refuses proxied requests)
with `redirect_uri = "http://<host>:<port>/oauth2callback"` (https:// behind TLS), the same file for both
servers so a login cookie from one is valid on the other. nginx's config is rendered from
deploy/nginx.conf.template into the run directory; the servers listen on 127.0.0.1 only. Ctrl-C (or
SIGTERM) stops all three. Logs: <run dir>/server-a.log, server-b.log, error.log, access.log.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(run_dir: Path, port: int, app_ports: tuple[int, int], server_name: str, listen: str) -> Path:
    """deploy/nginx.conf.template with this run's values; returns the config's path."""
    user_line = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    conf = (
        TEMPLATE.read_text()
        .replace("{{USER_LINE}}", user_line)
        .replace("{{RUN_DIR}}", str(run_dir))
        .replace("{{APP_PORT_A}}", str(app_ports[0]))
        .replace("{{APP_PORT_B}}", str(app_ports[1]))
        .replace("{{LISTEN}}", f"{listen}:{port}")
        .replace("{{SERVER_NAME}}", server_name)
    )
    if "{{" in conf:
        raise SystemExit("deploy/nginx.conf.template has a placeholder serve.py does not know")
    path = run_dir / "nginx.conf"
    path.write_text(conf)
    return path


def check_secrets(path: Path) -> list[str]:
    """Problems with the secrets file for a proxied deployment (empty when usable)."""
    sys.path.insert(0, str(ROOT))
    from ui.access import auth_config_problems

    try:
        auth = tomllib.loads(path.read_text()).get("auth")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"cannot read {path}: {exc}"]
    if not auth:
        return [f"{path} has no [auth] section: behind a proxy the desk needs sign-in (README “Sign-in”)"]
    return auth_config_problems(auth)


def wait_healthy(url: str, procs: list[subprocess.Popen], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"a process exited before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer ok within {timeout:.0f} s")


def main(argv: list[str] | None = None) -> int:  # noqa: C901 — start, wait for and stop the proxy and its servers, step by step
    p = argparse.ArgumentParser(prog="deploy/serve.py", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--db", default=os.environ.get("DATABASE_URL"), help="PostgreSQL URL of the app role ($DATABASE_URL)"
    )
    p.add_argument("--secrets", type=Path, required=True, help="secrets.toml with [auth] (and optionally [database])")
    p.add_argument("--port", type=int, default=8080, help="the proxy's port (default %(default)s)")
    p.add_argument("--listen", default="127.0.0.1", help="the proxy's address (0.0.0.0 for every interface)")
    p.add_argument("--host", default="localhost", help="the host name people use (server.allowedHosts)")
    p.add_argument("--app-ports", default="", help="two ports for the servers, e.g. 8601,8602 (default: free ports)")
    p.add_argument(
        "--run-dir", type=Path, default=None, help="where the nginx config and logs go (default: a temp dir)"
    )
    args = p.parse_args(argv)
    if not args.db or not args.db.startswith("postgresql"):
        p.error("--db must be a PostgreSQL URL: several servers share one PostgreSQL (SQLite is one server's file)")
    problems = check_secrets(args.secrets)
    if problems:
        p.error("; ".join(problems))
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        p.error("nginx is not installed: `make nginx` (Debian's package)")
    ports = tuple(int(x) for x in args.app_ports.split(",")) if args.app_ports else (free_port(), free_port())
    if len(ports) != 2:
        p.error("--app-ports takes two ports, e.g. 8601,8602")
    run_dir = args.run_dir or Path(tempfile.mkdtemp(prefix="refund-desk-proxy-"))
    run_dir.mkdir(parents=True, exist_ok=True)
    conf = render(run_dir, args.port, ports, args.host, args.listen)

    env = {**os.environ, "DATABASE_URL": args.db, "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen] = []
    logs = []

    def stop(*_):
        for proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        for name, port in zip("ab", ports):
            log = (run_dir / f"server-{name}.log").open("w")
            logs.append(log)
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "streamlit",
                        "run",
                        "app.py",
                        "--server.port",
                        str(port),
                        "--server.address",
                        "127.0.0.1",
                        "--server.headless",
                        "true",
                        "--browser.gatherUsageStats",
                        "false",
                        "--server.fileWatcherType",
                        "none",
                        "--server.allowedHosts",
                        args.host,
                        "--secrets.files",
                        str(args.secrets),
                    ],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        for port in ports:
            wait_healthy(f"http://127.0.0.1:{port}/_stcore/health", procs)
        (run_dir / "servers.json").write_text(  # for monitoring (RSS per server) and the load benchmark
            json.dumps({name: {"pid": proc.pid, "port": port} for name, proc, port in zip("ab", procs, ports)})
        )
        procs.append(subprocess.Popen([nginx, "-p", str(run_dir), "-c", str(conf), "-g", "daemon off;"], cwd=run_dir))
        wait_healthy(f"http://127.0.0.1:{args.port}/_stcore/health", procs, timeout=30)
        print(
            f"Refund Desk on http://{args.host}:{args.port} — servers a (127.0.0.1:{ports[0]}) and b "
            f"(127.0.0.1:{ports[1]}) behind nginx; logs in {run_dir}",
            flush=True,
        )
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        print("a process stopped; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        stop()


if __name__ == "__main__":
    sys.exit(main())
