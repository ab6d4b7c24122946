"""A real local SMTP server (aiosmtpd) and a local HTTP receiver (http.server in a thread) for the outbox tests
and the benchmark, plus a secrets file pointing the desk at them."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from email.policy import default as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MailHandler:
    """Keeps every message the server accepted. `hold` makes DATA wait (a slow server); a message whose client
    went away before the server's 250 reply is not accepted — the server takes responsibility only with its
    reply, as RFC 5321 has it. `refuse_rcpt` answers RCPT with a permanent 550."""

    def __init__(self):
        self.messages: list = []
        self.hold = threading.Event()
        self.holding = threading.Event()
        self.refuse_rcpt: str | None = None
        self.dropped = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refuse_rcpt:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.hold.is_set():
            self.holding.set()
            try:
                while self.hold.is_set():
                    await asyncio.sleep(0.02)
            except asyncio.CancelledError:  # aiosmtpd cancels the session when its client goes away
                self.dropped += 1
                raise
        self.messages.append(message_from_bytes(envelope.content, policy=email_policy))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [str(m["Message-ID"]) for m in self.messages]


@dataclass
class MailServer:
    port: int
    handler: MailHandler = field(default_factory=MailHandler)
    controller: Controller | None = None

    def start(self) -> MailServer:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class Hook:
    headers: dict
    body: bytes


class HttpReceiver:
    """A local billing endpoint: records each POST; `statuses` (a list) answers the next requests in turn."""

    def __init__(self):
        self.requests: list[Hook] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status < 300:
                    receiver.requests.append(Hook(dict(self.headers.items()), body))
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/billing/refunds"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


SECRET = "test-billing-secret"


def write_secrets(path: Path, smtp_port: int | None, billing_url: str | None, extra: str = "") -> Path:
    text = ""
    if smtp_port:
        text += (
            f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsender = "refunds@refund-desk.example"\n'
            "timeout_seconds = 5\n"
        )
    if billing_url:
        text += f'[billing]\nurl = "{billing_url}"\nsecret = "{SECRET}"\n'
    path.write_text(text + extra)
    return path


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
