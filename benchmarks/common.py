"""What the benchmark scripts share: where the large demo database lives and the migration head."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# `make demo-large` makes it: 1,000,000 cases, ~10 million services sold (--request-rate 0.1).
LARGE_DB = ROOT / "data" / "large.db"
SCRATCH = ROOT / "data"  # copies and generated databases go beside it (git ignores data/*.db)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    from data.migrate import alembic_config

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def require_large_db(path: Path = LARGE_DB) -> Path:
    if not path.exists():
        raise SystemExit(
            f"{path} does not exist: make it with `make demo-large` (about 2.5 minutes), or pass --db / --cases."
        )
    return path
