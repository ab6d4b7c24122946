"""Documents on a case (issue 13): upload, list, view, remove.

- The type is decided from the content (magic bytes), never from the name: PNG, JPEG, PDF, plain UTF-8 text,
  RFC 822 email. Each file is checked before anything is written: size (per file and per case, see
  desk.config.document_limits), an image must decode fully and stay under ``MAX_IMAGE_PIXELS`` (a decompression
  bomb is refused), a PDF must open and carry no JavaScript or automatic actions, an email must parse.
- The bytes live in ``documents`` once per content hash; ``case_documents`` links them to a case. Upload and
  removal bump the case version and write an audit event in the same transaction, and keep
  ``cases.documentation`` (what the policy's "documentation provided" finding reads, see desk.facts) equal to
  the visible files plus any names recorded without a file (imported before files were kept).
- Viewing never hands out the stored bytes of an image: ``display_image`` re-encodes it with Pillow (which drops
  metadata and anything appended to the pixels); a PDF is shown as a rendered first page (pypdfium2) plus a
  download; an email as its headers and plain-text part (never its HTML).

Removal hides the file (admins only); it stays in the database for the audit trail.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from data.db import Database
from data.models import Case, CaseDocument, Document
from desk import audit
from desk.auth import authorize
from desk.changes import bump, event_at, stale_case
from desk.config import DocumentLimits, document_limits
from desk.errors import InvalidInput, NotFound

# An image larger than this many pixels is refused as a possible decompression bomb (Pillow's own default
# warns at ~89 Mpx and raises at twice that; a screenshot is far smaller).
MAX_IMAGE_PIXELS = 40_000_000
PREVIEW_MAX_SIDE = 1600
MAX_NAME = 255

KINDS = {  # media type -> kind shown on the case page and stored in cases.documentation
    "image/png": "screenshot",
    "image/jpeg": "screenshot",
    "application/pdf": "pdf",
    "text/plain": "text",
    "message/rfc822": "email",
}
TYPE_LABELS = {
    "image/png": "PNG image",
    "image/jpeg": "JPEG image",
    "application/pdf": "PDF document",
    "text/plain": "text file",
    "message/rfc822": "email (.eml)",
}
ACCEPTED = "PNG or JPEG images, PDF documents, plain-text files and .eml emails"
# PDF names that run code or act by themselves when the file is opened
PDF_ACTIVE = (b"/JavaScript", b"/JS", b"/OpenAction", b"/AA", b"/Launch", b"/RichMedia", b"/EmbeddedFile")


def mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 100_000 else f"{n / 1024:.0f} KB"


# ---- deciding what a file is -------------------------------------------------------------------------------------


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")  # control characters other than tab, newlines, form feed


def _is_text(data: bytes) -> str | None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if _CONTROL.search(text):
        return None
    return text


_HEADER = re.compile(rb"^[!-9;-~]+:[ \t]?", re.ASCII)


def _looks_like_email(data: bytes) -> bool:
    head = data[:8192].replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    lines = [ln for ln in head.split(b"\n") if ln and not ln[:1].isspace()]
    if not lines or not all(_HEADER.match(ln) for ln in lines):
        return False
    names = {ln.split(b":", 1)[0].strip().lower() for ln in lines}
    return b"from" in names and bool(names & {b"subject", b"date", b"to", b"message-id"})


def sniff(data: bytes) -> str | None:
    """The media type of a file from its first bytes, or None if it is none of the accepted types."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if _is_text(data) is None:
        return None
    return "message/rfc822" if _looks_like_email(data) else "text/plain"


def _open_image(data: bytes):
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError("too many pixels")
            img.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(
            "This image is refused: it declares more than "
            f"{MAX_IMAGE_PIXELS // 1_000_000} million pixels (a possible decompression bomb).",
            field="file",
        ) from None
    except Exception:  # noqa: BLE001 — Pillow raises many types for a broken file
        raise InvalidInput("This image is damaged or incomplete and cannot be read.", field="file") from None
    return img


