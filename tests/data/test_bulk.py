"""bulk.binary_loader: the binary COPY encoded from numpy arrays stores what the text path stores."""

import numpy as np
from sqlalchemy import text

from data import bulk

COLUMNS = (
    "id bigint, a integer, s smallint, d date, t varchar(20), b boolean, x text, ts timestamp, "
    "mi integer, mb boolean, tx text"
)


def _columns(n: int) -> dict:
    rng = np.random.default_rng(1)
    m = rng.random(n) < 0.6
    return {
        "id": np.arange(1, n + 1),
        "a": rng.integers(-5, 10**6, n).astype(np.int32),
        "s": rng.integers(0, 100, n).astype(np.int8),
        "d": bulk.Days(rng.integers(19000, 20000, n).astype(np.int32), rng.random(n) < 0.7),
        "t": bulk.Codes(rng.integers(0, 4, n), ("alpha", None, "é-ü", 'x,"y')),
        "b": rng.random(n) < 0.5,
        "x": bulk.Codes(rng.integers(0, 2, n).astype(np.int8), ("one", "two words")),
        "ts": bulk.Stamps(rng.integers(19000, 20000, n), rng.integers(0, 86400, n), m),
        "mi": bulk.Maybe(rng.integers(0, 9, n), m),
        "mb": bulk.Maybe(rng.random(n) < 0.5, ~m),
        "tx": [None if i % 3 == 0 else ("€" * (i % 7)) + '{"a": 1}' for i in range(n)],
    }


def test_binary_loader_stores_the_rows_the_text_loader_stores(db, monkeypatch):
    monkeypatch.setattr(bulk, "_BLOCK", 700)  # many blocks, and rows split across load() calls
    n = 3000
    cols = _columns(n)
    with db.engine.begin() as conn:
        for t in ("via_arrays", "via_text"):
            conn.execute(text(f"CREATE TEMPORARY TABLE {t} ({COLUMNS})"))
        with bulk.binary_loader(conn, "via_arrays") as load:
            for a in range(0, n, 1100):
                assert load({k: bulk._slice(v, a, min(n, a + 1100)) for k, v in cols.items()}) == min(1100, n - a)
        bulk.insert_columns(conn, "via_text", {k: bulk.python_values(v) for k, v in cols.items()})
        select = f"SELECT {', '.join(cols)} FROM {{}} ORDER BY id"
        rows = [conn.execute(text(select.format(t))).all() for t in ("via_arrays", "via_text")]
    assert len(rows[0]) == n
    assert rows[0] == rows[1]
