"""Changing the policy the way section 6 says: draft, compare, replay, approve and publish, withdraw.

A manager drafts a new version from the version in force (``create_draft``), edits its effective date, contact
window and clause texts (``check_draft`` validates as it is typed: every section present, every number of days
the text states equal to the window, the effective date after today -- never retroactive, "the new terms will
apply to all services provided after the update" -- and on no day a published version already takes effect),
saves it (``save_draft``, optimistic on the draft's revision), compares it with the version in force
(``compare``) and replays it over past decisions (``desk.replay.replay`` with ``version()`` of the draft). A
second person -- another manager or an admin, never the author -- approves exactly the content they saw: the
page submits the SHA-256 of the text it showed, and ``approve_and_publish`` refuses if the draft changed since.
Then the version is published, scheduled to take effect on its date, and every process's book picks it up
(``desk.book``). ``withdraw`` takes a scheduled version back before its date; a version in force never changes
(the database refuses it too). Each step writes its audit event in the same transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from data.db import Database, rowcount
from data.models import StoredPolicyVersion
from desk import audit
from desk import book as desk_book
from desk.auth import authorize
from desk.errors import DeskError, InvalidInput, NotAllowed, NotFound
from desk.policy_store import ORIGIN_LABELS, StoredVersion, canonical, get_version, list_versions
from policy import PolicyBook, PolicyError, PolicyVersion, diff_versions, restate_window
from policy.export import render

__all__ = ["ORIGIN_LABELS"]

NAME_MAX = 32
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()-]*$")
DEFAULT_LEAD_DAYS = 30


class StaleDraft(DeskError):
    """The draft changed (or was published, or discarded) since the user looked at it."""


@dataclass(frozen=True)
class DraftForm:
    """What the draft form holds: the parameters and the clause texts, as typed."""

    name: str
    effective_from: date | None
    window_days: int | None
    clauses: dict[str, str]


@dataclass(frozen=True)
class DraftCheck:
    """The draft as typed, validated: the version (None while anything is wrong) and each problem as
    (field, message), field being "name", "effective_from", "window_days", "clauses.N" or "quotes"."""

    version: PolicyVersion | None
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.version is not None and not self.problems


# --- reading -----------------------------------------------------------------------------------------------


def in_force(db: Database, today: date) -> PolicyVersion:
    """The version of the desk's book in force today."""
    try:
        return desk_book.current_book(db).version_for(today)
    except PolicyError as exc:
        raise InvalidInput(str(exc)) from None


def book(db: Database) -> PolicyBook:
    """The desk's book (``desk.book.current_book``)."""
    return desk_book.current_book(db)


def say_window(text: str, window_days: int) -> str:
    """``text`` stating ``window_days`` wherever it states a number of days (the draft form's rewrite button)."""
    return restate_window(text, window_days)


def public_text(db: Database, as_of: date, fmt: str = "markdown") -> str:
    """The public policy text in force on ``as_of`` with the history of changes (``policy.export``)."""
    try:
        return render(desk_book.current_book(db), as_of, fmt)
    except PolicyError as exc:
        raise InvalidInput(str(exc)) from None


def drafts(db: Database) -> list[StoredVersion]:
    return list_versions(db, statuses=("draft",))


def history(db: Database) -> list[StoredVersion]:
    """Every published or withdrawn version, newest effective date first."""
    return list_versions(db, statuses=("published", "withdrawn"))


def takes_effect(version: PolicyVersion | StoredVersion, today: date) -> str:
    """How a version is named wherever it is shown: "2027-01-01 (takes effect on 2027-01-01)" while scheduled."""
    name = version.version if isinstance(version, PolicyVersion) else version.name
    if version.effective_from > today:
        return f"{name} (takes effect on {version.effective_from})"
    return f"{name} (in force since {version.effective_from})"


def state_words(version: StoredVersion, in_force_now: PolicyVersion, today: date) -> str:
    """ "in force", "superseded", "scheduled: takes effect on D", "withdrawn", "draft", "discarded"."""
    if version.status != "published":
        return version.status
    if version.effective_from > today:
        return f"scheduled: takes effect on {version.effective_from}"
    return "in force" if version.name == in_force_now.version else "superseded"


# --- drafting ----------------------------------------------------------------------------------------------


def _published_days(db: Database, exclude_id: int | None = None) -> dict[date, str]:
    t = StoredPolicyVersion
    with db.read() as s:
        q = select(t.effective_from, t.name).where(t.status == "published")
        if exclude_id is not None:
            q = q.where(t.id != exclude_id)
        return {d: n for d, n in s.execute(q)}


