"""Policy versions as dated data, and the book that picks the one in force on a service date.

Each version lives in ``policy/versions/<effective_from>.toml``::

    version = "2026-01-01"          # the version's name
    effective_from = 2026-01-01     # applies to services whose service date is on or after this day
    window_days = 7                 # the contact window of sections 1 and 4
    [clauses]                       # the policy text, section by section, verbatim
    "1" = "Service Refunds ..."

Section 6: new terms apply to services provided after the update, so a request is judged by the version
whose ``effective_from`` is the latest on or before its service date. ``load_book`` is the only function
here that touches the file system.
"""

from __future__ import annotations

import difflib
import tomllib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from itertools import pairwise
from pathlib import Path

from .errors import NoPolicyInForce, PolicyError
from .rules import REQUIRED_CLAUSES, CompiledVersion
from .verdict import Verdict

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent / "versions"
_KEYS = ("version", "effective_from", "window_days", "clauses")
_MAX_WINDOW_DAYS = 3660


@dataclass(frozen=True)
class PolicyVersion:
    """One dated version of the policy. ``clauses`` maps section numbers ("1".."6", more allowed) to their
    text, in numeric order; treat it as read-only. The constructor validates everything."""

    version: str
    effective_from: date
    window_days: int
    clauses: dict[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        if type(self.version) is not str or not self.version.strip():
            raise PolicyError(f"version: expected a non-empty name, got {self.version!r}")
        if type(self.effective_from) is not date:
            raise PolicyError(
                f"effective_from: expected a TOML date such as 2027-01-01 (no quotes), "
                f"got {self.effective_from!r}"
            )
        if type(self.window_days) is not int or not 0 <= self.window_days <= _MAX_WINDOW_DAYS:
            raise PolicyError(
                f"window_days: expected a whole number of days from 0 to {_MAX_WINDOW_DAYS}, "
                f"got {self.window_days!r}"
            )
        if not isinstance(self.clauses, dict):
            raise PolicyError(f"clauses: expected a table of section number = text, got {self.clauses!r}")
        for number, text in self.clauses.items():
            if type(number) is not str or not number.isdigit() or not number.isascii():
                raise PolicyError(f"clauses: section numbers are digits such as \"1\", got {number!r}")
            if type(text) is not str or not text.strip():
                raise PolicyError(f"clauses.{number}: expected the section's text, got {text!r}")
        missing = [n for n in REQUIRED_CLAUSES if n not in self.clauses]
        if missing:
            raise PolicyError(f"clauses: missing section {', '.join(missing)} (needed: 1 to 6)")
        ordered = dict(sorted(self.clauses.items(), key=lambda item: int(item[0])))
        object.__setattr__(self, "clauses", ordered)

    @classmethod
    def from_toml_text(cls, text: str | bytes) -> PolicyVersion:
        """A version from the text of a TOML file (an uploaded draft, say); PolicyError says what is wrong."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise PolicyError(f"not UTF-8 text: {exc}") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"not valid TOML: {exc}") from None
        unknown = sorted(set(data) - set(_KEYS))
        if unknown:
            raise PolicyError(f"{unknown[0]}: unknown key; a version has {', '.join(_KEYS)}")
        missing = [k for k in _KEYS if k not in data]
        if missing:
            raise PolicyError(f"{missing[0]}: missing")
        return cls(data["version"], data["effective_from"], data["window_days"], data["clauses"])

    def to_toml_text(self) -> str:
        """TOML that ``from_toml_text`` reads back as this version (a template for a draft)."""
        lines = [
            f"version = {_toml_str(self.version)}",
            f"effective_from = {self.effective_from.isoformat()}",
            f"window_days = {self.window_days}",
            "",
            "[clauses]",
        ]
        lines += [f"{_toml_str(n)} = {_toml_str(t)}" for n, t in self.clauses.items()]
        return "\n".join(lines) + "\n"

    def cited_texts(self, clauses: Iterable[str]) -> list[tuple[str, str]]:
        """(section number, text) for each cited section that this version has."""
        return [(n, self.clauses[n]) for n in clauses if n in self.clauses]

    def describe_lines(self) -> list[str]:
        """The version as lines of plain text: parameters first, then each section (what diffs compare)."""
        lines = [
            f"version: {self.version}",
            f"effective_from: {self.effective_from.isoformat()}",
            f"window_days: {self.window_days}",
        ]
        for number, text in self.clauses.items():
            lines += ["", f"Section {number}:", *text.splitlines()]
        return lines


def _toml_str(s: str) -> str:
    """A TOML basic string (JSON escaping is valid TOML for everything but a few control characters)."""
    out = []
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def diff_versions(a: PolicyVersion, b: PolicyVersion) -> str:
    """A unified diff from ``a`` to ``b`` of the parameters and the clause texts; "" when they are the same."""
    return "\n".join(
        difflib.unified_diff(
            a.describe_lines(),
            b.describe_lines(),
            fromfile=f"{a.version} (effective {a.effective_from})",
            tofile=f"{b.version} (effective {b.effective_from})",
            lineterm="",
        )
    )


_MISSING = object()


class PolicyBook:
    """All versions of the policy, sorted by ``effective_from``; immutable (``with_version`` makes a new one)."""

    __slots__ = ("_by_name", "_compiled", "_starts", "versions")

    def __init__(self, versions: Iterable[PolicyVersion]) -> None:
        ordered = tuple(sorted(versions, key=lambda v: v.effective_from))
        if not ordered:
            raise PolicyError("a policy book needs at least one version")
        for v in ordered:
            if not isinstance(v, PolicyVersion):
                raise PolicyError(f"expected PolicyVersion values, got {v!r}")
        for earlier, later in pairwise(ordered):
            if earlier.effective_from == later.effective_from:
                raise PolicyError(
                    f"versions {earlier.version!r} and {later.version!r} both take effect on "
                    f"{later.effective_from}"
                )
        by_name: dict[str, PolicyVersion] = {}
        for v in ordered:
            if v.version in by_name:
                raise PolicyError(f"two versions are named {v.version!r}")
            by_name[v.version] = v
        self.versions: tuple[PolicyVersion, ...] = ordered
        self._by_name = by_name
        self._starts = [v.effective_from for v in ordered]
        self._compiled = [CompiledVersion(v) for v in ordered]

    def __repr__(self) -> str:
        return f"PolicyBook({', '.join(v.version for v in self.versions)})"

    def _no_policy_in_force(self, service_date: date) -> NoPolicyInForce:
        first = self.versions[0]
        return NoPolicyInForce(
            f"service_date: no policy version is in force on {service_date}; the earliest, "
            f"{first.version!r}, takes effect on {first.effective_from}"
        )

    def version_for(self, service_date: date) -> PolicyVersion:
        """The version in force on ``service_date`` (the latest taking effect on or before it)."""
        i = bisect_right(self._starts, service_date) - 1
        if i < 0:
            raise self._no_policy_in_force(service_date)
        return self.versions[i]

    def get(self, name: str, default: object = _MISSING) -> PolicyVersion:
        """The version named ``name``; PolicyError if there is none, unless a ``default`` is given."""
        v = self._by_name.get(name)
        if v is not None:
            return v
        if default is not _MISSING:
            return default  # type: ignore[return-value]
        known = ", ".join(self._by_name)
        raise PolicyError(f"policy_version: no version named {name!r}; the book has {known}")

    def with_version(self, version: PolicyVersion) -> PolicyBook:
        """A new book with ``version`` added (a draft for a what-if replay). It replaces any version with the
        same name or the same ``effective_from``."""
        kept = [
            v for v in self.versions
            if v.version != version.version and v.effective_from != version.effective_from
        ]
        return PolicyBook([*kept, version])

    def cited_texts(self, verdict: Verdict) -> list[tuple[str, str]]:
        """(section number, text) of each clause the verdict cites, from the version that judged it."""
        return self.get(verdict.policy_version).cited_texts(verdict.clauses)


def cited_texts(verdict: Verdict, book: PolicyBook) -> list[tuple[str, str]]:
    """(section number, text) of each clause the verdict cites, from the version that judged it."""
    return book.cited_texts(verdict)


def load_book(policy_dir: str | Path | None = None) -> PolicyBook:
    """Read every ``*.toml`` in ``policy_dir`` (default: the package's own ``versions``), validate each and
    make the book. A file must be named after its ``effective_from`` (``2026-01-01.toml``)."""
    directory = DEFAULT_POLICY_DIR if policy_dir is None else Path(policy_dir)
    if not directory.is_dir():
        raise PolicyError(f"policy directory {directory} does not exist")
    files = sorted(directory.glob("*.toml"))
    if not files:
        raise PolicyError(f"no policy versions (*.toml files) in {directory}")
    versions = []
    for path in files:
        try:
            version = PolicyVersion.from_toml_text(path.read_bytes())
        except PolicyError as exc:
            raise PolicyError(f"{path}: {exc}") from None
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read: {exc}") from None
        if path.stem != version.effective_from.isoformat():
            raise PolicyError(
                f"{path}: a version file is named after its effective_from; expected "
                f"{version.effective_from.isoformat()}.toml"
            )
        versions.append(version)
    try:
        return PolicyBook(versions)
    except PolicyError as exc:
        raise PolicyError(f"{directory}: {exc}") from None
