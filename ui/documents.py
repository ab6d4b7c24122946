"""The case page's documents section: the files on the case (viewed without leaving the page), an upload form
for reviewers and managers, and removal for admins. Everything customer-supplied (file names, text, email
headers and bodies) goes through st.text / st.dataframe, never Markdown or HTML; images are shown only as
re-encoded by desk.documents.display_image."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from data.db import Database
from desk import documents as docs
from desk.auth import Actor
from desk.config import document_limits
from desk.errors import DeskError, StaleCase
from ui.casework import clear_queue_caches, flash
from ui.export import download_file

UPLOAD_ERROR = "documents_upload_error"  # (case id, message)


@st.cache_data(show_spinner=False, max_entries=200)
def _preview(_db: Database, url: str, case_id: int, link_id: int, sha256: str, media_type: str):
    """What the page shows of one document, cached by its content hash (re-encoding is not free)."""
    _view, data = docs.document_bytes(_db, case_id, link_id)
    if media_type.startswith("image/"):
        return docs.display_image(data)
    if media_type == "application/pdf":
        return docs.pdf_first_page(data)
    if media_type == "message/rfc822":
        return docs.email_view(data)
    return docs.text_view(data)


@st.cache_data(show_spinner=False, max_entries=50)
def _original(_db: Database, url: str, case_id: int, link_id: int, sha256: str) -> bytes:
    return docs.document_bytes(_db, case_id, link_id)[1]


def _upload(db: Database, actor_id: int, case_id: int, version: int, key: str) -> None:
    uploaded = st.session_state.get(key)
    if uploaded is None:
        st.session_state[UPLOAD_ERROR] = (case_id, "Choose a file first.")
        return
    try:
        result = docs.attach(db, actor_id, case_id, uploaded.name, uploaded.getvalue(), version)
    except StaleCase as exc:
        flash("warning", str(exc), exc.changes)
        return
    except DeskError as exc:
        st.session_state[UPLOAD_ERROR] = (case_id, str(exc))
        return
    st.session_state.pop(UPLOAD_ERROR, None)
    st.session_state[f"doc_upload_n_{case_id}"] = st.session_state.get(f"doc_upload_n_{case_id}", 0) + 1
    clear_queue_caches()
    flash("success", result.message)


def _remove(db: Database, actor_id: int, case_id: int, version: int) -> None:
    link_id = st.session_state.get(f"doc_remove_{case_id}")
    reason = st.session_state.get(f"doc_remove_reason_{case_id}", "")
    try:
        docs.remove(db, actor_id, case_id, link_id, reason, version)
    except DeskError as exc:
        flash("warning" if isinstance(exc, StaleCase) else "error", str(exc))
        return
    clear_queue_caches()
    flash("success", "Document removed from the case. It is kept in the database for the audit trail.")


def _show(db: Database, case_id: int, doc: docs.DocumentView) -> None:
    with st.container(border=True):
        st.text(doc.file_name)
        st.caption(f"{doc.type_label} · {docs.mb(doc.size_bytes)} · added {doc.added_at:%d %b %Y %H:%M} UTC")
        try:
            shown = _preview(db, db.url, case_id, doc.link_id, doc.sha256, doc.media_type)
        except (DeskError, Exception):  # noqa: BLE001 — a file that cannot be shown is said so, never a crash
            st.warning("This document cannot be shown; download it to look at it.")
            shown = None
        if isinstance(shown, bytes):
            st.image(shown, caption="First page" if doc.media_type == "application/pdf" else None)
        elif isinstance(shown, docs.EmailView):
            st.dataframe(pd.DataFrame(shown.headers, columns=["Header", "Value"]), hide_index=True, width="stretch")
            st.text(shown.text or "(this email has no plain-text part)")
            if shown.had_html_only:
                st.caption("The email has only an HTML part, which is not shown.")
            if shown.attachments:
                st.caption("Attached to the email (not opened)")
                st.text("\n".join(shown.attachments))
        elif isinstance(shown, str):
            st.text(shown)
        download_file(  # the customer's file as they sent it (not a table of desk data)
            "Download",
            lambda: _original(db, db.url, case_id, doc.link_id, doc.sha256),
            file_name=doc.file_name,
            mime="application/octet-stream",
            key=f"doc_dl_{doc.link_id}",
            icon=":material/download:",
        )


def documents_section(db: Database, actor: Actor, case_id: int, version: int) -> None:
    """The files on the case, the upload form (reviewers, managers) and removal (admins)."""
    files = docs.case_documents(db, case_id)
    st.markdown("**Files on the case**")
    if not files:
        st.caption("No files on the case yet.")
    for doc in files:
        _show(db, case_id, doc)
    if actor.may("act_on_case"):
        n = st.session_state.get(f"doc_upload_n_{case_id}", 0)
        key = f"doc_upload_{case_id}_{n}"
        with st.form(f"doc_form_{case_id}"):
            limit = docs.mb(document_limits().max_file_bytes)
            st.file_uploader(
                f"Add a document ({docs.ACCEPTED}; the type is read from the content; at most {limit} per file)",
                key=key,
            )
            err = st.session_state.get(UPLOAD_ERROR)
            if err and err[0] == case_id:
                st.error(err[1], icon=":material/error:")
            st.form_submit_button(
                "Add to the case",
                icon=":material/attach_file:",
                on_click=_upload,
                args=(db, actor.id, case_id, version, key),
            )
    if actor.may("remove_document") and files:
        with st.form(f"doc_remove_form_{case_id}"):
            names = {f.link_id: f.file_name for f in files}
            st.selectbox(
                "Remove a document (admins; it is hidden, not deleted)",
                list(names),
                format_func=names.get,
                key=f"doc_remove_{case_id}",
            )
            st.text_input("Why (for the audit trail)", key=f"doc_remove_reason_{case_id}", max_chars=1000)
            st.form_submit_button("Remove document", on_click=_remove, args=(db, actor.id, case_id, version))
