"""Outbox throughput to a local SMTP server, and a 10 MB document upload end to end.

    python -m benchmarks.outbox [--messages 500] [--db sqlite:///...]

1. Queues N replies (real decisions, sent through desk.outbox.send_reply) and times one worker delivering them
   to a local aiosmtpd server on 127.0.0.1 (one SMTP connection per message, as the worker does): messages/s.
2. Uploads a 10 MB file (a noise PNG just under the limit, and a 10 MB text file) with desk.documents.attach —
   type check, Pillow decode, hashing, the database write — then renders what the case page shows
   (display_image re-encode): seconds for each step.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.common import SCRATCH


def _smtp_server():
    from aiosmtpd.controller import Controller

    class Count:
        n = 0

        async def handle_DATA(self, server, session, envelope):
            Count.n += 1
            return "250 OK"

    from tests.support.outbox import free_port

    port = free_port()
    ctl = Controller(Count(), hostname="127.0.0.1", port=port)
    ctl.start()
    return ctl, port, Count


def browser_upload(url: str, scratch: Path, data: bytes, case_id: int) -> None:
    """The same 10 MB file uploaded through the case page: a live `streamlit run` and headless Chromium, from
    choosing the file to the page showing the success message and the re-encoded image."""
    from tests.support.browser import StreamlitServer, open_chromium, wait_for_app

    path = scratch / "big screenshot.png"
    path.write_bytes(data)
    server = StreamlitServer(url, log_name="bench-outbox")
    try:
        with open_chromium() as browser:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(server.url)
            wait_for_app(page)
            page.goto(f"{server.url}/case?case={case_id}")
            wait_for_app(page)
            t0 = time.perf_counter()
            page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
            page.get_by_test_id("stFileUploader").get_by_text(path.name).wait_for()
            wait_for_app(page)
            t1 = time.perf_counter()
            page.get_by_role("button", name="Add to the case").click()
            page.get_by_test_id("stAlertContentSuccess").wait_for()
            page.get_by_test_id("stImage").first.wait_for()
            wait_for_app(page)
            t2 = time.perf_counter()
        print(
            f"upload PNG {len(data) / 1024 / 1024:.2f} MB in the browser: file to the server {t1 - t0:.2f} s, "
            f"Upload click to the image shown {t2 - t1:.2f} s, total {t2 - t0:.2f} s"
        )
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.outbox", description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=500)
    ap.add_argument("--db", help="database URL (default: a scratch SQLite file under data/)")
    ap.add_argument(
        "--no-browser",
        dest="browser",
        action="store_false",
        help="skip the upload through a real Streamlit server and headless Chromium",
    )
    args = ap.parse_args(argv)

    from sqlalchemy import select

    from data.db import open_database
    from data.generate import Plan, generate
    from data.migrate import upgrade
    from data.models import Case, User
    from desk import documents, outbox
    from desk.config import DocumentLimits
    from desk.decisions import decide

    scratch = Path(tempfile.mkdtemp(dir=SCRATCH, prefix="bench-outbox-"))
    url = args.db or f"sqlite:///{scratch / 'outbox.db'}"
    db = open_database(url)
    upgrade(db.engine)
    from datetime import date

    today = date(2026, 11, 26)
    generate(db, Plan(cases=max(args.messages * 12, 1000), seed=5, request_rate=0.2, today=today), quiet=True)
    ctl, port, counter = _smtp_server()
    secrets = scratch / "secrets.toml"
    secrets.write_text(f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsender = "bench@refund-desk.example"\n')
    os.environ["REFUND_DESK_SECRETS"] = str(secrets)
    try:
        with db.read() as s:
            reviewer = s.scalar(select(User.id).where(User.role == "reviewer").limit(1))
        # decide open cases as their verdict recommends, and send each final one's reply
        from desk.cases import case_detail
        from tests.support.cases import valid_choice

        queued = 0
        t0 = time.perf_counter()
        with db.read() as s:
            open_ids = list(s.scalars(select(Case.id).where(Case.status == "open").order_by(Case.id)))
        for cid in open_ids:
            if queued >= args.messages:
                break
            d = case_detail(db, cid, today)
            if d.verdict is None:
                continue
            outcome, amount = valid_choice(d.verdict)
            r = decide(db, reviewer, cid, outcome, amount, "", d.version, None, today=today)
            if r.approval_status != "not_required":
                continue
            d = case_detail(db, cid, today)
            if not d.decision or not d.decision.draft_reply:
                continue
            outbox.send_reply(
                db, reviewer, cid, r.decision_id, d.customer_email, f"Case #{cid}", d.decision.draft_reply
            )
            queued += 1
        queue_s = time.perf_counter() - t0
        worker = outbox.worker_from_config(db)
        t0 = time.perf_counter()
        result = worker.run_once()
        send_s = time.perf_counter() - t0
        print(
            f"outbox: {queued} replies queued (decide + send, {queued / queue_s:,.1f}/s); "
            f"worker delivered {result.get('sent', 0)} to local SMTP in {send_s:.2f} s = "
            f"{result.get('sent', 0) / send_s:,.1f} messages/s (server received {counter.n})"
        )

        # 10 MB upload end to end
        import io

        from PIL import Image

        limits = DocumentLimits(max_file_bytes=10 * 1024 * 1024, max_case_bytes=50 * 1024 * 1024)
        side = 1800
        noise = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
        buf = io.BytesIO()
        noise.save(buf, format="PNG", compress_level=0)
        png = buf.getvalue()
        text = (b"call log line with some words in it, 0123456789\n" * 300_000)[: 10 * 1024 * 1024 - 1]
        case_ids = open_ids[-2:]
        for label, name, data, cid in (("PNG", "noise.png", png, case_ids[0]), ("text", "log.txt", text, case_ids[1])):
            times = []
            t0 = time.perf_counter()
            media = documents.check_file(data, limits)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            att = documents.attach(db, reviewer, cid, name, data, None, limits=limits)
            times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            _view, stored = documents.document_bytes(db, cid, att.link_id)
            if media.startswith("image/"):
                documents.display_image(stored)
            else:
                documents.text_view(stored)
            times.append(time.perf_counter() - t0)
            print(
                f"upload {label} {len(data) / 1024 / 1024:.2f} MB: check {times[0]:.3f} s, attach (check + hash + "
                f"write) {times[1]:.3f} s, read back + render {times[2]:.3f} s, total "
                f"{times[1] + times[2]:.3f} s"
            )
        if args.browser:
            browser_upload(url, scratch, png, open_ids[-3])
    finally:
        ctl.stop()
        db.dispose()
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
