"""What if the policy changed? Re-judge past decisions under a draft version, read-only.

``replay(db, actor_id, draft, start, end)`` reads every decided case whose decision falls in the date range
(the current decision of each case that counts: not superseded, not an exception still waiting for or
refused approval) in chunks of ``CHUNK`` rows, keyset-paged on the decision id with SQLAlchemy Core; builds
each case's facts with ``desk.facts.facts_from_row`` -- the mapping the deciding code uses -- and judges them
twice: under the desk's current policy book and under that book with the draft added
(``PolicyBook.with_version``). Memory stays flat: only running tallies and the cases whose verdict changes are kept.

What "would have been" means, per case:

- A verdict changes when the recommended outcome or the set of allowed outcomes changes. It is *more
  generous* when the draft's recommendation gives more (deny < fix < credit < partial refund < full refund),
  or the same recommendation with more generous allowed outcomes; *less generous* the other way round.
- The decision that would have been made: an exception that was granted stands (discretion is the
  reviewer's); a decision within the rules stands if the draft still allows it, otherwise the reviewer
  follows the draft's recommendation.
- Refund rate: decisions with money back (full or partial refund, credit) over decided cases. Exception rate:
  decisions outside the allowed outcomes (section 5) over decided cases.

It never writes: the whole replay is one read-only transaction (PostgreSQL ``READ ONLY``, SQLite
``PRAGMA query_only``), which also gives every chunk the same snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Connection, and_, func, select, text

from data.db import Database
from data.models import Case, Decision, Service
from desk.auth import authorize
from desk.errors import InvalidInput
from desk.export import csv_rows_bytes
from desk.facts import facts_from_row, service_fact_columns
from policy import (
    MONEY_OUTCOMES,
    REASON_LABELS,
    SERVICE_TYPE_LABELS,
    PolicyBook,
    PolicyError,
    PolicyVersion,
    evaluate,
)

CHUNK = 50_000
GENEROSITY = {"deny": 0, "fix": 1, "credit": 2, "partial_refund": 3, "full_refund": 4}
Progress = Callable[[int, int], None]  # (cases done, cases in all)

# Tally slots, per reason / per service type / overall.
CASES, CHANGED, MORE, LESS, REFUND_WAS, REFUND_WOULD, EXC_WAS, EXC_WOULD, NOT_JUDGED = range(9)
_SLOTS = 9


# --- drafts ----------------------------------------------------------------------------------------------


def draft_from_version(
    book: PolicyBook,
    base: str,
    *,
    window_days: int | None = None,
    effective_from: date | None = None,
    name: str | None = None,
) -> PolicyVersion:
    """A draft: version ``base`` with parameters changed. InvalidInput names the parameter that is wrong."""
    try:
        version = book.get(base)
    except PolicyError as exc:
        raise InvalidInput(str(exc), field="base") from None
    try:
        # The draft's clauses and quotes say its window wherever they state a number of days (the loader
        # refuses a version whose text and window_days disagree).
        return version.with_window_days(
            version.window_days if window_days is None else window_days,
            version=name or f"{version.version} draft",
            effective_from=effective_from or version.effective_from,
        )
    except PolicyError as exc:
        field_name = str(exc).partition(":")[0]
        known = field_name in ("window_days", "effective_from")
        raise InvalidInput(str(exc), field=field_name if known else None) from None


def draft_from_toml(data: bytes | str) -> PolicyVersion:
    """A draft from an uploaded TOML file in the layout of policy/versions/*.toml."""
    try:
        return PolicyVersion.from_toml_text(data)
    except PolicyError as exc:
        raise InvalidInput(f"The draft is not a valid policy version: {exc}", field="draft") from None


def draft_book(book: PolicyBook, draft: PolicyVersion) -> PolicyBook:
    """The book a replay judges by: the current one with the draft added (replacing a version with its name
    or effective date)."""
    try:
        return book.with_version(draft)
    except PolicyError as exc:
        raise InvalidInput(f"The draft does not fit the policy book: {exc}", field="draft") from None


def replaced_version(book: PolicyBook, draft: PolicyVersion) -> PolicyVersion | None:
    """The current version the draft takes the place of, if any (for showing the difference)."""
    for v in book.versions:
        if v.version == draft.version or v.effective_from == draft.effective_from:
            return v
    try:
        return book.version_for(draft.effective_from)
    except PolicyError:
        return None


# --- reading ---------------------------------------------------------------------------------------------

_COLUMNS = (
    Decision.id.label("decision_id"),
    Decision.decided_on,
    Decision.outcome,
    Decision.is_exception,
    Case.id.label("case_id"),
    Case.external_id,
    Case.opened_on,
    Case.reason,
    Case.fix_attempted,
    Case.fix_succeeded,
    (func.json_array_length(Case.documentation) > 0).label("documentation_provided"),
    *service_fact_columns(),
)


def _decided_in(start: date, end: date):
    return and_(
        Decision.decided_on >= start,
        Decision.decided_on <= end,
        Decision.counts,
    )


def _chunks(conn: Connection, start: date, end: date, size: int):
    """Decided cases with their services, ``size`` rows at a time, keyset-paged on the decision id.

    Paging on the id walks the decisions in storage order (on SQLite the rowid: a sequential read; paging on
    (decided_on, id) through the date index read the same rows in random order, about three times slower at
    a million). The ids of the range, from the date index, bound the walk, so a short range reads little."""
    low, high = conn.execute(select(func.min(Decision.id), func.max(Decision.id)).where(_decided_in(start, end))).one()
    if low is None:
        return
    base = (
        select(*_COLUMNS)
        .join(Case, Case.id == Decision.case_id)
        .join(Service, Service.id == Case.service_id)
        .where(_decided_in(start, end), Decision.id <= high)
        .order_by(Decision.id)
        .limit(size)
    )
    after = low - 1
    while True:
        rows = conn.execute(base.where(Decision.id > after)).all()
        if not rows:
            return
        yield rows
        after = rows[-1].decision_id
        if len(rows) < size:
            return


def _read_only(conn: Connection) -> None:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = ON")


def _read_write_again(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA query_only = OFF")


# --- the result ------------------------------------------------------------------------------------------


CHANGED_COLUMNS = [
    "case_id",
    "external_id",
    "decided_on",
    "service_type",
    "reason",
    "days_to_request",
    "decided",
    "was_exception",
    "recommended_was",
    "recommended_draft",
    "allowed_draft",
    "would_decide",
    "exception_under_draft",
    "direction",
    "version_was",
    "version_draft",
]


@dataclass
class ReplayResult:
    draft: PolicyVersion
    start: date
    end: date
    totals: list[int]
    by_reason: dict[str, list[int]]
    by_service_type: dict[str, list[int]]
    changed: list[tuple]
    not_judged: list[tuple[int, str]] = field(default_factory=list)
    read_seconds: float = 0.0
    judge_seconds: float = 0.0
    seconds: float = 0.0

    @property
    def cases(self) -> int:
        return self.totals[CASES]

    @property
    def judged(self) -> int:
        return self.totals[CASES] - self.totals[NOT_JUDGED]

    @property
    def verdicts_changed(self) -> int:
        return self.totals[CHANGED]

    @property
    def more_generous(self) -> int:
        return self.totals[MORE]

    @property
    def less_generous(self) -> int:
        return self.totals[LESS]

    @property
    def cases_per_judging_second(self) -> float:
        return self.judged / self.judge_seconds if self.judge_seconds else 0.0

    def rates(self) -> pd.DataFrame:
        """Refund and exception rate as decided and as they would have been under the draft."""
        t, n = self.totals, self.judged or 1
        return pd.DataFrame(
            {
                "measure": ["Refund rate", "Exception rate"],
                "as decided": [t[REFUND_WAS] / n, t[EXC_WAS] / n],
                "under the draft": [t[REFUND_WOULD] / n, t[EXC_WOULD] / n],
                "change (points)": [(t[REFUND_WOULD] - t[REFUND_WAS]) / n * 100, (t[EXC_WOULD] - t[EXC_WAS]) / n * 100],
            }
        )

    def _breakdown(self, tallies: dict[str, list[int]], labels: dict[str, str], name: str) -> pd.DataFrame:
        rows = []
        for key in sorted(tallies, key=lambda k: -tallies[k][CASES]):
            t = tallies[key]
            n = (t[CASES] - t[NOT_JUDGED]) or 1
            rows.append(
                {
                    name: labels.get(key, key),
                    "cases": t[CASES],
                    "changed": t[CHANGED],
                    "more generous": t[MORE],
                    "less generous": t[LESS],
                    "refund rate": t[REFUND_WAS] / n,
                    "refund rate (draft)": t[REFUND_WOULD] / n,
                    "exception rate": t[EXC_WAS] / n,
                    "exception rate (draft)": t[EXC_WOULD] / n,
                }
            )
        return pd.DataFrame(rows)

    def by_reason_frame(self) -> pd.DataFrame:
        return self._breakdown(self.by_reason, REASON_LABELS, "reason")

    def by_service_type_frame(self) -> pd.DataFrame:
        return self._breakdown(self.by_service_type, SERVICE_TYPE_LABELS, "service type")

    def changed_frame(self, limit: int | None = None) -> pd.DataFrame:
        rows = self.changed if limit is None else self.changed[:limit]
        return pd.DataFrame(rows, columns=CHANGED_COLUMNS)

    def changed_csv(self) -> bytes:
        return csv_rows_bytes(CHANGED_COLUMNS, self.changed)


# --- the replay ------------------------------------------------------------------------------------------


def replay(  # noqa: C901 — the hot loop is inlined on purpose (a million cases); split, it ran slower
    db: Database,
    actor_id: int,
    draft: PolicyVersion,
    start: date,
    end: date,
    *,
    book: PolicyBook,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> ReplayResult:
    """Re-judge every decided case with a decision dated ``start``..``end`` under ``draft``. Read-only."""
    authorize(db, actor_id, "replay_policy")
    if end < start:
        raise InvalidInput("The range ends before it starts.", field="range")
    what_if = draft_book(book, draft)
    t0 = time.perf_counter()
    tally: dict[tuple, int] = {}
    changed: list[tuple] = []
    not_judged: list[tuple[int, str]] = []
    judge_seconds = 0.0
    money = frozenset(MONEY_OUTCOMES)
    rank = GENEROSITY
    with db.engine.connect() as conn, conn.begin():
        _read_only(conn)
        try:
            total = (
                conn.execute(select(func.count()).select_from(Decision).where(_decided_in(start, end))).scalar() or 0
            )
            done = 0
            if progress:
                progress(0, total)
            for rows in _chunks(conn, start, end, chunk):
                j0 = time.perf_counter()
                for row in rows:
                    m = row._mapping
                    try:
                        facts = facts_from_row(m)
                        was = evaluate(facts, book)
                        new = evaluate(facts, what_if)
                    except PolicyError as exc:
                        key: tuple = (m["reason"], m["service_type"], None, False, False, False, False)
                        tally[key] = tally.get(key, 0) + 1
                        if len(not_judged) < 10_000:
                            not_judged.append((m["case_id"], str(exc)))
                        continue
                    outcome = m["outcome"]
                    was_exc = bool(m["is_exception"])
                    allowed = new.allowed_outcomes
                    if was_exc:
                        would, would_exc = outcome, outcome not in allowed
                    elif outcome in allowed:
                        would, would_exc = outcome, False
                    else:
                        would, would_exc = new.recommended_outcome, False
                    rec_was, rec_new = was.recommended_outcome, new.recommended_outcome
                    direction = 0
                    if rec_was != rec_new or was.allowed_outcomes != allowed:
                        before = (rank[rec_was], max(rank[o] for o in was.allowed_outcomes), len(was.allowed_outcomes))
                        after = (rank[rec_new], max(rank[o] for o in allowed), len(allowed))
                        direction = MORE if after > before else LESS if after < before else CHANGED
                        changed.append(
                            (
                                m["case_id"],
                                m["external_id"],
                                m["decided_on"],
                                m["service_type"],
                                m["reason"],
                                was.days_used,
                                outcome,
                                was_exc,
                                rec_was,
                                rec_new,
                                " ".join(allowed),
                                would,
                                would_exc,
                                "more generous"
                                if direction == MORE
                                else "less generous"
                                if direction == LESS
                                else "different",
                                was.policy_version,
                                new.policy_version,
                            )
                        )
                    # one counter per combination; summed into the tallies once at the end
                    key = (
                        m["reason"],
                        m["service_type"],
                        direction,
                        outcome in money,
                        would in money,
                        was_exc,
                        would_exc,
                    )
                    tally[key] = tally.get(key, 0) + 1
                judge_seconds += time.perf_counter() - j0
                done += len(rows)
                if progress:
                    progress(done, total)
        finally:
            _read_write_again(conn)
    totals, by_reason, by_type = _sum_tally(tally)
    seconds = time.perf_counter() - t0
    return ReplayResult(
        draft,
        start,
        end,
        totals,
        by_reason,
        by_type,
        changed,
        not_judged,
        read_seconds=seconds - judge_seconds,
        judge_seconds=judge_seconds,
        seconds=seconds,
    )


def _sum_tally(tally: dict[tuple, int]) -> tuple[list[int], dict[str, list[int]], dict[str, list[int]]]:
    """The counters per (reason, service type, direction, refund before/after, exception before/after) summed
    into slots, overall, per reason and per service type."""
    totals = [0] * _SLOTS
    by_reason: dict[str, list[int]] = {}
    by_type: dict[str, list[int]] = {}
    for (reason, stype, direction, refund_was, refund_would, exc_was, exc_would), n in tally.items():
        for t in (totals, by_reason.setdefault(reason, [0] * _SLOTS), by_type.setdefault(stype, [0] * _SLOTS)):
            t[CASES] += n
            if direction is None:
                t[NOT_JUDGED] += n
                continue
            if direction:
                t[CHANGED] += n
                if direction != CHANGED:
                    t[direction] += n
            t[REFUND_WAS] += n * refund_was
            t[REFUND_WOULD] += n * refund_would
            t[EXC_WAS] += n * exc_was
            t[EXC_WOULD] += n * exc_would
    return totals, by_reason, by_type
