"""Several app servers on one PostgreSQL: a write on one server clears the caches of every other at once.

Migration 0006 makes every statement that adds audit events (every desk write, imports, the generator)
send `NOTIFY refund_desk_changed, '<schema>'` when it commits. Each server process runs one listener
thread per database (started with the cached engine, ui.runtime) that clears this process's cached
queue pages, counts, home and analytics numbers when a notification for its schema arrives. Without it a
server shows another server's writes within the caches' lifetime (20 s queue, 60 s analytics). SQLite
has one server by design, so nothing is started there.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.engine import make_url

from data.db import Database

CHANNEL = "refund_desk_changed"
log = logging.getLogger("refund_desk")
_lock = threading.Lock()
_listening: dict[str, threading.Thread] = {}
cleared = 0  # how many times this process cleared its caches for a notification (read by tests)


def _schema(url: str) -> str:
    options = make_url(url).query.get("options", "")
    options = " ".join(options) if isinstance(options, tuple) else options
    if "search_path=" in options:
        return options.split("search_path=", 1)[1].split()[0].split(",")[0]
    return "public"


def _clear() -> None:
    global cleared
    from ui.casework import clear_queue_caches  # clears the analytics and home caches too

    clear_queue_caches()
    cleared += 1


def watch(db: Database) -> None:
    """Start this process's listener for `db` (once per URL); a no-op on SQLite."""
    if db.backend != "postgresql":
        return
    with _lock:
        if db.url in _listening and _listening[db.url].is_alive():
            return
        t = threading.Thread(target=_listen, args=(db.url,), daemon=True, name="refund-desk-listen")
        _listening[db.url] = t
        t.start()


def _listen(url: str) -> None:
    import psycopg

    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = _schema(url)
    pause = 1.0
    while True:
        try:
            with psycopg.connect(conninfo, autocommit=True, application_name="refund-desk-listen") as conn:
                conn.execute(f"LISTEN {CHANNEL}")
                _clear()  # whatever was written while we were not listening
                pause = 1.0
                for note in conn.notifies():
                    if note.payload == schema:
                        _clear()
        except Exception as exc:  # noqa: BLE001 - a lost connection: caches expire by TTL meanwhile; retry
            log.warning("cache listener for %s lost its connection (%s); retrying in %.0f s", schema, exc, pause)
            time.sleep(pause)
            pause = min(pause * 2, 30.0)
