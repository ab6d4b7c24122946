"""The outbox against a real local SMTP server (aiosmtpd) and a local HTTP receiver: a decision's reply and its
billing webhook each arrive once; a worker killed mid-delivery and restarted loses nothing and sends nothing
twice; a mail server down for a while is retried until delivered; a permanent failure shows on the case and in
the admin list, and an admin's retry delivers it. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hmac
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from data.models import OutboxMessage
from desk import outbox, replies
from desk.cases import case_detail
from desk.decisions import approve_exception, decide
from desk.errors import InvalidInput, NotAllowed
from tests.support.cases import TODAY, add_case, user_id
from tests.support.outbox import SECRET, HttpReceiver, MailServer, free_port, wait_for, write_secrets

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def mail():
    server = MailServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def billing():
    receiver = HttpReceiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def configured(tmp_path, monkeypatch, mail, billing):
    path = write_secrets(tmp_path / "secrets.toml", mail.port, billing.url)
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(path))
    return path


def fast_worker(db, **kw):
    kw = {"lease_seconds": 1.5, "backoff_seconds": 0.2, "max_attempts": 6, **kw}
    return outbox.worker_from_config(db, **kw)


def decided_refund(db, reviewer="rita"):
    """A billing-error case decided as a full refund (final at once): (case id, decision id)."""
    cid = add_case(
        db, reason="billing_error", price_cents=12_000, customer_name="Zoë Example", customer_email="zoe@example.com"
    )
    r = decide(db, user_id(db, reviewer), cid, "full_refund", 12_000, "", 1, None, today=TODAY)
    return cid, r.decision_id


def send(db, cid, decision_id, who="rita"):
    detail = case_detail(db, cid, TODAY)
    draft = replies.reply_draft(db, cid, decision_id, detail.decision.draft_reply)
    return outbox.send_reply(db, user_id(db, who), cid, decision_id, draft.to, draft.subject, draft.body)


def drop_webhooks(db):
    with db.write.begin() as s:
        s.execute(delete(OutboxMessage).where(OutboxMessage.kind == "webhook"))


def statuses(db):
    with db.read() as s:
        return dict(s.execute(select(OutboxMessage.kind, OutboxMessage.status)).all())


def test_a_decisions_reply_and_webhook_each_arrive_once(demo_db, configured, mail, billing):
    db = demo_db
    cid, did = decided_refund(db)
    queued = send(db, cid, did)
    assert queued.status == "queued"
    with pytest.raises(InvalidInput, match="already sent"):
        send(db, cid, did)  # one reply per decision
    worker = fast_worker(db)
    assert worker.run_once() == {"sent": 2}
    assert worker.run_once() == {}
    assert len(mail.handler.messages) == 1 and len(billing.requests) == 1
    msg = mail.handler.messages[0]
    assert msg["To"] == "zoe@example.com" and msg["Message-ID"] == outbox.message_id(
        f"reply-{did}", "refunds@refund-desk.example"
    )
    text = msg.get_content()
    assert text.startswith("Dear Zoë Example,") and "$120.00" in text
    hook = billing.requests[0]
    body = json.loads(hook.body)
    assert body["decision_id"] == did and body["currency"] == "USD" and body["amount_minor"] == 12_000
    assert hook.headers["Idempotency-Key"] == f"decision-{did}"
    expected = outbox.sign(SECRET, hook.headers["X-Refund-Desk-Timestamp"], hook.body)
    assert hmac.compare_digest(hook.headers["X-Refund-Desk-Signature"], "sha256=" + expected)
    kinds = [e.kind for e in case_detail(db, cid, TODAY).timeline]
    assert kinds.count("outbox_sent") == 2 and "reply_queued" in kinds


def test_a_webhook_waits_for_the_approval_of_an_exception(demo_db, configured, billing):
    db = demo_db
    cid = add_case(db, reason="user_error", price_cents=9_000)  # denied by the policy: a credit is an exception
    r = decide(
        db,
        user_id(db, "rita"),
        cid,
        "credit",
        3_000,
        "Exception because the customer was misled by our own onboarding email.",
        1,
        None,
        today=TODAY,
    )
    assert r.approval_status == "pending"
    assert statuses(db) == {}
    approve_exception(db, user_id(db, "max"), r.decision_id, "Agreed.", today=TODAY)
    assert statuses(db) == {"webhook": "queued"}
    fast_worker(db).run_once()
    assert json.loads(billing.requests[0].body)["outcome"] == "credit"


def test_without_smtp_the_reply_is_kept_to_send_by_hand(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(write_secrets(tmp_path / "s.toml", None, None)))
    db = demo_db
    cid, did = decided_refund(db)
    view = send(db, cid, did)
    assert view.status == "by_hand" and view.state == "send by hand"
    assert statuses(db) == {"email": "by_hand"}  # and no webhook without [billing]
    assert fast_worker(db).run_once() == {}


def _worker_process(db, secrets: Path) -> subprocess.Popen:
    env = {**os.environ, "REFUND_DESK_SECRETS": str(secrets)}
    return subprocess.Popen(
        [sys.executable, "-m", "desk.outbox", "--db", db.url, "--poll", "0.1", "--lease", "2", "--backoff", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def test_a_worker_killed_mid_delivery_and_restarted_loses_nothing_and_sends_nothing_twice(
    demo_db, configured, mail, billing
):
    db = demo_db
    cid, did = decided_refund(db)
    drop_webhooks(db)  # only the reply in this test
    send(db, cid, did)
    mail.handler.hold.set()
    first = _worker_process(db, configured)
    try:
        wait_for(mail.handler.holding.is_set, what="the worker to be in the middle of DATA")
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    mail.handler.hold.clear()
    wait_for(lambda: mail.handler.dropped == 1, what="the server to drop the unfinished message")
    assert statuses(db) == {"email": "sending"}  # claimed by the dead worker, lease not yet expired
    second = _worker_process(db, configured)
    try:
        wait_for(lambda: statuses(db) == {"email": "sent"}, what="the restarted worker to deliver it")
    finally:
        second.terminate()
        second.wait(10)
    assert len(mail.handler.messages) == 1
    with db.read() as s:
        assert s.scalar(select(OutboxMessage.attempts)) == 2


def test_a_mail_server_down_for_a_while_is_retried_until_delivered(demo_db, tmp_path, monkeypatch):
    port = free_port()  # nothing listens here yet
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(write_secrets(tmp_path / "s.toml", port, None)))
    db = demo_db
    cid, did = decided_refund(db)
    send(db, cid, did)
    worker = fast_worker(db, max_attempts=20)
    assert worker.run_once() == {"retry": 1}
    with db.read() as s:
        row = s.scalar(select(OutboxMessage))
        assert row.status == "queued" and "could not reach the mail server" in row.last_error
    wait_for(lambda: worker.run_once() == {"retry": 1}, what="a second, backed-off attempt")
    server = MailServer(port).start()  # the server comes back
    try:
        wait_for(lambda: worker.run_once().get("sent"), what="delivery after the outage")
        assert len(server.handler.messages) == 1
    finally:
        server.stop()
    timeline = [e.what for e in case_detail(db, cid, TODAY).timeline]
    assert any("will retry at" in w for w in timeline) and any(w.startswith("Sent: the reply") for w in timeline)


def test_a_permanent_failure_shows_on_the_case_and_in_the_admin_list_and_an_admin_retries_it(demo_db, configured, mail):
    db = demo_db
    cid, did = decided_refund(db)
    send(db, cid, did)
    mail.handler.refuse_rcpt = "550 5.1.1 No such user here"
    worker = fast_worker(db)
    assert worker.run_once() == {"failed": 1, "sent": 1}  # the reply failed, the webhook went
    failed = outbox.listing(db)
    assert [f.kind for f in failed] == ["email"] and "550 5.1.1 No such user" in failed[0].last_error
    shown = [v for v in outbox.for_case(db, cid) if v.kind == "email"][0]
    assert shown.status == "failed"
    assert any("gave up" in e.what for e in case_detail(db, cid, TODAY).timeline)
    with pytest.raises(NotAllowed):
        outbox.retry(db, user_id(db, "rita"), failed[0].id)
    mail.handler.refuse_rcpt = None
    outbox.retry(db, user_id(db, "ada"), failed[0].id)
    assert worker.run_once() == {"sent": 1}
    assert outbox.listing(db) == [] and len(mail.handler.messages) == 1


def test_strict_at_most_once_marks_an_expired_send_failed_instead_of_retrying(demo_db, configured, mail):
    db = demo_db
    cid, did = decided_refund(db)
    drop_webhooks(db)
    send(db, cid, did)
    dead = fast_worker(db, lease_seconds=0.2)
    row = dead.claim()  # claimed, then the worker "dies" without a result
    assert row is not None and row.kind == "email"
    time.sleep(0.5)
    strict = fast_worker(db, expired_lease="fail")
    strict.run_once()
    email_row = [v for v in outbox.for_case(db, cid) if v.kind == "email"][0]
    assert email_row.status == "failed" and "unknown" in email_row.last_error
    assert mail.handler.message_ids().count(outbox.message_id(f"reply-{did}", "refunds@refund-desk.example")) == 0


def test_templates_are_versioned_sandboxed_and_audited(demo_db, configured):
    db = demo_db
    cid, did = decided_refund(db)
    max_id = user_id(db, "max")
    with pytest.raises(NotAllowed):
        replies.save_template(db, user_id(db, "rita"), "full_refund", "{{ draft }}")
    for bad, msg in [
        ("{{ draft.__class__.__mro__ }}", "cannot be used"),
        ("{{ lipsum() }}", "cannot be used"),
        ("{{ secret_field }}", "cannot be used"),
        ("{% for %}", "cannot be used"),
    ]:
        with pytest.raises(InvalidInput, match=msg):
            replies.save_template(db, max_id, "full_refund", bad)
    assert replies.save_template(db, max_id, "full_refund", "{{ salutation }}\n\nRefund: {{ amount }}.\n") == 1
    assert replies.save_template(db, max_id, "full_refund", "{{ draft }}\n-- {{ outcome }} --\n") == 2
    assert [t.version for t in replies.template_history(db, "full_refund")] == [2, 1]
    detail = case_detail(db, cid, TODAY)
    draft = replies.reply_draft(db, cid, did, detail.decision.draft_reply)
    assert draft.template_version == 2 and draft.body.endswith("-- Full refund --\n")
    assert draft.body.startswith("Dear Zoë Example,")
    with db.read() as s:
        from data.models import CaseEvent

        assert (
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind == "reply_template_saved")) == 2
        )
