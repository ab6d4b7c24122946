"""How the app decides who may be signed in: pure checks, no Streamlit calls (unit-tested directly).

Two modes:

- **sign-in** (`[auth]` in secrets): Streamlit's `st.login` with an OpenID Connect provider; the email
  claim is looked up in the `users` table.
- **local** (no `[auth]`): a sidebar picker chooses a demo user. Allowed only while the server listens
  on a loopback address *and* the request reached it directly on a loopback host name: behind a
  reverse proxy (forwarding headers) or under a foreign Host header (DNS rebinding) anyone could pick
  any user, so the app refuses to show data and says what to configure.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
FORWARDING_HEADERS = ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
CONFIGURE_HINT = (
    "Configure sign-in: add an `[auth]` section to `.streamlit/secrets.toml` (see "
    "`.streamlit/secrets.toml.example` and the README section “Sign-in”), or run the app on this "
    'computer only with `server.address = "127.0.0.1"` (the repository\'s `.streamlit/config.toml`).'
)


def is_loopback(host: str | None) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (with or without brackets)."""
    if not host:
        return False
    host = host.strip().lower().strip("[]")
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_without_port(host_header: str) -> str:
    host = host_header.strip()
    if host.startswith("["):  # [::1]:8501
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def local_mode_problem(
    server_address: str | None, headers: Mapping[str, str] | None = None, client_ip: str | None = None
) -> str | None:
    """Why local mode must not be used here, or None when it is safe (loopback only).

    `server_address` is streamlit's `server.address` (None = every interface); `headers` are the
    browser request's headers (empty in AppTest); `client_ip` is `st.context.ip_address` (None for
    loopback clients).
    """
    if not is_loopback(server_address):
        where = f"on {server_address}" if server_address else "on every network interface (server.address is unset)"
        return f"Refund Desk is listening {where} but no sign-in is configured, so it shows no data."
    h = {k.lower(): v for k, v in (headers or {}).items()}
    forwarded = [name for name in FORWARDING_HEADERS if h.get(name)]
    if forwarded:
        return (
            f"This request came through a proxy ({', '.join(forwarded)}) but no sign-in is configured, "
            "so Refund Desk shows no data."
        )
    host = h.get("host")
    if host and not is_loopback(_host_without_port(host)):
        return f"This request was addressed to {host!r}, not to this computer, and no sign-in is configured."
    if client_ip and not is_loopback(client_ip):
        return f"This request came from {client_ip}, not from this computer, and no sign-in is configured."
    return None


def auth_providers(auth: Mapping[str, Any]) -> list[str]:
    """The providers an `[auth]` section configures: ["default"] for client_id/... at the top level,
    else the names of its `[auth.<name>]` subsections that carry their own credentials."""
    if all(k in auth for k in PROVIDER_KEYS):
        return ["default"]
    return [name for name, v in auth.items() if isinstance(v, Mapping) and all(k in v for k in PROVIDER_KEYS)]


def auth_config_problems(auth: Mapping[str, Any]) -> list[str]:
    """What is missing or wrong in an `[auth]` section (empty when st.login can use it)."""
    problems = []
    for key in ("redirect_uri", "cookie_secret"):
        if not auth.get(key):
            problems.append(f"`{key}` is missing")
    redirect = str(auth.get("redirect_uri", ""))
    if redirect and not redirect.rstrip("/").endswith("/oauth2callback"):
        problems.append("`redirect_uri` must end with `/oauth2callback` (e.g. https://desk.example.com/oauth2callback)")
    if redirect and not redirect.startswith(("http://", "https://")):
        problems.append("`redirect_uri` must be an absolute http(s) URL")
    secret = str(auth.get("cookie_secret", ""))
    if secret and len(secret) < 32:
        problems.append("`cookie_secret` is too short: use at least 32 random characters")
    if not auth_providers(auth):
        problems.append(
            "no provider: set `client_id`, `client_secret` and `server_metadata_url` in `[auth]` "
            "(or in an `[auth.<provider>]` section)"
        )
    return problems


def email_from_claims(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(email, problem): the signed-in email, or why it cannot be trusted.

    Only the `email` claim counts (`preferred_username` is not guaranteed unique or verified by the
    OIDC spec); providers that say `email_verified = false` are refused.
    """
    email = claims.get("email")
    if not email or not isinstance(email, str) or "@" not in email:
        return None, "Your sign-in provider did not send an email address, so Refund Desk cannot look you up."
    if claims.get("email_verified") in (False, "false"):
        return email.strip().lower(), "Your sign-in provider says this email address is not verified."
    return email.strip().lower(), None