def _name_taken(db: Database, name: str, exclude_id: int | None) -> bool:
    t = StoredPolicyVersion
    with db.read() as s:
        q = select(func.count(t.id)).where(t.name == name)
        if exclude_id is not None:
            q = q.where(t.id != exclude_id)
        return bool(s.scalar(q))


def check_draft(
    db: Database, form: DraftForm, base: PolicyVersion, today: date, *, draft_id: int | None = None
) -> DraftCheck:
    """Validate the draft as typed (see the module docstring). ``base`` gives the quotes a reply uses; their
    numbers of days follow the window."""
    problems: list[tuple[str, str]] = []
    name = (form.name or "").strip()
    if not name:
        problems.append(("name", "Give the version a name (for example its effective date)."))
    elif len(name) > NAME_MAX or not _NAME.match(name):
        problems.append(("name", f"A version name is up to {NAME_MAX} letters, digits, spaces, '.', '_', '-', '()'."))
    elif _name_taken(db, name, draft_id):
        problems.append(("name", f"A version named {name!r} already exists; names are never reused."))
    eff = form.effective_from
    if eff is None:
        problems.append(("effective_from", "Choose the date the version takes effect."))
    else:
        if eff <= today:
            problems.append(
                (
                    "effective_from",
                    f"The effective date must be after today ({today}): the new terms apply to services provided "
                    f"after the update, never retroactively.",
                )
            )
        taken = _published_days(db).get(eff)
        if taken:
            problems.append(("effective_from", f"Version {taken!r} already takes effect on {eff}; choose another day."))
    window = form.window_days
    if type(window) is not int or window < 0:
        problems.append(("window_days", "The contact window is a whole number of days, 0 or more."))
        window = None
    version = None
    if window is not None:
        quotes = base.with_window_days(window).quotes if window != base.window_days else base.quotes
        try:
            version = PolicyVersion(
                name or "draft", eff or today + timedelta(days=1), window, dict(form.clauses), tuple(quotes)
            )
        except PolicyError as exc:
            where, _, message = str(exc).partition(": ")
            problems.append((where, _explain(where, message)))
    return DraftCheck(version if not problems else None, problems)


def _explain(where: str, message: str) -> str:
    if where.startswith("quotes"):
        return (
            f"{message} -- a reply quotes this sentence; keep it word for word in its section "
            f"(or ask a developer to change what replies quote)"
        )
    return message


def form_of(version: PolicyVersion) -> DraftForm:
    return DraftForm(version.version, version.effective_from, version.window_days, dict(version.clauses))


def create_draft(db: Database, actor_id: int, today: date, *, now: datetime | None = None) -> StoredVersion:
    """A new draft: the version in force today, taking effect ``DEFAULT_LEAD_DAYS`` from now (the first free
    day), named after that date."""
    actor = authorize(db, actor_id, "draft_policy")
    base = in_force(db, today)
    taken = _published_days(db)
    eff = today + timedelta(days=DEFAULT_LEAD_DAYS)
    while eff in taken:
        eff += timedelta(days=1)
    name = eff.isoformat()
    n = 2
    while _name_taken(db, name, None):
        name = f"{eff.isoformat()} ({n})"
        n += 1
    version = PolicyVersion(name, eff, base.window_days, dict(base.clauses), tuple(base.quotes))
    text, digest = canonical(version)
    at = now or audit.utcnow()
    with db.write.begin() as s:
        row = StoredPolicyVersion(
            name=name,
            effective_from=eff,
            window_days=version.window_days,
            toml=text,
            content_hash=digest,
            status="draft",
            origin="desk",
            based_on=base.version,
            revision=1,
            created_by_id=actor.id,
            created_at=at,
            updated_at=at,
        )
        s.add(row)
        s.flush()
        audit.record(
            s,
            audit.PolicyDrafted(row.id, name, base.version, eff.isoformat()),
            actor=actor.email,
            actor_id=actor.id,
            at=at,
        )
        new_id = row.id
    return _draft_row(db, new_id)


def _draft_row(db: Database, draft_id: int) -> StoredVersion:
    v = get_version(db, draft_id)
    if v is None:
        raise NotFound(f"Policy draft #{draft_id} does not exist.")
    return v


def _base_of(db: Database, v: StoredVersion, today: date) -> PolicyVersion:
    """The version a draft was drafted from (its quotes are the draft's); the one in force if it is gone."""
    book = desk_book.current_book(db)
    based_on = book.get(v.based_on, None) if v.based_on else None
    return based_on or in_force(db, today)


