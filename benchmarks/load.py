"""N reviewers in headless Chromium across two app servers behind nginx, opening cases and deciding for a bounded
time: real Streamlit sessions (WebSockets through the proxy, OIDC sign-in against a local provider).

    python -m benchmarks.load --admin-url postgresql+psycopg://postgres@127.0.0.1:5432/test --reviewers 20 --seconds 120

It makes its own schema and roles on that database (dropped afterwards), fills a demo desk as the owner,
adds open cases the policy says to fix (one click to decide), starts `deploy/serve.py` on the app role, signs
every reviewer in (alternately pinned to server a and b), and then each loops: open the next case by URL,
decide it, until the time is up. Opening a case by URL is a full page load, i.e. a new Streamlit session
each time (the worst case; a reviewer clicking through the queue stays in one session). Prints sessions held, decisions/s, p50/p95 case open and decision round
trip, errors, and RSS per server and per session. Goal (issue 16): 20 reviewers, 0 errors, p95 decision
round trip <= 1 s. One run's figures; the machine is shared, so expect noise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from data.db import open_database  # noqa: E402
from data.generate import Plan, generate  # noqa: E402
from data.migrate import upgrade  # noqa: E402
from data.pg_roles import Roles, apply, role_url  # noqa: E402

TODAY = "2026-11-26"
REVIEWERS = ["rita", "omar", "li", "sofia", "jonas", "amara"]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def p95(xs: list[float]) -> float:
    return sorted(xs)[max(0, int(round(0.95 * len(xs))) - 1)] if xs else float("nan")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_cases(db, n: int) -> list[int]:
    """n open cases whose verdict is "fix" (decided with one click, no amount)."""
    from tests.support.cases import add_case

    return [add_case(db, reason="our_error") for _ in range(n)]


async def reviewer(i: int, browser, base: str, queue: asyncio.Queue, deadline: float, stats: dict) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=120_000)  # a loaded machine is slow, not wrong: count only real failures
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_cookies([{"name": "refund_desk_server", "value": "ab"[i % 2], "url": base}])
    page = await context.new_page()
    page.set_default_timeout(120_000)

    async def settled():
        await page.wait_for_timeout(100)
        await page.wait_for_selector("[data-testid='stApp'][data-test-connection-state='CONNECTED']")
        await page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']")

    try:
        await page.goto(base)
        await settled()
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("button", name=REVIEWERS[i % len(REVIEWERS)]).click()
        await settled()
        await expect(page.get_by_test_id("stSidebar")).to_contain_text("@refund-desk.example")
        stats["signed_in"] += 1
        while time.monotonic() < deadline:
            try:
                cid = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            t0 = time.perf_counter()
            await page.goto(f"{base}/case?case={cid}")
            await expect(page.get_by_test_id("stHeading").first).to_contain_text(f"Case #{cid}")
            await expect(page.get_by_role("button", name="Record decision")).to_be_visible()
            stats["open"].append(time.perf_counter() - t0)
            await page.get_by_role("tab", name="Decide").click()
            t1 = time.perf_counter()
            await page.get_by_role("button", name="Record decision").click()
            await expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Decision saved")
            stats["decide"].append(time.perf_counter() - t1)
        stats["held"] += (
            1
            if await page.evaluate(
                "() => document.querySelector(\"[data-testid='stApp']\")?.dataset.testConnectionState"
            )
            == "CONNECTED"
            else 0
        )
    except Exception as exc:  # noqa: BLE001 - every error is counted and printed
        stats["errors"].append(f"reviewer {i}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await context.close()


async def drive(base: str, n: int, seconds: float, cases: list[int], servers: dict) -> dict:
    from playwright.async_api import async_playwright

    stats = {"signed_in": 0, "held": 0, "open": [], "decide": [], "errors": []}
    queue: asyncio.Queue = asyncio.Queue()
    for cid in cases:
        queue.put_nowait(cid)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        before = {k: rss_mb(v["pid"]) for k, v in servers.items()}
        peak = dict(before)
        done = asyncio.Event()

        async def sample():  # the servers' peak RSS while the sessions are open
            while not done.is_set():
                for k, v in servers.items():
                    peak[k] = max(peak[k], rss_mb(v["pid"]))
                await asyncio.sleep(1)

        sampler = asyncio.create_task(sample())
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(*(reviewer(i, browser, base, queue, deadline, stats) for i in range(n)))
        stats["elapsed"] = time.monotonic() - started
        done.set()
        await sampler
        stats["rss_before"] = before
        stats["rss_after"] = peak
        await browser.close()
    return stats


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--admin-url", default=os.environ.get("TEST_DATABASE_URL"), help="PostgreSQL URL of a superuser")
    ap.add_argument("--reviewers", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--cases", type=int, default=2000, help="demo cases to start from")
    args = ap.parse_args()
    if not args.admin_url:
        ap.error("give --admin-url (a PostgreSQL superuser URL) or set TEST_DATABASE_URL")
    from oidc_provider_mock import User, run_server_in_thread

    tag = uuid.uuid4().hex[:8]
    roles = Roles(owner=f"rd_owner_{tag}", app=f"rd_app_{tag}", schema=f"bench_load_{tag}")
    admin_url = make_url(args.admin_url).update_query_dict({"options": f"-csearch_path={roles.schema}"})
    admin_url = admin_url.render_as_string(hide_password=False)
    apply(admin_url, roles)
    owner = open_database(role_url(admin_url, roles.owner).render_as_string(hide_password=False))
    run_dir = Path(tempfile.mkdtemp(prefix="refund-desk-load-"))
    proc = None
    try:
        upgrade(owner.engine)
        generate(owner, Plan(cases=args.cases, seed=7, request_rate=0.1, today=date.fromisoformat(TODAY)), quiet=True)
        cases = seed_cases(owner, max(200, args.reviewers * 40))
        apply(admin_url, roles)
        users = [User(sub=r, claims={"email": f"{r}@refund-desk.example", "email_verified": True}) for r in REVIEWERS]
        with run_server_in_thread(user_claims=users) as idp:
            port = free_port()
            secrets = run_dir / "secrets.toml"
            secrets.write_text(
                f'[auth]\nredirect_uri = "http://localhost:{port}/oauth2callback"\n'
                'cookie_secret = "load-benchmark-cookie-secret-0123456789abcdef"\n'
                'client_id = "refund-desk"\nclient_secret = "x"\n'
                f'server_metadata_url = "http://localhost:{idp.server_port}/.well-known/openid-configuration"\n'
            )
            app_url = role_url(admin_url, roles.app).render_as_string(hide_password=False)
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "deploy/serve.py",
                    "--db",
                    app_url,
                    "--secrets",
                    str(secrets),
                    "--port",
                    str(port),
                    "--run-dir",
                    str(run_dir),
                ],
                cwd=ROOT,
                env={**os.environ, "REFUND_DESK_TODAY": TODAY},
                stdout=(run_dir / "serve.log").open("w"),
                stderr=subprocess.STDOUT,
            )
            deadline = time.monotonic() + 240
            while not (run_dir / "servers.json").exists() or not _healthy(port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    print((run_dir / "serve.log").read_text(), file=sys.stderr)
                    return 1
                time.sleep(0.5)
            servers = json.loads((run_dir / "servers.json").read_text())
            stats = asyncio.run(drive(f"http://localhost:{port}", args.reviewers, args.seconds, cases, servers))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(30)
        owner.dispose()
        eng = create_engine(args.admin_url, isolation_level="AUTOCOMMIT")
        with eng.connect() as c:
            c.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{roles.schema}" CASCADE')
            for role in (roles.app, roles.owner):
                c.exec_driver_sql(f'DROP OWNED BY "{role}"')
                c.exec_driver_sql(f'DROP ROLE "{role}"')
        eng.dispose()
    n_dec = len(stats["decide"])
    grown = sum(stats["rss_after"][k] - stats["rss_before"][k] for k in stats["rss_after"])
    print(f"reviewers {args.reviewers}, signed in {stats['signed_in']}, sessions held to the end {stats['held']}")
    print(f"decisions {n_dec} in {stats['elapsed']:.1f} s = {n_dec / stats['elapsed']:.2f}/s")
    if stats["open"]:
        print(
            f"case open: median {statistics.median(stats['open']) * 1000:.0f} ms, p95 {p95(stats['open']) * 1000:.0f} ms"
        )
    if stats["decide"]:
        print(
            f"decision round trip: median {statistics.median(stats['decide']) * 1000:.0f} ms, "
            f"p95 {p95(stats['decide']) * 1000:.0f} ms"
        )
    print(
        "RSS per server (MB, before sign-in -> peak): "
        + ", ".join(
            f"{k} {stats['rss_before'][k]:.0f} -> {stats['rss_after'][k]:.0f}" for k in sorted(stats["rss_after"])
        )
    )
    print(f"RSS per session: {grown / max(1, stats['signed_in']):.1f} MB (servers' growth / sessions)")
    print(f"errors {len(stats['errors'])}")
    for e in stats["errors"][:10]:
        print("  " + e)
    return 0 if not stats["errors"] else 1


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
            return r.read() == b"ok"
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(main())
