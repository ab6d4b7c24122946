"""The public text of the policy as of a date, with the history of changes (section 6: "Any changes will be
reflected on this page"). Pure: a book and a date in, Markdown or HTML text out; the caller reads the
versions (``python -m policy export`` from TOML files, ``desk.policy_changes.public_text`` from the database).

The text is the version in force on ``as_of``. The history lists every version that took effect on or before
that day, newest first, with what changed from the one before it (the contact window, which sections); a
version taking effect later is announced ("takes effect on ...") so customers learn of it before it applies.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date

from .book import PolicyBook, PolicyVersion
from .errors import NoPolicyInForce

FORMATS = ("markdown", "html")


@dataclass(frozen=True)
class Change:
    """One entry of the history: a version and what it changed."""

    version: PolicyVersion
    summary: str
    upcoming: bool


def changes(book: PolicyBook, as_of: date) -> list[Change]:
    """The history of changes known on ``as_of``, newest first."""
    out = []
    previous: PolicyVersion | None = None
    for v in book.versions:
        if previous is None:
            summary = "First version of this policy."
        else:
            parts = []
            if v.window_days != previous.window_days:
                parts.append(f"contact window {previous.window_days} → {v.window_days} days")
            sections = [
                n for n in dict.fromkeys([*previous.clauses, *v.clauses]) if previous.clauses.get(n) != v.clauses.get(n)
            ]
            if sections:
                parts.append(("section " if len(sections) == 1 else "sections ") + ", ".join(sections) + " changed")
            summary = ("; ".join(parts) or "no change to the text").capitalize() + "."
        out.append(Change(v, summary, v.effective_from > as_of))
        previous = v
    return list(reversed(out))


def render(book: PolicyBook, as_of: date, fmt: str = "markdown", *, title: str = "Refund and Returns Policy") -> str:
    """The policy in force on ``as_of`` and its history, as Markdown or HTML (NoPolicyInForce before the first
    version; ValueError for an unknown format)."""
    if fmt not in FORMATS:
        raise ValueError(f"format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    try:
        version = book.version_for(as_of)
    except NoPolicyInForce as exc:
        raise NoPolicyInForce(
            str(exc).removeprefix("service_date: ").replace("in force on", "in force as of")
        ) from None
    history = changes(book, as_of)
    return _markdown(title, version, as_of, history) if fmt == "markdown" else _html(title, version, as_of, history)


def _sections(version: PolicyVersion) -> list[tuple[str, str, list[str]]]:
    """(number, heading, body lines) of each section."""
    out = []
    for n, text in version.clauses.items():
        lines = text.strip().splitlines()
        out.append((n, lines[0].strip(), [ln.rstrip() for ln in lines[1:]]))
    return out


def _md_escape(s: str) -> str:
    for ch in "\\`*_[]<>#":
        s = s.replace(ch, "\\" + ch)
    return s


def _markdown(title: str, v: PolicyVersion, as_of: date, history: list[Change]) -> str:
    lines = [
        f"# {_md_escape(title)}",
        "",
        f"As of {as_of} · version {_md_escape(v.version)}, in force since {v.effective_from}.",
        "",
    ]
    for n, heading, body in _sections(v):
        lines += [f"## {n}. {_md_escape(heading)}", ""]
        for b in body:  # a list item per "- " line, a paragraph per other line
            if b.startswith("- "):
                lines.append("- " + _md_escape(b[2:]))
            elif b.strip():
                if lines[-1]:
                    lines.append("")
                lines += [_md_escape(b), ""]
        if lines[-1]:
            lines.append("")
    lines += ["## History of changes", ""]
    for c in history:
        when = (
            f"takes effect on {c.version.effective_from}" if c.upcoming else f"in force from {c.version.effective_from}"
        )
        lines.append(f"- **{_md_escape(c.version.version)}** ({when}): {_md_escape(c.summary)}")
    return "\n".join(lines).rstrip() + "\n"


def _html(title: str, v: PolicyVersion, as_of: date, history: list[Change]) -> str:
    e = html.escape
    out = [
        "<!doctype html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        "</head>",
        "<body>",
        f"<h1>{e(title)}</h1>",
        f"<p>As of {as_of} · version {e(v.version)}, in force since {v.effective_from}.</p>",
    ]
    for n, heading, body in _sections(v):
        out.append(f"<h2>{e(n)}. {e(heading)}</h2>")
        items: list[str] = []
        for b in body:
            if b.startswith("- "):
                items.append(f"<li>{e(b[2:])}</li>")
                continue
            if items:
                out += ["<ul>", *items, "</ul>"]
                items = []
            if b.strip():
                out.append(f"<p>{e(b)}</p>")
        if items:
            out += ["<ul>", *items, "</ul>"]
    out += ["<h2>History of changes</h2>", "<ul>"]
    for c in history:
        when = (
            f"takes effect on {c.version.effective_from}" if c.upcoming else f"in force from {c.version.effective_from}"
        )
        out.append(f"<li><strong>{e(c.version.version)}</strong> ({when}): {e(c.summary)}</li>")
    out += ["</ul>", "</body>", "</html>"]
    return "\n".join(out) + "\n"
