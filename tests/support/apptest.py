"""Small AppTest helpers."""

from __future__ import annotations


def shows(elements, text: str) -> bool:
    """Whether any of these AppTest elements (at.info, at.success, ...) contains `text` (other messages, such
    as a sign-in banner, may come first)."""
    return any(text in e.value for e in elements)
