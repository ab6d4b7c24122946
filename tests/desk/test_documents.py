"""Documents on a case: type from content, limits, refusals that store nothing, one copy per content, audit
events, admin-only removal that hides, and the policy's "documentation provided" following the files.
Every database test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from data.demo_documents import complaint_email, invoice_pdf, note_text, photo_jpeg, screenshot_png
from data.models import CaseDocument, CaseEvent, Document
from desk import documents
from desk.cases import case_detail
from desk.config import DocumentLimits, document_limits
from desk.errors import InvalidInput, NotAllowed
from tests.support.cases import TODAY, add_case, user_id

JS_PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R /OpenAction 3 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
    b"3 0 obj << /S /JavaScript /JS (app.alert('hi')) >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def bomb_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, format="PNG")  # 81 Mpx, a few kilobytes on disk
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        (screenshot_png(), "image/png"),
        (photo_jpeg(), "image/jpeg"),
        (invoice_pdf(), "application/pdf"),
        (note_text(), "text/plain"),
        (complaint_email(), "message/rfc822"),
    ],
)
def test_the_type_is_decided_from_the_content(data, media_type):
    assert documents.check_file(data, DocumentLimits()) == media_type


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00", "not one of the accepted types"),
        (b"GIF89a\x01\x00\x01\x00", "not one of the accepted types"),
        (screenshot_png()[:200], "damaged or incomplete"),
        (bomb_png(), "decompression bomb"),
        (JS_PDF, "This PDF is refused"),
        (JS_PDF.replace(b"/JavaScript", b"/J#61vaScript").replace(b"/OpenAction", b"/Open#41ction"), "PDF is refused"),
        (b"%PDF-1.4 garbage", "PDF is refused"),
    ],
    ids=["empty", "exe", "gif", "truncated-png", "bomb", "js-pdf", "escaped-js-pdf", "corrupt-pdf"],
)
def test_bad_files_are_refused_with_a_clear_message(data, message):
    with pytest.raises(InvalidInput, match=message):
        documents.check_file(data, DocumentLimits())


def test_a_file_over_the_limit_is_refused_and_the_limit_is_configurable(tmp_path, monkeypatch):
    with pytest.raises(InvalidInput, match="limit is 1.0 MB per file"):
        documents.check_file(b"a" * (1024 * 1024 + 1), DocumentLimits(max_file_bytes=1024 * 1024))
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("[documents]\nmax_file_mb = 2\nmax_case_mb = 3\n")
    monkeypatch.setenv("REFUND_DESK_SECRETS", str(secrets))
    assert document_limits() == DocumentLimits(2 * 1024 * 1024, 3 * 1024 * 1024)


def test_a_png_named_like_a_pdf_is_a_png_and_names_are_made_inert():
    data = screenshot_png()
    assert documents.check_file(data, DocumentLimits()) == "image/png"
    assert documents.clean_name("../../etc/x\n<b>y<b>.pdf", "image/png") == "x <b>y<b>.pdf"
    assert documents.clean_name("", "image/png") == "document (PNG image)"


def test_images_are_re_encoded_without_their_metadata():
    raw = photo_jpeg()
    assert b"secret-location" in raw
    shown = documents.display_image(raw)
    assert shown.startswith(b"\x89PNG") and b"secret-location" not in shown and b"DemoCam" not in shown
    polyglot = screenshot_png() + b"<script>alert(1)</script>"
    assert b"<script>" not in documents.display_image(polyglot)


def test_a_pdf_preview_is_a_png_of_its_first_page_and_an_email_shows_plain_text_only():
    assert documents.pdf_first_page(invoice_pdf()).startswith(b"\x89PNG")
    view = documents.email_view(complaint_email())
    assert ("Subject", "Refund request: the service never worked") in view.headers
    assert "stopped working on day two" in view.text and "<img" not in view.text


def counts(db):
    with db.read() as s:
        return (
            s.scalar(select(func.count()).select_from(Document)),
            s.scalar(select(func.count()).select_from(CaseDocument)),
            s.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.kind.like("document_%"))),
        )


def test_an_upload_is_stored_once_per_content_audited_and_drives_documentation_provided(demo_db):
    db = demo_db
    rita, ada = user_id(db, "rita"), user_id(db, "ada")
    a = add_case(db, reason="our_error", documentation=[])
    b = add_case(db, reason="our_error", documentation=[])
    assert not case_detail(db, a, TODAY).facts.documentation_provided
    before = counts(db)
    png = screenshot_png()
    first = documents.attach(db, rita, a, "error.png", png, 1)
    assert first.stored_new_bytes and first.case_version == 2
    d = case_detail(db, a, TODAY)
    assert d.facts.documentation_provided
    assert [e.kind for e in d.timeline][0] == "document_added"
    second = documents.attach(db, rita, b, "same-screenshot.png", png, 1)
    assert not second.stored_new_bytes
    assert counts(db) == (before[0] + 1, before[1] + 2, before[2] + 2)
    with pytest.raises(InvalidInput, match="already on the case"):
        documents.attach(db, rita, a, "again.png", png, 2)
    # removal: admins only, hides (kept), audited, and the finding follows
    with pytest.raises(NotAllowed):
        documents.remove(db, rita, a, first.link_id, "wrong customer")
    with pytest.raises(InvalidInput, match="Say why"):
        documents.remove(db, ada, a, first.link_id, "  ")
    documents.remove(db, ada, a, first.link_id, "Belongs to another customer.", 2)
    assert documents.case_documents(db, a) == []
    kept = documents.case_documents(db, a, include_hidden=True)
    assert kept[0].hidden and kept[0].hidden_by == "ada@refund-desk.example"
    d = case_detail(db, a, TODAY)
    assert not d.facts.documentation_provided and d.timeline[0].kind == "document_removed"
    view, data = documents.document_bytes(db, a, first.link_id)
    assert data == png and view.hidden


def test_refusals_store_nothing(demo_db):
    db = demo_db
    rita = user_id(db, "rita")
    cid = add_case(db, documentation=[])
    before = counts(db)
    for bad in (b"", bomb_png(), JS_PDF, screenshot_png()[:100], b"\x00\x01binary"):
        with pytest.raises(InvalidInput):
            documents.attach(db, rita, cid, "bad.png", bad, 1)
    with pytest.raises(InvalidInput, match="limit per case"):
        small = DocumentLimits(max_file_bytes=10_000_000, max_case_bytes=5000)
        documents.attach(db, rita, cid, "a.png", screenshot_png("one"), 1, limits=small)
        documents.attach(db, rita, cid, "b.png", screenshot_png("two"), 2, limits=small)
    assert counts(db)[0] - before[0] <= 1  # only the first, accepted file
    assert case_detail(db, cid, TODAY).version <= 2


def test_names_recorded_without_a_file_are_kept_beside_the_files(demo_db):
    db = demo_db
    cid = add_case(db, documentation=[{"kind": "email", "name": "from the import.eml"}])
    documents.attach(db, user_id(db, "rita"), cid, "note.txt", note_text(), 1)
    names = [i["name"] for i in case_detail(db, cid, TODAY).documentation]
    assert names == ["from the import.eml", "note.txt"]


def test_the_demo_desk_gets_a_few_generated_documents(tmp_path):
    from data.db import open_database
    from data.generate import ensure_demo_database

    url = f"sqlite:///{tmp_path / 'demo.db'}"
    counts_ = ensure_demo_database(url, cases=120)
    assert counts_["documents"] == 4
    db = open_database(url)
    with db.read() as s:
        kinds = set(s.scalars(select(CaseDocument.kind)))
    assert kinds == {"screenshot", "email", "pdf", "text"}
    db.dispose()


def test_the_importer_attaches_the_files_its_documentation_column_names(demo_db, tmp_path):
    from data.models import Case
    from desk.errors import NotAllowed as Refused

    db = demo_db
    a = add_case(db, documentation=[{"kind": "screenshot", "name": "err.png"}])
    b = add_case(db, documentation=[])
    with db.write.begin() as s:
        s.get(Case, a).external_id = "EXT-A"
        s.get(Case, b).external_id = "EXT-B"
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "err.png").write_bytes(screenshot_png())
    (folder / "mail.eml").write_bytes(complaint_email())
    (folder / "fake.pdf").write_bytes(b"MZ\x90\x00\x03 a program, not a pdf")
    rows = [("EXT-A", "err.png; mail.eml"), ("EXT-B", "fake.pdf; missing.txt; ../secret.txt"), ("EXT-X", "err.png")]
    with pytest.raises(Refused):
        documents.attach_from_folder(db, user_id(db, "rita"), rows, folder)  # reviewers do not import
    report = documents.attach_from_folder(db, user_id(db, "ada"), rows, folder)
    assert report.attached == [("EXT-A", "err.png"), ("EXT-A", "mail.eml")]
    assert [(e, n) for e, n, _ in report.problems] == [
        ("EXT-B", "fake.pdf"),
        ("EXT-B", "missing.txt"),
        ("EXT-B", "../secret.txt"),
        ("EXT-X", "err.png"),
    ]
    names = [i["name"] for i in case_detail(db, a, TODAY).documentation]
    assert names == ["err.png", "mail.eml"]  # the name recorded by the import is now the file, once


@pytest.mark.parametrize(
    ("media_type", "said"),
    [("message/rfc822", "Added an email (.eml) to the case."), ("image/png", "Added a PNG image to the case.")],
)
def test_the_added_message_reads_as_english(media_type, said):
    from desk.documents import Attached

    assert Attached(1, 2, "x", media_type, True).message == said