def save_draft(
    db: Database,
    actor_id: int,
    draft_id: int,
    seen_revision: int,
    form: DraftForm,
    today: date,
    *,
    now: datetime | None = None,
) -> StoredVersion:
    """Save the draft as typed; InvalidInput lists every problem (nothing is written then); StaleDraft when
    someone else saved, published or discarded it since ``seen_revision``."""
    actor = authorize(db, actor_id, "draft_policy")
    v = _draft_row(db, draft_id)
    if v.status != "draft":
        raise StaleDraft(f"Version {v.name!r} is {v.status}; a draft can no longer be edited.")
    if v.created_by_id != actor.id:
        raise NotAllowed(f"Only its author, {v.created_by}, edits draft {v.name!r}; draft your own.")
    checked = check_draft(db, form, _base_of(db, v, today), today, draft_id=draft_id)
    if not checked.ok:
        raise InvalidInput(
            "The draft was not saved: " + "; ".join(f"{f}: {m}" for f, m in checked.problems),
            field=checked.problems[0][0],
        )
    assert checked.version is not None  # checked.ok says so
    text, digest = canonical(checked.version)
    at = now or audit.utcnow()
    t = StoredPolicyVersion
    try:
        with db.write.begin() as s:
            done = rowcount(
                s.execute(
                    update(t)
                    .where(t.id == draft_id, t.status == "draft", t.revision == seen_revision)
                    .values(
                        name=checked.version.version,
                        effective_from=checked.version.effective_from,
                        window_days=checked.version.window_days,
                        toml=text,
                        content_hash=digest,
                        revision=t.revision + 1,
                        updated_at=at,
                    )
                )
            )
            if done != 1:
                raise StaleDraft(f"Draft {v.name!r} changed since you opened it; reload it and type your change again.")
            audit.record(
                s,
                audit.PolicyDraftSaved(draft_id, checked.version.version, seen_revision + 1, digest),
                actor=actor.email,
                actor_id=actor.id,
                at=at,
            )
    except IntegrityError:
        raise InvalidInput(f"A version named {checked.version.version!r} already exists.", field="name") from None
    return _draft_row(db, draft_id)


def discard_draft(db: Database, actor_id: int, draft_id: int, *, now: datetime | None = None) -> None:
    actor = authorize(db, actor_id, "draft_policy")
    v = _draft_row(db, draft_id)
    if v.created_by_id != actor.id:
        raise NotAllowed(f"Only its author, {v.created_by}, discards draft {v.name!r}.")
    t = StoredPolicyVersion
    at = now or audit.utcnow()
    with db.write.begin() as s:
        if (
            rowcount(
                s.execute(
                    update(t).where(t.id == draft_id, t.status == "draft").values(status="discarded", updated_at=at)
                )
            )
            != 1
        ):
            raise StaleDraft(f"Version {v.name!r} is no longer a draft.")
        audit.record(s, audit.PolicyDraftDiscarded(draft_id, v.name), actor=actor.email, actor_id=actor.id, at=at)


# --- comparing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    older: PolicyVersion
    newer: PolicyVersion
    parameters: list[tuple[str, str, str, bool]]  # (parameter, in force, draft, changed)
    sections: list[tuple[str, str, str, str, bool]]  # (number, heading, in force text, draft text, changed)
    unified: str

    @property
    def changed_sections(self) -> list[str]:
        return [n for n, *_rest, changed in self.sections if changed]


def compare(older: PolicyVersion, newer: PolicyVersion) -> Comparison:
    """Side by side: each parameter and each section of the version in force and of the draft."""
    params = [
        ("Effective from", str(older.effective_from), str(newer.effective_from)),
        ("Contact window (days)", str(older.window_days), str(newer.window_days)),
    ]
    sections = []
    for n in dict.fromkeys([*older.clauses, *newer.clauses]):
        a, b = older.clauses.get(n, ""), newer.clauses.get(n, "")
        heading = (newer if n in newer.clauses else older).heading(n)
        sections.append((n, heading, a.strip(), b.strip(), a != b))
    return Comparison(older, newer, [(*p, p[1] != p[2]) for p in params], sections, diff_versions(older, newer))


def as_replacement(draft: StoredVersion, base: PolicyVersion) -> PolicyVersion:
    """The draft as a what-if replay judges past cases by it: in place of ``base``, the version it was
    drafted from (same effective date), so every case ``base`` judged is judged by the draft instead."""
    return draft.version().with_window_days(draft.window_days, effective_from=base.effective_from)


# --- approving and publishing ------------------------------------------------------------------------------


