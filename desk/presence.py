"""Who has a case open: "Li Wei opened this case 2 minutes ago" (collision detection on the case page).

One small row per (case, person) in `case_presence`, upserted when the page shows the case — at most once a
minute per person and case (the page passes when it last wrote), so a reviewer's reruns cost no writes. It is
not the audit trail: viewing changes nothing, and the rows are overwritten, never appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from data.db import Database, rowcount
from data.models import CasePresence, User
from desk.audit import utcnow

RECENT = timedelta(minutes=15)  # a colleague seen within this is "on the case"
REFRESH = timedelta(minutes=1)  # the page writes at most this often per person and case


@dataclass(frozen=True)
class Viewer:
    user_id: int
    name: str
    seen_at: datetime

    def line(self, now: datetime) -> str:
        """'Li Wei opened this case 2 minutes ago.'"""
        minutes = int((now - self.seen_at).total_seconds() // 60)
        when = "just now" if minutes < 1 else f"{minutes} minute{'s' if minutes != 1 else ''} ago"
        return f"{self.name} opened this case {when}."


def touch(db: Database, case_id: int, user_id: int, now: datetime | None = None) -> datetime:
    """Record that `user_id` has the case open now; returns the time written."""
    now = now or utcnow()
    with db.write.begin() as s:
        changed = rowcount(
            s.execute(
                update(CasePresence)
                .where(CasePresence.case_id == case_id, CasePresence.user_id == user_id)
                .values(seen_at=now)
            )
        )
        if not changed:
            s.add(CasePresence(case_id=case_id, user_id=user_id, seen_at=now))
        # old rows of this case are dropped as they go stale: the table stays the size of the desk's day
        s.execute(delete(CasePresence).where(CasePresence.case_id == case_id, CasePresence.seen_at < now - RECENT))
    return now


def due(last_written: datetime | None, now: datetime | None = None) -> bool:
    """Whether the page should write presence again (never more than once per REFRESH)."""
    return last_written is None or (now or utcnow()) - last_written >= REFRESH


def others_viewing(db: Database, case_id: int, user_id: int, now: datetime | None = None) -> list[Viewer]:
    """Colleagues who opened the case within RECENT, most recent first (never the person asking)."""
    with db.read() as s:
        return read_others_viewing(s, case_id, user_id, now)


def read_others_viewing(s: Session, case_id: int, user_id: int, now: datetime | None = None) -> list[Viewer]:
    """`others_viewing` in the caller's read session (desk.case_page reads the whole page in one)."""
    now = now or utcnow()
    rows = s.execute(
        select(CasePresence.user_id, User.display_name, CasePresence.seen_at)
        .join(User, User.id == CasePresence.user_id)
        .where(
            CasePresence.case_id == case_id,
            CasePresence.user_id != user_id,
            CasePresence.seen_at >= now - RECENT,
        )
        .order_by(CasePresence.seen_at.desc())
    ).all()
    return [Viewer(uid, name, seen) for uid, name, seen in rows]
