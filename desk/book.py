"""The policy book the desk judges by: the one loader every entry point calls.

The queue, the case page, deciding, the checker, the import, the what-if replay and the analytics by version
(through the ``policy_version`` each decision stores) all judge by ``current_book()``: the versions in
``policy/versions`` or, when ``$REFUND_DESK_POLICY_DIR`` names a directory, the versions there. Each directory is
read once per process (the versions are files deployed with the desk, so a restart picks up a new one). When
the loader refuses a version (``policy.load_book``: a malformed file, or clause text that disagrees with its
numbers) every entry point raises ``PolicyBookUnusable``, a desk error whose message names the file and the
clause, so each page shows it instead of judging by some other book; it is read again on the next call.
"""

from __future__ import annotations

import os
from functools import lru_cache

from desk.errors import DeskError
from policy import PolicyBook, PolicyError, load_book

POLICY_DIR_ENV = "REFUND_DESK_POLICY_DIR"


class PolicyBookUnusable(DeskError):
    """The configured policy versions cannot be loaded; the message says which file and what is wrong."""


def policy_dir() -> str | None:
    """The configured policy directory, or None for the package's own ``policy/versions``."""
    return os.environ.get(POLICY_DIR_ENV) or None


@lru_cache(maxsize=4)
def _load(directory: str | None) -> PolicyBook:
    return load_book(directory)


def current_book() -> PolicyBook:
    """Every policy version the desk judges by (see the module docstring)."""
    try:
        return _load(policy_dir())
    except PolicyError as exc:
        raise PolicyBookUnusable(
            f"The desk cannot judge cases: a policy version was refused. {exc}. An admin must correct the "
            f"file (or {POLICY_DIR_ENV}); nothing was changed."
        ) from None
