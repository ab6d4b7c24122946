"""Settings read from `.streamlit/secrets.toml` (or the file named by $REFUND_DESK_SECRETS), outside Streamlit,
so the app, the outbox worker and the tests read the same sections:

    [documents]   max_file_mb = 10, max_case_mb = 50          (upload limits; defaults shown)
    [smtp]        host, port, sender, username, password, starttls, timeout_seconds
    [billing]     url, secret                                  (the signed money-outcome webhook)

Without `[smtp]` replies are stored as "send by hand"; without `[billing]` no webhook is queued.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from data.db import ROOT

SECRETS_ENV = "REFUND_DESK_SECRETS"
MB = 1024 * 1024


def secrets_path() -> Path:
    return Path(os.environ.get(SECRETS_ENV) or ROOT / ".streamlit" / "secrets.toml")


def load_secrets() -> dict[str, Any]:
    path = secrets_path()
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise RuntimeError(f"{path.name} is not valid TOML: {exc}") from exc


@dataclass(frozen=True)
class DocumentLimits:
    max_file_bytes: int = 10 * MB
    max_case_bytes: int = 50 * MB


def document_limits(secrets: dict[str, Any] | None = None) -> DocumentLimits:
    section = (load_secrets() if secrets is None else secrets).get("documents", {})
    return DocumentLimits(
        max_file_bytes=int(float(section.get("max_file_mb", 10)) * MB),
        max_case_bytes=int(float(section.get("max_case_mb", 50)) * MB),
    )


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    sender: str = "refunds@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False
    timeout_seconds: float = 30.0


def smtp_settings(secrets: dict[str, Any] | None = None) -> SmtpSettings | None:
    section = (load_secrets() if secrets is None else secrets).get("smtp")
    if not section or not section.get("host"):
        return None
    return SmtpSettings(
        host=str(section["host"]),
        port=int(section.get("port", 25)),
        sender=str(section.get("sender", "refunds@localhost")),
        username=section.get("username") or None,
        password=section.get("password") or None,
        starttls=bool(section.get("starttls", False)),
        timeout_seconds=float(section.get("timeout_seconds", 30)),
    )


@dataclass(frozen=True)
class BillingSettings:
    url: str
    secret: str


def billing_settings(secrets: dict[str, Any] | None = None) -> BillingSettings | None:
    section = (load_secrets() if secrets is None else secrets).get("billing")
    if not section or not section.get("url"):
        return None
    if not section.get("secret"):
        raise RuntimeError("[billing] needs a secret: the webhook is signed with it (HMAC-SHA256).")
    return BillingSettings(url=str(section["url"]), secret=str(section["secret"]))
