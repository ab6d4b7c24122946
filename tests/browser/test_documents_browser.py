"""Documents and the reply in a real browser (headless Chromium): upload an image and an email and see them on
the case page, a refused upload with its message, and send a reply that the outbox delivers to a local SMTP
server."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from data.demo_documents import complaint_email, screenshot_png
from desk import documents, outbox
from desk.decisions import decide
from tests.browser.test_reviewer_flow import click, start
from tests.conftest import make_demo
from tests.support.browser import ARTIFACTS, wait_for_app
from tests.support.cases import TODAY, add_case, user_id
from tests.support.outbox import MailServer, free_port, write_secrets

pytestmark = pytest.mark.browser


@pytest.fixture
def mail():
    server = MailServer(free_port()).start()
    yield server
    server.stop()


@pytest.fixture
def desk(tmp_path, server_factory, mail):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url, cases=120)
    secrets = write_secrets(tmp_path / "secrets.toml", mail.port, None)
    server = server_factory(url, env={"REFUND_DESK_SECRETS": str(secrets)})
    yield db, server, secrets
    db.dispose()


def upload(page, path) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
    expect(page.get_by_test_id("stFileUploader").get_by_text(path.name)).to_be_visible()
    wait_for_app(page)
    click(page, page.get_by_role("button", name="Add to the case"))


def test_upload_an_image_and_an_email_see_them_and_a_refused_upload_says_why(desk, browser_page, tmp_path):
    db, server, _ = desk
    page = browser_page
    cid = add_case(db, reason="our_error", documentation=[], customer_name="Mira Upload")
    (tmp_path / "error screen.png").write_bytes(screenshot_png("Checkout failed"))
    (tmp_path / "complaint.eml").write_bytes(complaint_email())
    (tmp_path / "invoice.pdf").write_bytes(b"GIF89a\x01\x00\x01\x00 not a pdf at all")
    start(page, server, f"/case?case={cid}")
    click(page, page.get_by_role("tab", name="Documents"))  # the case page keeps documents one click away
    expect(page.get_by_text("No files on the case yet.")).to_be_visible()

    upload(page, tmp_path / "error screen.png")
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Added a PNG image to the case.")
    expect(page.get_by_test_id("stText").get_by_text("error screen.png", exact=True)).to_be_visible()
    expect(page.get_by_test_id("stImage").first).to_be_visible()

    upload(page, tmp_path / "complaint.eml")
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Added an email (.eml) to the case.")
    expect(page.get_by_test_id("stText").get_by_text("stopped working on day two", exact=False)).to_be_visible()
    expect(page.get_by_text("tracker.example")).to_have_count(0)  # the HTML part is never shown

    upload(page, tmp_path / "invoice.pdf")
    expect(page.get_by_test_id("stAlertContentError")).to_contain_text("not one of the accepted types")
    assert [d.file_name for d in documents.case_documents(db, cid)] == ["error screen.png", "complaint.eml"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.get_by_text("Files on the case").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "case-documents.png"), full_page=True)


def test_send_a_reply_and_the_worker_delivers_it(desk, browser_page, mail, monkeypatch):
    db, server, secrets = desk
    page = browser_page
    cid = add_case(
        db, reason="billing_error", price_cents=12_000, customer_name="Zoë Example", customer_email="zoe@example.com"
    )
    decide(db, user_id(db, "rita"), cid, "full_refund", 12_000, "", 1, None, today=TODAY)
    start(page, server, f"/case?case={cid}")
    reply = page.get_by_role("textbox", name="Reply")
    expect(reply).to_have_value(re.compile(r"^Dear Zoë Example,"))
    reply.fill(reply.input_value() + "\nWith apologies for the wait.\n")
    click(page, page.get_by_role("button", name="Send reply"))
    expect(page.get_by_test_id("stAlertContentSuccess")).to_contain_text("Reply queued")
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(secrets))
    assert outbox.worker_from_config(db).run_once() == {"sent": 1}
    assert len(mail.handler.messages) == 1
    assert "With apologies for the wait." in mail.handler.messages[0].get_content()
    page.reload()
    wait_for_app(page)
    expect(page.get_by_role("textbox", name="Reply")).to_have_count(0)  # sent once: no form again
    page.get_by_text("Reply to the customer", exact=True).scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "case-reply-sent.png"))