def _check_fits_the_book(db: Database, v: StoredVersion, draft_id: int) -> None:
    """Refuse a draft the policy book cannot take; a colleague's publication a moment ago is named as such."""
    try:
        PolicyBook([*desk_book.current_book(db).versions, v.version()])
    except PolicyError as exc:
        # a colleague published between the checks above: this draft, or another one for the same day
        if _draft_row(db, draft_id).status != "draft":
            raise StaleDraft(f"Draft {v.name!r} was published by someone else a moment ago; reload.") from None
        if taken := _published_days(db).get(v.effective_from):
            raise InvalidInput(
                f"Version {taken!r} was published for {v.effective_from} a moment ago; nothing was changed.",
                field="effective_from",
            ) from None
        raise InvalidInput(f"The draft does not fit the policy book: {exc}") from None


def approve_and_publish(
    db: Database, approver_id: int, draft_id: int, seen_hash: str, today: date, *, now: datetime | None = None
) -> StoredVersion:
    """Publish the draft whose content hash is ``seen_hash`` (what the approver was shown). Refused: the
    author approving, content changed since it was shown, an effective date not after today or on a day a
    published version takes effect, and the draft published by someone else at the same moment."""
    actor = authorize(db, approver_id, "publish_policy")
    v = _draft_row(db, draft_id)
    if v.status != "draft":
        raise StaleDraft(f"Version {v.name!r} is already {v.status}; nothing was changed.")
    if v.created_by_id == actor.id:
        raise NotAllowed(f"You drafted {v.name!r}: a second person (another manager or an admin) approves it.")
    if v.content_hash != seen_hash:
        raise StaleDraft(
            f"Draft {v.name!r} changed after you viewed it (saved again by {v.created_by}); review the new "
            f"content and approve that."
        )
    if v.effective_from <= today:
        raise InvalidInput(
            f"{v.name!r} would take effect on {v.effective_from}, not after today ({today}): a policy is never "
            f"retroactive. Its author must choose a later date.",
            field="effective_from",
        )
    taken = _published_days(db).get(v.effective_from)
    if taken:
        raise InvalidInput(f"Version {taken!r} already takes effect on {v.effective_from}.", field="effective_from")
    _check_fits_the_book(db, v, draft_id)
    t = StoredPolicyVersion
    at = now or audit.utcnow()
    try:
        with db.write.begin() as s:
            done = rowcount(
                s.execute(
                    update(t)
                    .where(t.id == draft_id, t.status == "draft", t.content_hash == seen_hash)
                    .values(status="published", approved_by_id=actor.id, published_at=at, updated_at=at)
                )
            )
            if done != 1:
                raise StaleDraft(f"Draft {v.name!r} was changed or published by someone else a moment ago; reload.")
            audit.record(
                s,
                audit.PolicyPublished(draft_id, v.name, v.effective_from.isoformat(), seen_hash, v.created_by_id),
                actor=actor.email,
                actor_id=actor.id,
                at=at,
            )
    except IntegrityError:
        raise InvalidInput(
            f"Another version was published for {v.effective_from} a moment ago; nothing was changed.",
            field="effective_from",
        ) from None
    desk_book.forget(db)
    return _draft_row(db, draft_id)


def withdraw(
    db: Database, actor_id: int, version_id: int, today: date, note: str = "", *, now: datetime | None = None
) -> StoredVersion:
    """Withdraw a published version before it takes effect; a version in force is never changed."""
    actor = authorize(db, actor_id, "publish_policy")
    v = _draft_row(db, version_id)
    if v.status != "published":
        raise InvalidInput(f"Version {v.name!r} is {v.status}; only a scheduled version can be withdrawn.")
    if v.effective_from <= today:
        raise InvalidInput(
            f"Version {v.name!r} has been in force since {v.effective_from}: a version in force is never "
            f"edited or withdrawn. Publish a new version to change the policy."
        )
    t = StoredPolicyVersion
    at = now or audit.utcnow()
    with db.write.begin() as s:
        done = rowcount(
            s.execute(
                update(t)
                .where(t.id == version_id, t.status == "published")
                .values(status="withdrawn", withdrawn_by_id=actor.id, withdrawn_at=at)
            )
        )
        if done != 1:
            raise StaleDraft(f"Version {v.name!r} was withdrawn by someone else a moment ago.")
        audit.record(
            s,
            audit.PolicyWithdrawn(version_id, v.name, v.effective_from.isoformat(), note.strip()[:500]),
            actor=actor.email,
            actor_id=actor.id,
            at=at,
        )
    desk_book.forget(db)
    return _draft_row(db, version_id)