def _pdf_problem(data: bytes) -> str | None:
    # names may be written with #xx escapes (/J#61vaScript): undo them before looking
    plain = re.sub(rb"#([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
    for name in PDF_ACTIVE:
        if re.search(re.escape(name) + rb"(?![A-Za-z])", plain):
            return f"it contains {name.decode()[1:]} (code or an action that runs when it is opened)"
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return "it is damaged and cannot be opened"
    try:
        if len(pdf) < 1:
            return "it has no pages"
        if pdfium_c.FPDFDoc_GetJavaScriptActionCount(pdf.raw) > 0:  # also inside compressed object streams
            return "it contains JavaScript"
    finally:
        pdf.close()
    return None


def _parse_email(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def check_file(data: bytes, limits: DocumentLimits | None = None) -> str:
    """The media type of an acceptable file; InvalidInput saying why it is refused otherwise."""
    limits = limits or document_limits()
    if not data:
        raise InvalidInput("This file is empty.", field="file")
    if len(data) > limits.max_file_bytes:
        raise InvalidInput(
            f"This file is {mb(len(data))}; the limit is {mb(limits.max_file_bytes)} per file.", field="file"
        )
    media_type = sniff(data)
    if media_type is None:
        raise InvalidInput(
            f"This file's content is not one of the accepted types ({ACCEPTED}), whatever its name says.",
            field="file",
        )
    if media_type.startswith("image/"):
        _open_image(data)
    elif media_type == "application/pdf":
        problem = _pdf_problem(data)
        if problem:
            raise InvalidInput(f"This PDF is refused: {problem}.", field="file")
    elif media_type == "message/rfc822":
        try:
            _parse_email(data)
        except Exception:  # noqa: BLE001
            raise InvalidInput("This email cannot be read.", field="file") from None
    return media_type


def clean_name(name: str | None, media_type: str) -> str:
    """A file name fit to store and show: printable, no folders, bounded."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = " ".join("".join(ch if ch.isprintable() else " " for ch in base).split())[:MAX_NAME]
    return base or f"document ({TYPE_LABELS[media_type]})"


# ---- reading -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentView:
    link_id: int
    document_id: int
    file_name: str
    kind: str
    media_type: str
    size_bytes: int
    sha256: str
    added_by: str
    added_at: datetime
    hidden: bool
    hidden_by: str | None
    hidden_at: datetime | None

    @property
    def type_label(self) -> str:
        return TYPE_LABELS.get(self.media_type, self.media_type)


def case_documents(db: Database, case_id: int, *, include_hidden: bool = False) -> list[DocumentView]:
    """The documents on a case, oldest first (without their bytes)."""
    with db.read() as s:
        q = (
            select(CaseDocument, Document.media_type, Document.size_bytes, Document.sha256)
            .join(Document, Document.id == CaseDocument.document_id)
            .where(CaseDocument.case_id == case_id)
            .order_by(CaseDocument.added_at, CaseDocument.id)
        )
        if not include_hidden:
            q = q.where(CaseDocument.hidden.is_(False))
        return [
            DocumentView(
                link.id,
                link.document_id,
                link.file_name,
                link.kind,
                mt,
                size,
                sha,
                link.added_by,
                link.added_at,
                link.hidden,
                link.hidden_by,
                link.hidden_at,
            )
            for link, mt, size, sha in s.execute(q)
        ]


def document_bytes(db: Database, case_id: int, link_id: int) -> tuple[DocumentView, bytes]:
    """One document of a case with its stored bytes (NotFound if it is not on that case)."""
    with db.read() as s:
        row = s.execute(
            select(CaseDocument, Document)
            .join(Document, Document.id == CaseDocument.document_id)
            .where(CaseDocument.id == link_id, CaseDocument.case_id == case_id)
        ).one_or_none()
        if row is None:
            raise NotFound(f"Document #{link_id} is not on case #{case_id}.")
        link, doc = row
        view = DocumentView(
            link.id,
            doc.id,
            link.file_name,
            link.kind,
            doc.media_type,
            doc.size_bytes,
            doc.sha256,
            link.added_by,
            link.added_at,
            link.hidden,
            link.hidden_by,
            link.hidden_at,
        )
        return view, bytes(doc.content)


# ---- writing -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attached:
    link_id: int
    case_version: int
    file_name: str
    media_type: str
    stored_new_bytes: bool  # False: the same content was already in the database (stored once)

    @property
    def message(self) -> str:
        """Says what was added without the (customer-supplied) file name, so it can go through Markdown."""
        label = TYPE_LABELS[self.media_type]
        return f"Added {'an' if label[0] in 'aeiou' else 'a'} {label} to the case."


def _documentation(s: Session, case: Case) -> list:
    """cases.documentation after a change: the names recorded without a file, then the visible files."""
    files = s.execute(
        select(CaseDocument.id, CaseDocument.kind, CaseDocument.file_name)
        .where(CaseDocument.case_id == case.id, CaseDocument.hidden.is_(False))
        .order_by(CaseDocument.id)
    ).all()
    on_file = {name for _id, _kind, name in files}
    kept = [
        i
        for i in (case.documentation or [])
        if not (isinstance(i, dict) and ("document_id" in i or i.get("name") in on_file))
    ]
    return kept + [{"kind": kind, "name": name, "document_id": link_id} for link_id, kind, name in files]


def attach(
    db: Database,
    actor_id: int,
    case_id: int,
    file_name: str,
    data: bytes,
    seen_version: int | None,
    *,
    limits: DocumentLimits | None = None,
    now: datetime | None = None,
    permission: str = "act_on_case",
) -> Attached:
    """Check a file and put it on a case. Everything is checked before the write; a refusal stores nothing."""
    actor = authorize(db, actor_id, permission, case_id=case_id)
    limits = limits or document_limits()
    media_type = check_file(data, limits)
    name = clean_name(file_name, media_type)
    digest = hashlib.sha256(data).hexdigest()
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        case = s.get(Case, case_id, with_for_update=True)
        if case is None:
            raise NotFound(f"Case #{case_id} does not exist.")
        if seen_version is not None and case.version != seen_version:
            raise stale_case(s, case_id, seen_version)
        doc = s.scalar(select(Document).where(Document.sha256 == digest))
        if doc is not None:
            link = s.scalar(
                select(CaseDocument).where(CaseDocument.case_id == case_id, CaseDocument.document_id == doc.id)
            )
            if link is not None:
                state = " (an admin removed it; it is kept for the audit)" if link.hidden else ""
                raise InvalidInput(f"This file (the same content) is already on the case{state}.", field="file")
        total = s.scalar(
            select(func.coalesce(func.sum(Document.size_bytes), 0))
            .join(CaseDocument, CaseDocument.document_id == Document.id)
            .where(CaseDocument.case_id == case_id, CaseDocument.hidden.is_(False))
        )
        total = total or 0
        if total + len(data) > limits.max_case_bytes:
            raise InvalidInput(
                f"The case already holds {mb(total)} of documents; with this file it would exceed the "
                f"{mb(limits.max_case_bytes)} limit per case.",
                field="file",
            )
        new_bytes = doc is None
        if doc is None:
            doc = Document(sha256=digest, media_type=media_type, size_bytes=len(data), content=data, created_at=at)
            s.add(doc)
            s.flush()
        link = CaseDocument(
            case_id=case_id,
            document_id=doc.id,
            file_name=name,
            kind=KINDS[media_type],
            added_by_id=actor.id,
            added_by=actor.email,
            added_at=at,
            hidden=False,
        )
        s.add(link)
        s.flush()
        version = bump(s, case_id, case.version, documentation=_documentation(s, case))
        audit.record(
            s,
            audit.DocumentAdded(
                document_id=link.id, file_name=name, media_type=media_type, size_bytes=len(data), sha256=digest
            ),
            actor=actor.email,
            actor_id=actor.id,
            case_id=case_id,
            at=at,
        )
        return Attached(link.id, version, name, media_type, new_bytes)


def remove(
    db: Database,
    actor_id: int,
    case_id: int,
    link_id: int,
    reason: str,
    seen_version: int | None = None,
    *,
    now: datetime | None = None,
) -> int:
    """Hide a document from the case (admins only); the file and its link stay for the audit. Returns the new
    case version."""
    actor = authorize(db, actor_id, "remove_document", case_id=case_id)
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput("Say why the document is removed (it goes into the audit trail).", field="reason")
    at = event_at(now) or audit.utcnow()
    with db.write.begin() as s:
        case = s.get(Case, case_id, with_for_update=True)
        link = s.get(CaseDocument, link_id)
        if case is None or link is None or link.case_id != case_id:
            raise NotFound(f"Document #{link_id} is not on case #{case_id}.")
        if seen_version is not None and case.version != seen_version:
            raise stale_case(s, case_id, seen_version)
        if link.hidden:
            raise InvalidInput("This document was already removed.", field="reason")
        link.hidden, link.hidden_by, link.hidden_at = True, actor.email, at
        s.flush()
        version = bump(s, case_id, case.version, documentation=_documentation(s, case))
        audit.record(
            s,
            audit.DocumentRemoved(document_id=link.id, file_name=link.file_name, reason=reason[:1000]),
            actor=actor.email,
            actor_id=actor.id,
            case_id=case_id,
            at=at,
        )
        return version


# ---- viewing -------------------------------------------------------------------------------------------------------


def display_image(data: bytes, max_side: int = PREVIEW_MAX_SIDE) -> bytes:
    """The image re-encoded as a fresh PNG: pixels only (no EXIF, no text chunks, nothing appended)."""
    from PIL import Image

    img = _open_image(data)
    img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
    img.thumbnail((max_side, max_side))
    clean = Image.new(img.mode, img.size)
    clean.paste(img)
    out = io.BytesIO()
    clean.save(out, format="PNG", compress_level=1)  # fast: this runs while the reviewer waits
    return out.getvalue()


def pdf_first_page(data: bytes, width: int = 900) -> bytes:
    """The first page of a PDF rendered to PNG (pypdfium2; nothing is fetched at run time)."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[0]
        scale = width / max(page.get_width(), 1)
        image = page.render(scale=min(scale, 4)).to_pil()
        out = io.BytesIO()
        image.convert("RGB").save(out, format="PNG")
        return out.getvalue()
    finally:
        pdf.close()


@dataclass(frozen=True)
class EmailView:
    headers: list[tuple[str, str]]
    text: str
    had_html_only: bool
    attachments: list[str]


def email_view(data: bytes) -> EmailView:
    """An email's headers and plain-text body; its HTML is never rendered (only noted)."""
    msg = _parse_email(data)
    headers = []
    for name in ("From", "To", "Cc", "Date", "Subject"):
        value = msg.get(name)
        if value is not None:
            headers.append((name, " ".join(str(value).split())))
    body = msg.get_body(preferencelist=("plain",))
    text = ""
    if body is not None:
        try:
            text = body.get_content()
        except (LookupError, ValueError):
            text = body.get_payload(decode=True).decode("utf-8", "replace")
    html_only = body is None and msg.get_body(preferencelist=("html",)) is not None
    attachments = [part.get_filename() or "(unnamed)" for part in msg.iter_attachments()]
    return EmailView(headers, text, html_only, attachments)


def text_view(data: bytes) -> str:
    return data.decode("utf-8")


def attach_demo_documents(db: Database, cases: int = 4) -> int:
    """Put the small generated demo files (data.demo_documents: Pillow and the standard library, never
    downloaded) on the first few open cases of a new demo desk, through the same checks and audit as an upload.
    Returns how many were attached."""
    from data.demo_documents import demo_set
    from data.models import User

    with db.read() as s:
        reviewer = s.scalar(
            select(User.id).where(User.role == "reviewer", User.active.is_(True)).order_by(User.id).limit(1)
        )
        targets = list(s.scalars(select(Case.id).where(Case.status == "open").order_by(Case.id).limit(cases)))
    if reviewer is None:
        return 0
    files = demo_set()
    for i, case_id in enumerate(targets):
        name, data = files[i % len(files)]
        attach(db, reviewer, case_id, name, data, None)
    return len(targets)


# ---- the importer's files: a column naming files in a folder -------------------------------------------------------


@dataclass(frozen=True)
class FolderReport:
    attached: list[tuple[str, str]]  # (case external id, file name)
    problems: list[tuple[str, str, str]]  # (case external id, file name, why)


def attach_from_folder(
    db: Database, actor_id: int, rows: list[tuple[str, str]], folder, *, limits: DocumentLimits | None = None
) -> FolderReport:
    """For imported cases: each (case external id, "a.png; b.eml") names files in ``folder``; every named file
    found there goes through the same checks as an upload and is attached (admins: the import permission).
    A file missing, refused or already on the case is reported, never fatal; names with folders are refused."""
    from pathlib import Path

    base = Path(folder)
    attached: list[tuple[str, str]] = []
    problems: list[tuple[str, str, str]] = []
    for external_id, cell in rows:
        with db.read() as s:
            case_id = s.scalar(select(Case.id).where(Case.external_id == external_id))
        for name in (n.strip() for n in (cell or "").split(";")):
            if not name:
                continue
            if case_id is None:
                problems.append((external_id, name, "no case with this external id"))
                continue
            if Path(name).name != name or name in (".", ".."):
                problems.append((external_id, name, "a file name, not a path, is expected"))
                continue
            path = base / name
            if not path.is_file():
                problems.append((external_id, name, "not in the folder (kept as a name only)"))
                continue
            try:
                attach(db, actor_id, case_id, name, path.read_bytes(), None, limits=limits, permission="import_data")
            except (InvalidInput, NotFound) as exc:
                problems.append((external_id, name, str(exc)))
            else:
                attached.append((external_id, name))
    return FolderReport(attached, problems)


def main(argv: list[str] | None = None) -> int:
    """``python -m desk.documents FILE --folder DIR --actor EMAIL``: after importing a cases file, attach the files
    its ``documentation`` column names from DIR."""
    import argparse
    import sys

    import pandas as pd

    from data.db import open_database
    from data.models import User

    ap = argparse.ArgumentParser(prog="python -m desk.documents", description=(main.__doc__ or "").split("\n")[0])
    ap.add_argument("file", help="the imported cases .csv (external_id and documentation columns)")
    ap.add_argument("--folder", required=True, help="the folder holding the named files")
    ap.add_argument("--actor", required=True, help="email of the admin attaching them (audit trail)")
    ap.add_argument("--db", help="database URL (default: as the app)")
    args = ap.parse_args(argv)
    db = open_database(args.db)
    try:
        with db.read() as s:
            actor_id = s.scalar(select(User.id).where(User.email == args.actor.strip().lower()))
        if actor_id is None:
            print(f"No user {args.actor!r}.", file=sys.stderr)
            return 2
        frame = pd.read_csv(args.file, dtype=str, keep_default_na=False)
        if not {"external_id", "documentation"} <= set(frame.columns):
            print("The file needs external_id and documentation columns.", file=sys.stderr)
            return 2
        report = attach_from_folder(
            db, actor_id, list(zip(frame["external_id"], frame["documentation"], strict=True)), args.folder
        )
    finally:
        db.dispose()
    print(f"Attached {len(report.attached)} file(s).")
    for external_id, name, why in report.problems:
        print(f"  {external_id} · {name}: {why}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
