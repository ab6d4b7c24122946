"""Process workers for the concurrency tests and the queue benchmark (importable by spawned processes)."""

from __future__ import annotations

import time
import traceback
import uuid
from datetime import date


def decide_many(
    url: str, actor_email: str, plan: list[tuple[int, int, str, int | None]], today: date, barrier, results
) -> None:
    """Open its own Database, wait for the others at `barrier`, then decide each (case id, version seen, outcome,
    amount) of `plan`; put (wins, stale, locked, errors, commit seconds of each win) on the `results` queue."""
    from data.db import open_database
    from desk.auth import find_active_user
    from desk.decisions import decide
    from desk.errors import StaleCase

    db = open_database(url)
    wins: list[int] = []
    stale = locked = 0
    errors: list[str] = []
    timings: list[float] = []
    try:
        actor = find_active_user(db, actor_email)
        barrier.wait(timeout=120)
        for case_id, seen, outcome, amount in plan:
            started = time.perf_counter()
            try:
                decide(
                    db,
                    actor.id,
                    case_id,
                    outcome,
                    amount,
                    "Decided in a concurrency run.",
                    seen,
                    uuid.uuid4().hex,
                    today=today,
                )
            except StaleCase:
                stale += 1
            except Exception as exc:  # noqa: BLE001 - counted and reported by the parent
                if "locked" in str(exc):
                    locked += 1
                errors.append(f"{type(exc).__name__}: {exc}"[:300] + "\n" + traceback.format_exc(limit=3))
            else:
                wins.append(case_id)
                timings.append(time.perf_counter() - started)
    finally:
        db.dispose()
        results.put((actor_email, wins, stale, locked, errors, timings))
