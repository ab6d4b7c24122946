"""`make run`'s first step: migrate the database and fill it with demo data on first run only.

`python -m desk.bootstrap` (or `python -m data.bootstrap`, kept for the Makefile and the README)."""

from __future__ import annotations

import sys

from data.db import describe_url, resolve_url
from data.generate import ensure_demo_database


def main() -> int:
    url = resolve_url()
    print(f"Refund Desk: database {describe_url(url)}", flush=True)
    counts = ensure_demo_database(url)
    if counts is None:
        print("Existing data kept (demo data is only created in an empty database).", flush=True)
    else:
        print("Created demo data: " + ", ".join(f"{k}={v:,}" for k, v in counts.items() if k != "write_seconds"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
