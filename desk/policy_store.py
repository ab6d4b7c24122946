"""Policy versions in the case database: the stored text, the first-run load of policy/versions, the book.

Every version is stored as the TOML text ``PolicyVersion.to_toml_text()`` writes (the layout of
``policy/versions/*.toml``, so any stored version exports to a file for review in git) with the SHA-256 of that
text. The table is append-only and a published version immutable (migration 0007's triggers).

``sync_files(db, book)`` runs on the desk's first use of a database in a process: each version of the configured
directory is stored (as published, origin "file") if no version has its name, and otherwise verified against
what is stored -- a file that disagrees with the stored version of the same name is refused, naming both.
``published_book(db)`` builds the book from the published versions; ``stamp(db)`` is the cheap check
(count and largest id of published rows, count of withdrawn ones) that tells a process its book is stale.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError

from data.db import Database
from data.models import StoredPolicyVersion
from desk import audit
from policy import PolicyBook, PolicyError, PolicyVersion

ORIGIN_LABELS = {"file": "shipped file", "desk": "published on the desk", "demo": "DEMO version"}


def content_hash(toml_text: str) -> str:
    return hashlib.sha256(toml_text.encode("utf-8")).hexdigest()


def canonical(version: PolicyVersion) -> tuple[str, str]:
    """The stored text of a version and its hash."""
    text = version.to_toml_text()
    return text, content_hash(text)


class StoredVersionRefused(PolicyError):
    """A stored version cannot be read, or a file disagrees with what is stored."""


@dataclass(frozen=True)
class StoredVersion:
    """A stored version as the pages show it (plain values, no ORM object)."""

    id: int
    name: str
    effective_from: date
    window_days: int
    status: str
    origin: str
    based_on: str | None
    revision: int
    content_hash: str
    toml: str
    created_by: str | None
    created_by_id: int | None
    created_at: datetime
    approved_by: str | None
    published_at: datetime | None
    withdrawn_by: str | None
    withdrawn_at: datetime | None

    def version(self) -> PolicyVersion:
        return PolicyVersion.from_toml_text(self.toml)

    def scheduled(self, today: date) -> bool:
        return self.status == "published" and self.effective_from > today

    def state(self, today: date) -> str:
        """'draft', 'scheduled', 'in force', 'superseded'... as a person reads it (superseded is decided by
        the book, so this says 'published' for a version that took effect)."""
        if self.status == "published":
            return f"scheduled: takes effect on {self.effective_from}" if self.scheduled(today) else "published"
        return self.status


_PARSED: dict[str, PolicyVersion] = {}


def parse_stored(name: str, toml_text: str, digest: str) -> PolicyVersion:
    """The version a stored row holds (parsed once per content hash per process)."""
    version = _PARSED.get(digest)
    if version is not None:
        return version
    try:
        version = PolicyVersion.from_toml_text(toml_text)
    except PolicyError as exc:
        raise StoredVersionRefused(f"stored version {name!r}: {exc}") from None
    if content_hash(toml_text) != digest:
        raise StoredVersionRefused(f"stored version {name!r}: its text does not match its hash")
    _PARSED[digest] = version
    return version


def stamp(db: Database) -> tuple[int, int, int]:
    """(published rows, largest published id, withdrawn rows): changes whenever the book does."""
    t = StoredPolicyVersion
    with db.read() as s:
        row = s.execute(
            select(
                func.count(t.id).filter(t.status == "published"),
                func.coalesce(func.max(case((t.status == "published", t.id))), 0),
                func.count(t.id).filter(t.status == "withdrawn"),
            )
        ).one()
    return int(row[0]), int(row[1]), int(row[2])


def published_book(db: Database) -> PolicyBook | None:
    """The book of every published version, or None when none is stored yet."""
    t = StoredPolicyVersion
    with db.read() as s:
        rows = s.execute(
            select(t.name, t.toml, t.content_hash).where(t.status == "published")  # the book sorts them
        ).all()
    if not rows:
        return None
    return PolicyBook([parse_stored(*r) for r in rows])


def sync_files(db: Database, book: PolicyBook, source: str, *, now: datetime | None = None) -> None:
    """Store each version of ``book`` (read from ``source``) that is not stored yet; verify the others.
    StoredVersionRefused names the file's version and says how it differs; nothing is written then."""
    t = StoredPolicyVersion
    at = now or audit.utcnow()
    for attempt in range(2):  # a second process may store the same file at the same moment: verify again
        try:
            with db.write.begin() as s:
                stored = {r.name: r for r in s.execute(select(t.name, t.content_hash, t.status, t.effective_from))}
                for version in book.versions:
                    text, digest = canonical(version)
                    row = stored.get(version.version)
                    if row is None:
                        s.add(
                            t(
                                name=version.version,
                                effective_from=version.effective_from,
                                window_days=version.window_days,
                                toml=text,
                                content_hash=digest,
                                status="published",
                                origin="file",
                                revision=1,
                                created_at=at,
                                updated_at=at,
                                published_at=at,
                            )
                        )
                        continue
                    if row.content_hash != digest:
                        raise StoredVersionRefused(
                            f"{source}: version {version.version!r} differs from the version of that name stored "
                            f"in the case database ({row.status}, effective {row.effective_from}); a published "
                            f"version never changes -- export the stored one with `python -m desk.policy_store "
                            f"export` or give the file a new version name and effective date"
                        )
            return
        except IntegrityError as exc:
            if attempt:
                raise StoredVersionRefused(f"{source}: cannot store the policy versions: {exc.orig}") from None


