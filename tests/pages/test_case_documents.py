"""The case page shows the files on a case without leaving it: an image (re-encoded), an email's headers and
plain text (never its HTML), a PDF's first page; names stay inert; admins get the removal form."""

from __future__ import annotations

from data.demo_documents import complaint_email, invoice_pdf, screenshot_png
from desk import documents
from tests.conftest import make_demo
from tests.pages.test_case_page import open_case
from tests.support.cases import add_case, user_id


def test_the_case_page_shows_an_image_an_email_and_a_pdf(app, tmp_path):
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    db = make_demo(url, cases=60)
    rita = user_id(db, "rita")
    cid = add_case(db, reason="our_error", documentation=[])
    documents.attach(db, rita, cid, "**bold** <img src=x>.png", screenshot_png(), 1)
    documents.attach(db, rita, cid, "complaint.eml", complaint_email(), 2)
    documents.attach(db, rita, cid, "invoice.pdf", invoice_pdf(), 3)
    at = open_case(app(url), cid, "rita", tab="Documents")
    texts = [t.value for t in at.text]
    assert "**bold** <img src=x>.png" in texts  # the name as plain text, not Markdown
    assert any("stopped working on day two" in t for t in texts)
    assert not any("tracker.example" in t for t in texts)  # the HTML part is not shown
    assert len(at.get("image")) >= 2  # the screenshot and the PDF's first page
    assert not any("**bold**" in m.value for m in at.markdown)
    assert len(at.get("file_uploader")) == 1  # reviewers may upload
    assert not any(s.label.startswith("Remove a document") for s in at.selectbox)
    admin = open_case(app(url), cid, "ada", tab="Documents")
    assert any(s.label.startswith("Remove a document") for s in admin.selectbox)
    assert len(admin.get("file_uploader")) == 0
    db.dispose()
