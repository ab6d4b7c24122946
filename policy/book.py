"""Policy versions as dated data, and the book that picks the one in force on a service date.

Each version lives in ``policy/versions/<effective_from>.toml``::

    version = "2026-01-01"          # the version's name
    effective_from = 2026-01-01     # applies to services whose service date is on or after this day
    window_days = 7                 # the contact window of sections 1 and 4
    [clauses]                       # the policy text, section by section, verbatim
    "1" = "Service Refunds ..."
    [[quotes]]                      # what a reply quotes: a sentence of a clause, verbatim,
    clause = "1"                    # tagged with what it supports: "rule N" (a row of the rule
    text = "Refunds will not ..."   # table) or "exception" (section 5)
    supports = ["rule 6"]

The text must agree with the numbers: every count of days a clause states ("within 7 days", "a 7-day
window", "seven days", "a week") is the contact window, so it must equal ``window_days`` (a version whose
window is 14 days while section 1 still says "within 7 days" is refused, naming the clause). A version
needing another number of days in its text needs a parameter for it first.

Section 6: new terms apply to services provided after the update, so a request is judged by the version
whose ``effective_from`` is the latest on or before its service date. ``load_book`` is the only function
here that touches the file system.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import pairwise
from pathlib import Path
from typing import Any

from .errors import NoPolicyInForce, PolicyError
from .rules import CITATION_SETS, EXCEPTION_CLAUSE, REQUIRED_CLAUSES, CompiledVersion
from .verdict import Verdict

DEFAULT_POLICY_DIR = Path(__file__).resolve().parent / "versions"
_KEYS = ("version", "effective_from", "window_days", "clauses", "quotes")
_QUOTE_KEYS = ("clause", "text", "supports")
_MAX_WINDOW_DAYS = 3660

# --- the numbers the clause texts state ------------------------------------------------------------------

_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
}
# A count of days or weeks: "7 days", "7-day", "seven days", "a week", "14 calendar days", "5 business days".
_DAY_COUNT = re.compile(
    r"\b(?P<number>\d+|" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")"
    r"(?P<sep>\s+|-)(?P<kind>(?:calendar|business|working)(?:\s+|-))?(?P<unit>days?|weeks?)\b",
    re.IGNORECASE,
)


def day_counts(text: str) -> list[tuple[str, int, str | None]]:
    """Each count of days ``text`` states: (the words as written, the number of days, "business"/"working"
    or None). Weeks count as 7 days."""
    found = []
    for m in _DAY_COUNT.finditer(text):
        word = m["number"].lower()
        number = int(word) if word.isdigit() else _NUMBER_WORDS[word]
        if m["unit"].lower().startswith("week"):
            number *= 7
        kind = (m["kind"] or "").strip(" -").lower()
        found.append((m[0], number, kind if kind in ("business", "working") else None))
    return found


def _sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or line) of ``text`` that holds ``text[start:end]``."""
    left = max(text.rfind(". ", 0, start) + 2, text.rfind("\n", 0, start) + 1, 0)
    stops = [i for i in (text.find(". ", end), text.find("\n", end)) if i >= 0]
    right = min(stops) + 1 if stops else len(text)
    return text[left:right].strip()


def _window_problem(where: str, text: str, window_days: int) -> str | None:
    for m, (words, days, kind) in zip(_DAY_COUNT.finditer(text), day_counts(text), strict=True):
        sentence = _sentence_around(text, m.start(), m.end())
        if kind:
            return (
                f"{where}: says {words!r} ({sentence!r}), but the contact window (window_days) counts "
                f'calendar days; say "{window_days} days"'
            )
        if days != window_days:
            return (
                f"{where}: says {words!r} ({sentence!r}) but window_days is {window_days}; every count of "
                f"days a clause states is the contact window, so the text and window_days must agree"
            )
    return None


def restate_window(text: str, window_days: int) -> str:
    """``text`` saying ``window_days`` wherever it states a number of days (for a draft being typed)."""
    return _with_window(text, window_days)


def _with_window(text: str, window_days: int) -> str:
    """``text`` with every count of days it states replaced by ``window_days`` ("within 7 days" ->
    "within 14 days", "7-day" -> "14-day")."""

    def sub(m: re.Match) -> str:
        if m["sep"] == "-":
            return f"{window_days}-day"
        return f"{window_days} {'day' if window_days == 1 else 'days'}"

    return _DAY_COUNT.sub(sub, text)


@dataclass(frozen=True)
class Quote:
    """A sentence of a clause that a reply quotes, verbatim, and what it supports: ``"rule N"`` (the reply
    to a verdict of row N that cites this clause) or ``"exception"`` (a discretionary exception, section 5)."""

    clause: str
    text: str
    supports: tuple[str, ...]

    def applies(self, tags: frozenset[str]) -> bool:
        return not tags.isdisjoint(self.supports)


