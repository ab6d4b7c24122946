"""The outbox: messages that leave the desk — the customer's reply (SMTP) and the billing webhook (HTTPS POST,
HMAC-SHA256 signed) — written in the same transaction as the action that caused them, delivered by a worker:

    python -m desk.outbox            # runs beside the app (`make run` starts it); see docs/outbox.md

Delivery. A worker *claims* a due row (status queued, next_attempt_at passed) with a conditional UPDATE that sets
status 'sending', a lease (lease_until, lease_owner) and attempts + 1; only the worker holding the lease may
finish it. A transient failure (connection refused, timeout, SMTP 4xx, HTTP 5xx/408/429) puts it back to
'queued' with exponential backoff (base * 2**(attempts-1), capped); a permanent one (SMTP 5xx, HTTP 4xx) or the
last attempt marks it 'failed' with the reason, on the case timeline and in the admin outbox list (Retry there).

At most once, and what that costs. A row is 'sending' from the claim until the worker records the result. If the
worker dies in between, the lease expires and the row is claimed again *with the same Message-ID / idempotency
key*: nothing is lost. It is sent twice only if the worker died after the server accepted it (SMTP 250 / HTTP
2xx) and before the result was committed — a window of one local UPDATE; an SMTP server takes responsibility for
a message only with its 250 reply, so a worker killed while waiting for it has not delivered it. The billing
system must treat the Idempotency-Key (the decision id) as once-only, and mail clients collapse a repeated
Message-ID. For strict at-most-once (never a duplicate, but a message may need a human), set
``[outbox] expired_lease = "fail"``: an expired 'sending' row is then marked failed ("outcome unknown") instead
of retried.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import smtplib
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from data.db import Database, open_database, rowcount
from data.models import Case, Decision, OutboxMessage, Service
from desk import audit
from desk.auth import authorize
from desk.changes import event_at
from desk.config import BillingSettings, SmtpSettings, billing_settings, load_secrets, smtp_settings
from desk.errors import InvalidInput, NotFound
from desk.money import format_money, to_major
from desk.replies import MAX_REPLY, MAX_SUBJECT
from desk.rows import must_get
from policy import MONEY_OUTCOMES

WORKER = "outbox worker"  # the actor of the worker's audit events
SIGNATURE_HEADER = "X-Refund-Desk-Signature"
TIMESTAMP_HEADER = "X-Refund-Desk-Timestamp"


def reply_key(decision_id: int) -> str:
    return f"reply-{decision_id}"


def webhook_key(decision_id: int) -> str:
    return f"decision-{decision_id}"


def message_id(dedupe_key: str, sender: str) -> str:
    """Stable per message: every attempt of one reply carries the same Message-ID."""
    domain = sender.rsplit("@", 1)[-1].strip("> ") or "refund-desk.local"
    return f"<refund-desk.{dedupe_key}@{domain}>"


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over "<timestamp>.<body>", hex: what the billing system recomputes to trust a webhook."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# ---- views --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxView:
    id: int
    kind: str
    status: str
    case_id: int | None
    decision_id: int | None
    recipient: str
    subject: str
    body: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def what(self) -> str:
        return "the reply to the customer" if self.kind == "email" else "the billing webhook"

    @property
    def state(self) -> str:
        if self.status == "queued" and self.attempts:
            return f"queued (retry {self.attempts + 1} at {self.next_attempt_at:%H:%M:%S} UTC)"
        return {"by_hand": "send by hand", "sending": "sending"}.get(self.status, self.status)


def _view(r: OutboxMessage) -> OutboxView:
    return OutboxView(
        r.id,
        r.kind,
        r.status,
        r.case_id,
        r.decision_id,
        r.recipient,
        r.subject,
        r.body,
        r.attempts,
        r.next_attempt_at,
        r.last_error,
        r.created_at,
        r.sent_at,
    )


def for_case(db: Database, case_id: int) -> list[OutboxView]:
    with db.read() as s:
        rows = s.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id))
        return [_view(r) for r in rows]


def listing(db: Database, statuses: tuple[str, ...] = ("failed",), limit: int = 200) -> list[OutboxView]:
    with db.read() as s:
        rows = s.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status.in_(statuses))
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
        return [_view(r) for r in rows]


# ---- writing into the outbox (inside the caller's transaction) -----------------------------------------------------


def _final_decision(s: Session, case_id: int, decision_id: int) -> Decision:
    d = s.get(Decision, decision_id)
    if d is None or d.case_id != case_id:
        raise NotFound(f"Decision #{decision_id} is not on case #{case_id}.")
    if not d.counts:
        raise InvalidInput("This decision is not final yet: a reply can be sent once it is (after any approval).")
    return d


def send_reply(
    db: Database,
    actor_id: int,
    case_id: int,
    decision_id: int,
    to: str,
    subject: str,
    body: str,
    *,
    smtp: SmtpSettings | None | bool = True,
    now: datetime | None = None,
) -> OutboxView:
    """The reviewer's Send: with [smtp] configured the reply goes into the outbox (queued) with its audit event in
    one transaction; without it, it is stored as "send by hand". One reply per decision (sent exactly once)."""
    actor = authorize(db, actor_id, "act_on_case", case_id=case_id)
    if smtp is True:
        smtp = smtp_settings()
    name, address = parseaddr(to or "")
    if "@" not in address or any(ch in (to or "") for ch in "\r\n"):
        raise InvalidInput("The customer's email address is not usable; correct it before sending.", field="to")
    subject = (subject or "").strip()
    if not subject or len(subject) > MAX_SUBJECT or any(ch in subject for ch in "\r\n"):
        raise InvalidInput(f"Write a one-line subject of at most {MAX_SUBJECT} characters.", field="subject")
    body = (body or "").replace("\r\n", "\n").strip()
    if not body:
        raise InvalidInput("The reply is empty.", field="body")
    if len(body) > MAX_REPLY:
        raise InvalidInput(f"Keep the reply under {MAX_REPLY:,} characters.", field="body")
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        _final_decision(s, case_id, decision_id)
        earlier = s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == reply_key(decision_id)))
        if earlier is not None:
            raise InvalidInput(
                "The reply to this decision was already "
                + ("saved to send by hand." if earlier.status == "by_hand" else f"sent ({earlier.status})."),
                field="body",
            )
        row = OutboxMessage(
            kind="email",
            status="queued" if smtp else "by_hand",
            case_id=case_id,
            decision_id=decision_id,
            dedupe_key=reply_key(decision_id),
            recipient=address,
            subject=subject,
            body=body + "\n",
            attempts=0,
            next_attempt_at=at,
            created_by=actor.email,
            created_at=at,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            audit.ReplyQueued(outbox_id=row.id, to=address, subject=subject, by_hand=not smtp),
            actor=actor.email,
            actor_id=actor.id,
            case_id=case_id,
            at=at,
        )
        return _view(row)


def enqueue_billing(s: Session, decision_id: int, *, actor: str, at: datetime, settings=True) -> int | None:
    """Queue the signed billing webhook of a final money decision, in the caller's transaction (decide, approve).
    None when no [billing] is configured or the outcome moves no money."""
    if settings is True:
        settings = billing_settings()
    if not settings:
        return None
    d = must_get(s, Decision, decision_id)
    if d.outcome not in MONEY_OUTCOMES or not d.counts:
        return None
    case = must_get(s, Case, d.case_id)
    svc = must_get(s, Service, case.service_id)
    payload = {
        "idempotency_key": webhook_key(d.id),
        "decision_id": d.id,
        "case_id": case.id,
        "case_external_id": case.external_id,
        "service_id": svc.id,
        "service_external_id": svc.external_id,
        "outcome": d.outcome,
        "amount_minor": d.amount_cents,
        "amount": str(to_major(d.amount_cents, svc.currency)),
        "currency": svc.currency,
        "amount_text": format_money(d.amount_cents, svc.currency),
        "decided_at": d.decided_at.isoformat(),
        "final_at": at.isoformat(),
    }
    row = OutboxMessage(
        kind="webhook",
        status="queued",
        case_id=case.id,
        decision_id=d.id,
        dedupe_key=webhook_key(d.id),
        recipient=settings.url,
        subject=f"{d.outcome} {payload['amount_text']}",
        body=json.dumps(payload, sort_keys=True, separators=(",", ":")),
        attempts=0,
        next_attempt_at=at,
        created_by=actor,
        created_at=at,
    )
    s.add(row)
    s.flush()
    return row.id


def retry(db: Database, admin_id: int, outbox_id: int, *, now: datetime | None = None) -> OutboxView:
    """An admin sends a failed message again: queued now, its attempts counted afresh."""
    actor = authorize(db, admin_id, "manage_outbox")
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        row = s.get(OutboxMessage, outbox_id)
        if row is None:
            raise NotFound(f"Outbox message #{outbox_id} does not exist.")
        if row.status != "failed":
            raise InvalidInput(f"Only a failed message can be retried; this one is {row.status}.")
        row.status, row.attempts, row.next_attempt_at, row.lease_owner, row.lease_until = "queued", 0, at, None, None
        s.flush()
        view = _view(row)
        audit.record(
            s,
            audit.OutboxRetried(outbox_id=row.id, what=view.what),
            actor=actor.email,
            actor_id=actor.id,
            case_id=row.case_id,
            at=at,
        )
        return view


# ---- delivering ---------------------------------------------------------------------------------------------------


class Permanent(Exception):
    """Delivery failed in a way a retry will not fix."""


class Transient(Exception):
    """Delivery failed for now; retry later."""


def deliver_email(row: OutboxMessage, smtp: SmtpSettings) -> None:
    msg = EmailMessage()
    msg["From"] = smtp.sender
    msg["To"] = row.recipient
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(row.created_at.replace(tzinfo=UTC))
    msg["Message-ID"] = message_id(row.dedupe_key, smtp.sender)
    msg.set_content(row.body)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as client:
            if smtp.starttls:
                client.starttls()
            if smtp.username:
                client.login(smtp.username, smtp.password or "")
            client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise Permanent(f"the mail server refused the recipient: {_smtp_reason(exc.recipients)}") from None
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = f"{exc.smtp_code} {error.decode(errors='replace') if isinstance(error, bytes) else error}"
        if 500 <= exc.smtp_code < 600:
            raise Permanent(f"the mail server refused the message: {text}") from None
        raise Transient(f"the mail server asked to try later: {text}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise Transient(f"could not reach the mail server {smtp.host}:{smtp.port}: {exc}") from None


def _smtp_reason(recipients: dict) -> str:
    return "; ".join(
        f"{who}: {code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
        for who, (code, msg) in recipients.items()
    )


def deliver_webhook(row: OutboxMessage, billing: BillingSettings, timeout: float = 15.0) -> None:
    body = row.body.encode()
    timestamp = str(int(time.time()))
    request = urllib.request.Request(
        row.recipient,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": row.dedupe_key,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: "sha256=" + sign(billing.secret, timestamp, body),
            "User-Agent": "refund-desk-outbox",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
    except urllib.error.HTTPError as exc:
        if exc.code in (408, 425, 429) or exc.code >= 500:
            raise Transient(f"the billing system answered HTTP {exc.code}") from None
        raise Permanent(f"the billing system refused it: HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise Transient(f"could not reach the billing system: {getattr(exc, 'reason', exc)}") from None


@dataclass
class Worker:
    """Claims and delivers due outbox rows. Timings are in seconds (shortened in tests)."""

    db: Database
    smtp: SmtpSettings | None
    billing: BillingSettings | None
    lease_seconds: float = 300.0
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 3600.0
    max_attempts: int = 8
    expired_lease: str = "retry"  # or "fail": strict at-most-once
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")

    def backoff(self, attempts: int) -> float:
        return min(self.backoff_seconds * 2 ** max(attempts - 1, 0), self.max_backoff_seconds)

    def _due(self, s: Session, now: datetime):
        t = OutboxMessage
        return or_(
            (t.status == "queued") & (t.next_attempt_at <= now),
            (t.status == "sending") & (t.lease_until < now),
        )

    def claim(self, now: datetime | None = None) -> OutboxMessage | None:
        """Take one due row under a lease (a conditional UPDATE: two workers never hold the same row)."""
        now = now or audit.utcnow()
        t = OutboxMessage
        with self.db.write.begin() as s:
            candidates = s.execute(
                select(t.id, t.status).where(self._due(s, now)).order_by(t.next_attempt_at, t.id).limit(20)
            ).all()
            for row_id, status in candidates:
                if status == "sending" and self.expired_lease == "fail":
                    changed = rowcount(
                        s.execute(
                            update(t)
                            .where(t.id == row_id, t.status == "sending", t.lease_until < now)
                            .values(
                                status="failed",
                                lease_owner=None,
                                lease_until=None,
                                last_error="a worker stopped while delivering it; whether it arrived is unknown "
                                "(strict at-most-once): check, then retry by hand",
                            )
                            .execution_options(synchronize_session=False)
                        )
                    )
                    if changed:
                        row = must_get(s, t, row_id)
                        self._event(
                            s,
                            row,
                            audit.OutboxAttemptFailed(
                                outbox_id=row.id,
                                what=_view(row).what,
                                attempts=row.attempts,
                                error=row.last_error or "",
                                final=True,
                            ),
                            now,
                        )
                    continue
                changed = rowcount(
                    s.execute(
                        update(t)
                        .where(t.id == row_id, self._due(s, now))
                        .values(
                            status="sending",
                            lease_owner=self.owner,
                            lease_until=now + timedelta(seconds=self.lease_seconds),
                            attempts=t.attempts + 1,
                        )
                        .execution_options(synchronize_session=False)
                    )
                )
                if changed == 1:
                    row = must_get(s, t, row_id)
                    s.refresh(row)
                    s.expunge(row)
                    return row
        return None

    def _event(self, s: Session, row: OutboxMessage, event: audit.Event, at: datetime) -> None:
        if row.case_id is not None:
            audit.record(s, event, actor=WORKER, case_id=row.case_id, at=at)

    def _finish(self, row: OutboxMessage, error: str | None, permanent: bool) -> str:
        now = audit.utcnow()
        t = OutboxMessage
        what = _view(row).what
        with self.db.write.begin() as s:
            mine = (t.id == row.id) & (t.status == "sending") & (t.lease_owner == self.owner)
            if error is None:
                values = {"status": "sent", "sent_at": now, "last_error": None}
                event: audit.Event = audit.OutboxDelivered(outbox_id=row.id, what=what, attempts=row.attempts)
                result = "sent"
            elif permanent or row.attempts >= self.max_attempts:
                values = {"status": "failed", "last_error": error}
                event = audit.OutboxAttemptFailed(
                    outbox_id=row.id, what=what, attempts=row.attempts, error=error, final=True
                )
                result = "failed"
            else:
                retry_at = now + timedelta(seconds=self.backoff(row.attempts))
                values = {"status": "queued", "last_error": error, "next_attempt_at": retry_at}
                event = audit.OutboxAttemptFailed(
                    outbox_id=row.id,
                    what=what,
                    attempts=row.attempts,
                    error=error,
                    final=False,
                    retry_at=f"{retry_at:%Y-%m-%d %H:%M:%S}",
                )
                result = "retry"
            changed = rowcount(
                s.execute(
                    update(t)
                    .where(mine)
                    .values(lease_owner=None, lease_until=None, **values)
                    .execution_options(synchronize_session=False)
                )
            )
            if changed != 1:
                return "lost-lease"  # another worker took it over after our lease expired
            self._event(s, row, event, now)
        return result

    def deliver(self, row: OutboxMessage) -> str:
        try:
            if row.kind == "email":
                if self.smtp is None:
                    raise Transient("no [smtp] section is configured for the worker")
                deliver_email(row, self.smtp)
            else:
                if self.billing is None:
                    raise Transient("no [billing] section is configured for the worker")
                deliver_webhook(row, self.billing)
        except Permanent as exc:
            return self._finish(row, str(exc), permanent=True)
        except Transient as exc:
            return self._finish(row, str(exc), permanent=False)
        return self._finish(row, None, permanent=False)

    def run_once(self) -> dict[str, int]:
        """Deliver every row due now; returns how many ended sent / retry / failed."""
        counts: dict[str, int] = {}
        while (row := self.claim()) is not None:
            result = self.deliver(row)
            counts[result] = counts.get(result, 0) + 1
        return counts


def worker_from_config(db: Database, **overrides) -> Worker:
    secrets = load_secrets()
    section = secrets.get("outbox", {})
    options: dict[str, Any] = {
        "lease_seconds": float(section.get("lease_seconds", 300)),
        "backoff_seconds": float(section.get("backoff_seconds", 30)),
        "max_backoff_seconds": float(section.get("max_backoff_seconds", 3600)),
        "max_attempts": int(section.get("max_attempts", 8)),
        "expired_lease": str(section.get("expired_lease", "retry")),
    }
    options.update({k: v for k, v in overrides.items() if v is not None})
    if options["expired_lease"] not in ("retry", "fail"):
        raise RuntimeError('[outbox] expired_lease must be "retry" or "fail"')
    return Worker(db, smtp_settings(secrets), billing_settings(secrets), **options)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m desk.outbox", description="Deliver the outbox (replies, webhooks).")
    ap.add_argument("--db", help="database URL (default: as the app: $DATABASE_URL, secrets, data/refund_desk.db)")
    ap.add_argument("--once", action="store_true", help="deliver what is due now, then exit")
    ap.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the outbox (default 2)")
    ap.add_argument("--lease", type=float, help="seconds a claimed message stays reserved (default 300)")
    ap.add_argument("--backoff", type=float, help="first retry delay in seconds, doubled each time (default 30)")
    ap.add_argument("--max-attempts", type=int, help="attempts before a message is marked failed (default 8)")
    args = ap.parse_args(argv)
    db = open_database(args.db)
    worker = worker_from_config(
        db, lease_seconds=args.lease, backoff_seconds=args.backoff, max_attempts=args.max_attempts
    )
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    print(
        f"outbox worker {worker.owner}: smtp={'on' if worker.smtp else 'off'}, "
        f"billing={'on' if worker.billing else 'off'}",
        flush=True,
    )
    while True:
        try:
            counts = worker.run_once()
        except Exception as exc:  # noqa: BLE001 — a database hiccup must not end the worker; say it and go on
            print(f"outbox worker: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
            counts = {}
        if counts:
            print("outbox: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())), flush=True)
        if args.once or stopping:
            break
        deadline = time.monotonic() + args.poll
        while not stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, args.poll))
    db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
