"""Helpers for the import and replay tests: demo users in an empty database, table counts, example files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import func, select, text

from data import bulk
from data.db import Database
from data.generate import DEMO_USERS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "data" / "examples"
USER_ID = {email: i for i, (email, *_rest) in enumerate(DEMO_USERS, start=1)}
ADA, MAX, PRIYA, RITA = (USER_ID[f"{n}@refund-desk.example"] for n in ("ada", "max", "priya", "rita"))
TABLES = ("customers", "services", "sales_daily", "cases", "decisions", "case_events")


def add_demo_users(db: Database) -> None:
    """The demo staff (reviewers, managers Max and Priya, admin Ada) in an empty, migrated database."""
    with db.write.begin() as s:
        bulk.insert_columns(
            s.connection(),
            "users",
            {
                "id": list(range(1, len(DEMO_USERS) + 1)),
                "email": [u[0] for u in DEMO_USERS],
                "display_name": [u[1] for u in DEMO_USERS],
                "role": [u[2] for u in DEMO_USERS],
                "active": [u[3] for u in DEMO_USERS],
                "created_at": ["2024-01-01 00:00:00"] * len(DEMO_USERS),
            },
        )
        bulk.reset_sequences(s.connection(), ["users"])


def counts(db: Database) -> dict[str, int]:
    with db.read() as s:
        return {t: s.scalar(select(func.count()).select_from(text(t))) for t in TABLES}


def checksum(db: Database, table: str) -> str:
    """A digest of every row of a table, in id order (to show a read-only operation changed nothing)."""
    with db.read() as s:
        rows = s.execute(text(f"SELECT * FROM {table} ORDER BY 1")).all()
    return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()