DEMO_WINDOW_DAYS = 10


def demo_version(base: PolicyVersion, today: date) -> PolicyVersion:
    """The demo data's second version, clearly a DEMO: ``base`` with a 10-day contact window (its text says
    so), taking effect on the first of the month six months before ``today``."""
    month = today.year * 12 + today.month - 1 - 6
    effective = date(month // 12, month % 12 + 1, 1)
    return base.with_window_days(DEMO_WINDOW_DAYS, version=f"{effective.isoformat()} demo", effective_from=effective)


def store_version(db: Database, version: PolicyVersion, *, origin: str, now: datetime | None = None) -> int:
    """Store ``version`` as published (the demo generator's DEMO version); its id."""
    text, digest = canonical(version)
    at = now or audit.utcnow()
    with db.write.begin() as s:
        row = StoredPolicyVersion(
            name=version.version,
            effective_from=version.effective_from,
            window_days=version.window_days,
            toml=text,
            content_hash=digest,
            status="published",
            origin=origin,
            revision=1,
            created_at=at,
            updated_at=at,
            published_at=at,
        )
        s.add(row)
        s.flush()
        return row.id


def _user_names(s, ids: set[int]) -> dict[int, str]:
    from data.models import User

    if not ids:
        return {}
    return {u.id: u.display_name for u in s.scalars(select(User).where(User.id.in_(ids)))}


def list_versions(db: Database, *, statuses: tuple[str, ...] | None = None) -> list[StoredVersion]:
    """Every stored version, newest effective date first (drafts included unless ``statuses`` says)."""
    t = StoredPolicyVersion
    with db.read() as s:
        q = select(t).order_by(t.effective_from.desc(), t.id.desc())
        if statuses:
            q = q.where(t.status.in_(statuses))
        rows = list(s.scalars(q))
        names = _user_names(s, {i for r in rows for i in (r.created_by_id, r.approved_by_id, r.withdrawn_by_id) if i})
    return [_view(r, names) for r in rows]


def get_version(db: Database, version_id: int) -> StoredVersion | None:
    with db.read() as s:
        r = s.get(StoredPolicyVersion, version_id)
        if r is None:
            return None
        names = _user_names(s, {i for i in (r.created_by_id, r.approved_by_id, r.withdrawn_by_id) if i})
    return _view(r, names)


def _view(r: StoredPolicyVersion, names: dict[int, str]) -> StoredVersion:
    return StoredVersion(
        r.id,
        r.name,
        r.effective_from,
        r.window_days,
        r.status,
        r.origin,
        r.based_on,
        r.revision,
        r.content_hash,
        r.toml,
        names.get(r.created_by_id) if r.created_by_id else None,
        r.created_by_id,
        r.created_at,
        names.get(r.approved_by_id) if r.approved_by_id else None,
        r.published_at,
        names.get(r.withdrawn_by_id) if r.withdrawn_by_id else None,
        r.withdrawn_at,
    )


def export_files(db: Database, directory: Path) -> list[Path]:
    """Write every published version as ``<effective_from>.toml`` (the layout of policy/versions, so
    ``python -m policy export --policy-dir DIR`` and ``load_book(DIR)`` read them)."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for v in list_versions(db, statuses=("published",)):
        path = directory / f"{v.effective_from.isoformat()}.toml"
        path.write_text(v.toml, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    """``python -m desk.policy_store export DIR [--db URL]``: the published versions as TOML files."""
    import argparse
    import sys

    from data.db import open_database

    ap = argparse.ArgumentParser(prog="python -m desk.policy_store")
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write every published version as DIR/<effective_from>.toml")
    ex.add_argument("directory", type=Path)
    ex.add_argument("--db", help="database URL (default: DATABASE_URL or data/refund_desk.db)")
    args = ap.parse_args(argv)
    db = open_database(args.db)
    try:
        for path in export_files(db, args.directory):
            print(path)
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
