"""The policy book the desk judges by: the one loader every entry point calls.

The queue, the case page, deciding, the checker, the import, the what-if replay and the analytics by version
(through the ``policy_version`` each decision stores) all judge by ``current_book()``: the versions in
``policy/versions`` or, when ``$REFUND_DESK_POLICY_DIR`` names a directory, the versions there. Each directory is
read once per process (the versions are files deployed with the desk, so a restart picks up a new one); a
version the loader refuses (``policy.load_book``) raises ``PolicyError`` naming the file and what is wrong.
"""

from __future__ import annotations

import os
from functools import lru_cache

from policy import PolicyBook, load_book

POLICY_DIR_ENV = "REFUND_DESK_POLICY_DIR"


def policy_dir() -> str | None:
    """The configured policy directory, or None for the package's own ``policy/versions``."""
    return os.environ.get(POLICY_DIR_ENV) or None


@lru_cache(maxsize=4)
def _load(directory: str | None) -> PolicyBook:
    return load_book(directory)


def current_book() -> PolicyBook:
    """Every policy version the desk judges by (see the module docstring)."""
    return _load(policy_dir())