def _quote(i: int, raw: object) -> Quote:
    where = f"quotes[{i}]"
    if isinstance(raw, Quote):
        return raw
    if not isinstance(raw, dict):
        raise PolicyError(f"{where}: expected a table with {', '.join(_QUOTE_KEYS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(_QUOTE_KEYS))
    if unknown:
        raise PolicyError(f"{where}.{unknown[0]}: unknown key; a quote has {', '.join(_QUOTE_KEYS)}")
    missing = [k for k in _QUOTE_KEYS if k not in raw]
    if missing:
        raise PolicyError(f"{where}.{missing[0]}: missing")
    clause, text, supports = raw["clause"], raw["text"], raw["supports"]
    if type(clause) is not str:
        raise PolicyError(f'{where}.clause: expected a section number such as "1", got {clause!r}')
    if type(text) is not str or not text.strip():
        raise PolicyError(f"{where}.text: expected a sentence of section {clause}, got {text!r}")
    if not isinstance(supports, list | tuple) or not supports or not all(type(t) is str for t in supports):
        raise PolicyError(f'{where}.supports: expected a list such as ["rule 6"], got {supports!r}')
    return Quote(clause, text.strip(), tuple(supports))


def _quotes_problem(clauses: dict[str, str], quotes: tuple[Quote, ...]) -> str | None:  # noqa: C901 — a checklist of the quotes a version needs, one test per line
    """What is wrong with a version's quotes: each is a verbatim sentence of its clause, tagged only with
    rows that cite that clause; and every clause a row can cite has a sentence tagged for that row."""
    for i, q in enumerate(quotes):
        where = f"quotes[{i}]"
        if q.clause not in clauses:
            return f"{where}.clause: the version has no section {q.clause!r}"
        if q.text not in clauses[q.clause]:
            return f"{where}.text: not a verbatim sentence of section {q.clause}: {q.text[:60]!r}"
        for tag in q.supports:
            if tag == "exception":
                if q.clause != EXCEPTION_CLAUSE:
                    return f"{where}.supports: an exception is quoted from section {EXCEPTION_CLAUSE}, not {q.clause}"
                continue
            kind, _, number = tag.partition(" ")
            if kind != "rule" or not number.isdigit() or int(number) not in CITATION_SETS:
                known = ", ".join(f"rule {n}" for n in CITATION_SETS)
                return f"{where}.supports: unknown tag {tag!r}; expected one of {known}, exception"
            if not any(q.clause in cited for cited in CITATION_SETS[int(number)]):
                return f"{where}.supports: {tag} never cites section {q.clause}"
    for row, sets in CITATION_SETS.items():
        for clause in dict.fromkeys(c for cited in sets for c in cited):
            if not any(q.clause == clause and f"rule {row}" in q.supports for q in quotes):
                return (
                    f"quotes: no sentence of section {clause} supports rule {row}, whose replies cite it; "
                    f'add a quote with clause = "{clause}" and supports = ["rule {row}"]'
                )
    if not any(q.clause == EXCEPTION_CLAUSE and "exception" in q.supports for q in quotes):
        return f"quotes: no sentence of section {EXCEPTION_CLAUSE} supports an exception"
    return None


@dataclass(frozen=True)
class PolicyVersion:
    """One dated version of the policy. ``clauses`` maps section numbers ("1".."6", more allowed) to their
    text, in numeric order; treat it as read-only. ``quotes`` are the sentences a reply quotes (``Quote``
    values or TOML-like tables). The constructor validates everything, the text against the numbers too."""

    version: str
    effective_from: date
    window_days: int
    clauses: dict[str, str] = field(hash=False)
    quotes: tuple[Quote, ...] = field(hash=False)

    def __post_init__(self) -> None:  # noqa: C901 — a checklist of a version's fields, one test each
        if type(self.version) is not str or not self.version.strip():
            raise PolicyError(f"version: expected a non-empty name, got {self.version!r}")
        if type(self.effective_from) is not date:
            raise PolicyError(
                f"effective_from: expected a TOML date such as 2027-01-01 (no quotes), got {self.effective_from!r}"
            )
        if type(self.window_days) is not int or not 0 <= self.window_days <= _MAX_WINDOW_DAYS:
            raise PolicyError(
                f"window_days: expected a whole number of days from 0 to {_MAX_WINDOW_DAYS}, got {self.window_days!r}"
            )
        if not isinstance(self.clauses, dict):
            raise PolicyError(f"clauses: expected a table of section number = text, got {self.clauses!r}")
        for number, text in self.clauses.items():
            if type(number) is not str or not number.isdigit() or not number.isascii():
                raise PolicyError(f'clauses: section numbers are digits such as "1", got {number!r}')
            if type(text) is not str or not text.strip():
                raise PolicyError(f"clauses.{number}: expected the section's text, got {text!r}")
        missing = [n for n in REQUIRED_CLAUSES if n not in self.clauses]
        if missing:
            raise PolicyError(f"clauses: missing section {', '.join(missing)} (needed: 1 to 6)")
        ordered = dict(sorted(self.clauses.items(), key=lambda item: int(item[0])))
        object.__setattr__(self, "clauses", ordered)
        for number, text in ordered.items():
            problem = _window_problem(f"clauses.{number}", text, self.window_days)
            if problem:
                raise PolicyError(problem)
        if not isinstance(self.quotes, list | tuple):
            raise PolicyError(f"quotes: expected a list of [[quotes]] tables, got {self.quotes!r}")
        quotes = tuple(_quote(i, q) for i, q in enumerate(self.quotes))
        problem = _quotes_problem(ordered, quotes)
        if problem:
            raise PolicyError(problem)
        object.__setattr__(self, "quotes", quotes)

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
        if missing == ["quotes"]:
            raise PolicyError(
                "quotes: missing; a version lists, as [[quotes]] tables, the sentences of its clauses a reply "
                "quotes and the rules they support (see policy/README.md)"
            )
        if missing:
            raise PolicyError(f"{missing[0]}: missing")
        return cls(data["version"], data["effective_from"], data["window_days"], data["clauses"], data["quotes"])

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
        for q in self.quotes:
            supports = ", ".join(_toml_str(t) for t in q.supports)
            lines += [
                "",
                "[[quotes]]",
                f"clause = {_toml_str(q.clause)}",
                f"text = {_toml_str(q.text)}",
                f"supports = [{supports}]",
            ]
        return "\n".join(lines) + "\n"

    def with_window_days(self, window_days: int, **changes: Any) -> PolicyVersion:
        """This version with another contact window, its clauses and quotes saying the new number of days
        wherever they state one (a draft for a what-if replay); ``changes`` replace other fields."""
        if type(window_days) is not int:
            raise PolicyError(f"window_days: expected a whole number of days, got {window_days!r}")
        clauses = {n: _with_window(t, window_days) for n, t in self.clauses.items()}
        quotes = tuple(replace(q, text=_with_window(q.text, window_days)) for q in self.quotes)
        return replace(self, window_days=window_days, clauses=clauses, quotes=quotes, **changes)

    def cited_texts(self, clauses: Iterable[str]) -> list[tuple[str, str]]:
        """(section number, text) for each cited section that this version has."""
        return [(n, self.clauses[n]) for n in clauses if n in self.clauses]

    def quoted_sentences(self, rule: int, clauses: Iterable[str], exception: bool) -> list[tuple[str, list[str]]]:
        """(section number, sentences) that a reply to a verdict of row ``rule`` citing ``clauses`` quotes:
        the quotes of each cited section tagged "rule <rule>", and for an exception section 5's quotes tagged
        "exception", in the order the sections are cited and the quotes are listed."""
        cited = list(dict.fromkeys(clauses))
        tags = {f"rule {rule}"}
        if exception:
            tags.add("exception")
            if EXCEPTION_CLAUSE not in cited:
                cited.append(EXCEPTION_CLAUSE)
        wanted = frozenset(tags)
        out = []
        for number in cited:
            sentences = [q.text for q in self.quotes if q.clause == number and q.applies(wanted)]
            if sentences:
                out.append((number, sentences))
        return out

    def heading(self, number: str) -> str:
        """A section's heading: the first line of its text."""
        return self.clauses[number].strip().splitlines()[0].strip()

    def describe_lines(self) -> list[str]:
        """The version as lines of plain text: parameters first, then each section (what diffs compare)."""
        lines = [
            f"version: {self.version}",
            f"effective_from: {self.effective_from.isoformat()}",
            f"window_days: {self.window_days}",
        ]
        for number, text in self.clauses.items():
            lines += ["", f"Section {number}:", *text.splitlines()]
        if self.quotes:
            lines += ["", "Quoted in replies:"]
            lines += [f"section {q.clause} ({', '.join(q.supports)}): {q.text}" for q in self.quotes]
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
                    f"versions {earlier.version!r} and {later.version!r} both take effect on {later.effective_from}"
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

    def compiled_for(self, service_date: date) -> CompiledVersion:
        """What ``evaluate`` needs from the version in force on ``service_date`` (NoPolicyInForce if none)."""
        i = bisect_right(self._starts, service_date) - 1
        if i < 0:
            raise self._no_policy_in_force(service_date)
        return self._compiled[i]

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
        kept = [v for v in self.versions if v.version != version.version and v.effective_from != version.effective_from]
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
