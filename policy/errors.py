"""The policy engine's exceptions. Every one is a PolicyError, so a caller can catch them all at once."""

from __future__ import annotations


class PolicyError(Exception):
    """Something about the policy, its versions or the facts given to it is wrong; the message says what."""


class InvalidFacts(PolicyError):
    """Facts that the rules cannot judge. ``str()`` starts with the field that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NoPolicyInForce(PolicyError):
    """The service date is before the earliest policy version, so no terms apply to it."""
