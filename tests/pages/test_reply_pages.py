"""The reply in AppTest: the reviewer edits the draft and sends it (queued with [smtp], else kept to send by
hand with a copy box); managers version the templates; admins see failed messages and retry them."""

from __future__ import annotations

from sqlalchemy import select

from data.models import OutboxMessage
from desk import outbox
from desk.decisions import decide
from tests.conftest import make_demo
from tests.pages.test_case_page import open_case
from tests.support.cases import TODAY, add_case, user_id
from tests.support.outbox import write_secrets


def desk_with_refund(tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url, cases=60)
    cid = add_case(
        db, reason="billing_error", price_cents=12_000, customer_name="Zoë Example", customer_email="zoe@example.com"
    )
    decide(db, user_id(db, "rita"), cid, "full_refund", 12_000, "", 1, None, today=TODAY)
    return url, db, cid


def test_the_reviewer_edits_and_sends_the_reply_into_the_outbox(app, tmp_path, monkeypatch):
    url, db, cid = desk_with_refund(tmp_path)
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(write_secrets(tmp_path / "s.toml", 2525, None)))
    at = open_case(app(url), cid, "rita")
    body = next(t for t in at.text_area if t.label == "Reply")
    assert body.value.startswith("Dear Zoë Example,") and "$120.00" in body.value
    body.set_value(body.value + "\nP.S. Edited by Rita.\n")
    next(b for b in at.button if b.label == "Send reply").click()
    at.run()
    assert not at.exception
    assert any("Reply queued" in s.value for s in at.success)
    with db.read() as s:
        row = s.scalar(select(OutboxMessage).where(OutboxMessage.kind == "email"))
    assert row.status == "queued" and row.body.rstrip().endswith("P.S. Edited by Rita.")
    assert not any(t.label == "Reply" for t in at.text_area)  # sent once: no second form
    db.dispose()


def test_without_smtp_the_reply_is_kept_to_send_by_hand_with_a_copy_box(app, tmp_path, monkeypatch):
    url, db, cid = desk_with_refund(tmp_path)
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(tmp_path / "none.toml"))
    at = open_case(app(url), cid, "rita")
    next(b for b in at.button if b.label == "Save reply to send by hand").click()
    at.run()
    assert any(c.value.startswith("Subject: Your refund request") for c in at.code)
    db.dispose()


def test_a_manager_saves_a_template_version_and_the_admin_retries_a_failed_message(app, tmp_path, monkeypatch):
    url, db, cid = desk_with_refund(tmp_path)
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(write_secrets(tmp_path / "s.toml", 2525, None)))
    at = app(url)
    at.session_state["local_user_email"] = "max@refund-desk.example"
    at.run()
    at.switch_page("pages/templates.py").run()
    at.selectbox(key="tpl_outcome").set_value("full_refund").run()
    at.text_area(key="tpl_full_refund").set_value("{{ salutation }}\n\n{{ amount }} is on its way.\n")
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    assert any("version 1" in s.value for s in at.success)
    at.text_area(key="tpl_full_refund").set_value("{{ draft.__class__ }}")
    next(b for b in at.button if b.label == "Save as a new version").click()
    at.run()
    assert any("cannot be used" in e.value for e in at.error)
    # the reviewer's draft now follows version 1
    rv = open_case(app(url), cid, "rita")
    assert next(t for t in rv.text_area if t.label == "Reply").value == "Dear Zoë Example,\n\n$120.00 is on its way.\n"
    next(b for b in rv.button if b.label == "Send reply").click()
    rv.run()
    with db.write.begin() as s:
        s.execute(OutboxMessage.__table__.update().values(status="failed", last_error="550 no such user"))
    admin = app(url)
    admin.session_state["local_user_email"] = "ada@refund-desk.example"
    admin.run()
    admin.switch_page("pages/outbox.py").run()
    assert any("550 no such user" in t.value for t in admin.text)
    next(b for b in admin.button if b.label == "Retry").click()
    admin.run()
    assert any("queued again" in s.value for s in admin.success)
    assert [v.status for v in outbox.for_case(db, cid) if v.kind == "email"] == ["queued"]
    db.dispose()


def test_the_outbox_and_templates_pages_are_for_their_roles_only_even_when_opened_directly(app):
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from ui.nav import pages_for

    app()  # points the Streamlit layer at the shared demo desk
    assert "outbox" in [p.key for p in pages_for("admin")] and "templates" in [p.key for p in pages_for("manager")]
    pages = Path(__file__).resolve().parents[2] / "pages"
    for who, page in (("rita", "outbox.py"), ("max", "outbox.py"), ("rita", "templates.py"), ("ada", "templates.py")):
        direct = AppTest.from_file(str(pages / page), default_timeout=60)
        direct.session_state["local_user_email"] = f"{who}@refund-desk.example"
        direct.run()
        assert not direct.exception
        assert [w.value for w in direct.warning] == ["This page is not available for your role."], (who, page)
        assert not direct.title
