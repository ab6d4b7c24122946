"""Who is signed in, may they see this page, and the desk context — the one guard every page calls first.

A page never depends on app.py having run first (Streamlit's `pages/` trap runs a page directly on
the first request after a server start), so each page calls `guard("<key>")` as its first line. When
app.py did run, it resolved the user once for this run (`signed_in()`), and `guard` reuses that.

Sign-in modes (see ui/access.py):
- `[auth]` in secrets → OpenID Connect via `st.login`; `st.user.email` is looked up in `users`.
  Signed out → a sign-in page; unknown or deactivated → a polite "no access" page; no data either way.
- no `[auth]` → local mode: a banner and a sidebar picker of the active demo users, only when the
  server listens on loopback and the request came to it directly; otherwise a page that says what
  to configure, and no data.

The role shown in the menu is read from the database on every run; privileged desk functions re-read it
again (`desk.auth.authorize`), so a role change applies on the user's next click.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, NoReturn

import streamlit as st
from sqlalchemy.exc import OperationalError, ProgrammingError

from data.db import Database, describe_url
from desk.auth import Actor, find_active_user, list_active_users, normalize_email, record_refusal
from ui.access import (
    CONFIGURE_HINT,
    auth_config_problems,
    auth_providers,
    email_from_claims,
    local_mode_problem,
)
from ui.errors import RAISE_ENV, report, reported, show_unexpected
from ui.nav import BY_KEY
from ui.runtime import get_db, today

LOCAL_USER_KEY = "local_user_email"  # who acts in local mode: a plain key, written only by _acting_email/_pick
LOCAL_SOURCE_KEY = "local_user_source"  # how this session came to act as them: picked/continued/default/inactive
LOCAL_GONE_KEY = "local_user_gone"
PICKER_KEY = "local_user_picker"  # the sidebar widget that shows and changes LOCAL_USER_KEY
DEFAULT_LOCAL_USER = "rita@refund-desk.example"
_AUDITED_KEY = "_refund_desk_refusal_audited"
_LOCAL_CHECK_KEY = "_refund_desk_local_check"  # (problem or None,): this session's loopback check
NO_ACCESS_TITLE = "No access to Refund Desk"
DB_NOT_READY = (
    "The case database is not set up yet. Start the app with `make run`, which creates it "
    "(or run `alembic upgrade head` against your DATABASE_URL)."
)


@dataclass(frozen=True)
class Ctx:
    db: Database
    actor: Actor
    today: date


@dataclass(frozen=True)
class SignInMode:
    kind: Literal["oidc", "local", "refused"]
    problem: str | None = None
    providers: tuple[str, ...] = ()


# The context app.py resolved for the current script run; None when a page runs on its own.
_current: ContextVar[Ctx | None] = ContextVar("refund_desk_ctx", default=None)


# ---- mode --------------------------------------------------------------------------------------------


def auth_section() -> Mapping[str, Any] | None:
    """The `[auth]` secrets section, or None (no secrets file, or no such section)."""
    try:
        return st.secrets.get("auth")
    except Exception:  # no secrets.toml at all; a malformed one is reported by Streamlit at startup
        return None


def sign_in_mode() -> SignInMode:
    auth = auth_section()
    if auth is not None:
        problems = auth_config_problems(auth)
        if problems:
            return SignInMode(
                "refused",
                "Sign-in is configured in `.streamlit/secrets.toml` but cannot work yet: "
                + "; ".join(problems)
                + ". See `.streamlit/secrets.toml.example` and the README section “Sign-in”.",
            )
        return SignInMode("oidc", providers=tuple(auth_providers(auth)))
    problem = _local_mode_problem()
    if problem:
        return SignInMode("refused", f"{problem}\n\n{CONFIGURE_HINT}")
    return SignInMode("local")


def _local_mode_problem() -> str | None:
    """`local_mode_problem` for this browser session, worked out on its first run and kept: what it reads — the
    server's address, the headers and IP of the request that opened the session — cannot change within a session
    (st.context gives the initial request's), so every later rerun skips reading them again."""
    kept = st.session_state.get(_LOCAL_CHECK_KEY)
    if isinstance(kept, tuple):
        return kept[0]
    ip = st.context.ip_address  # str or None in a server; AppTest's stand-in runtime answers with a mock object
    problem = local_mode_problem(
        st.get_option("server.address"), dict(st.context.headers.items()), ip if isinstance(ip, str) else None
    )
    st.session_state[_LOCAL_CHECK_KEY] = (problem,)
    return problem


# ---- gate pages: shown instead of the app, with no data and no menu ---------------------------------------


def _gate(title: str, render: Callable[[], None]) -> NoReturn:
    """Show one page instead of the app: its own hidden navigation, so no menu of the real pages."""
    st.navigation([st.Page(render, title=title, url_path="access", default=True)], position="hidden").run()
    st.stop()
    raise AssertionError("unreachable")


def _sign_in_page(providers: tuple[str, ...]) -> Callable[[], None]:
    def render() -> None:
        st.title("Refund Desk")
        st.write("Sign in with your company account to work the refund desk.")
        for name in providers:
            label = "Sign in" if name == "default" else f"Sign in with {name.replace('-', ' ').title()}"
            if st.button(label, type="primary", icon=":material/login:", key=f"sign_in_{name}"):
                st.login(None if name == "default" else name)
        st.caption("Your sign-in cookie lasts up to 30 days; your role is checked on every action.")

    return render


def _no_access_page(message: str, email: str | None = None) -> Callable[[], None]:
    def render() -> None:
        st.title(NO_ACCESS_TITLE)
        st.warning(message, icon=":material/lock:")
        if email:
            st.text(f"Signed in as {email}")  # text, not markdown: the claim comes from outside
        st.write(
            "Ask an admin of Refund Desk to add you (Users and roles) or to reactivate your account, "
            "then reload this page."
        )
        if st.button("Sign out", icon=":material/logout:", key="no_access_sign_out"):
            st.logout()

    return render


def _refused_page(message: str) -> Callable[[], None]:
    def render() -> None:
        st.title("Refund Desk is not configured for this address")
        st.error(message, icon=":material/gpp_bad:")

    return render


def _db_not_ready_page() -> None:
    st.title("Refund Desk")
    st.error(DB_NOT_READY)


def _audit_once(db: Database, action: str, email: str | None, detail: str) -> None:
    """One audit event per browser session and refusal (not one per rerun)."""
    key = f"{action}:{email}:{detail}"
    if st.session_state.get(_AUDITED_KEY) == key:
        return
    record_refusal(db, action, email=email, detail=detail)
    st.session_state[_AUDITED_KEY] = key


# ---- resolving the user ----------------------------------------------------------------------------------


def _oidc_actor(db: Database, mode: SignInMode) -> Actor:
    user = st.user
    if not user.get("is_logged_in"):
        _gate("Sign in", _sign_in_page(mode.providers))
    email, problem = email_from_claims(user.to_dict())
    if problem:
        _audit_once(db, "sign_in", email, problem)
        _gate(NO_ACCESS_TITLE, _no_access_page(problem, email))
    actor = find_active_user(db, email)
    if actor is None:
        _audit_once(db, "sign_in", email, "unknown or inactive user")
        _gate(NO_ACCESS_TITLE, _no_access_page("Your account has no access to Refund Desk.", email))
    return actor


@st.cache_resource(show_spinner=False)
def _last_picked() -> dict[str, str]:
    """Local mode: the person last picked on this server, per database URL (one process, one computer:
    local mode is loopback-only). A new tab or a reload continues as them, and says so."""
    return {}


def _pick(db_url: str) -> None:
    """The picker's on_change: the only place, with the first run of a session, that writes who acts."""
    email = st.session_state.get(PICKER_KEY)
    if email:
        st.session_state[LOCAL_USER_KEY] = email
        st.session_state[LOCAL_SOURCE_KEY] = "picked"
        _last_picked()[db_url] = email


def _acting_email(db: Database, emails: list[str]) -> str:
    """Who acts in this browser session: kept in a plain session-state key that no navigation drops.

    A new session (a new tab, a reload, a typed link) continues as the person last picked on this
    server, else the default demo user; the banner says which."""
    current = st.session_state.get(LOCAL_USER_KEY)
    if current in emails:
        return current
    if current is not None:  # picked earlier, deactivated since: say so rather than switch silently
        st.session_state[LOCAL_SOURCE_KEY] = "inactive"
        st.session_state[LOCAL_GONE_KEY] = current
    last = _last_picked().get(db.url)
    if last in emails:
        chosen, source = last, "continued"
    else:
        chosen, source = (DEFAULT_LOCAL_USER if DEFAULT_LOCAL_USER in emails else emails[0]), "default"
    st.session_state[LOCAL_USER_KEY] = chosen
    if current is None:
        st.session_state[LOCAL_SOURCE_KEY] = source
    return chosen


def local_user_picker(db: Database) -> list[Actor] | None:
    """Local mode: choose which demo user you are (sidebar). Only active users are listed. Returns them (None
    when they could not be read), so the caller finds the acting person among them without asking again.

    The widget only shows and changes the acting person (LOCAL_USER_KEY); it never is it. Each run sets
    the widget to the acting person before drawing it, so the two cannot disagree after a navigation."""
    try:
        users = list_active_users(db)
    except (OperationalError, ProgrammingError):
        return None
    if not users:
        return users
    emails = [u.email for u in users]
    labels = {u.email: f"{u.display_name} · {u.role}" for u in users}
    acting = _acting_email(db, emails)
    if st.session_state.get(PICKER_KEY) != acting:
        st.session_state[PICKER_KEY] = acting
    st.sidebar.selectbox(
        "Signed in as (local mode)",
        emails,
        format_func=labels.get,
        key=PICKER_KEY,
        on_change=_pick,
        args=(db.url,),
        help="Local mode: no sign-in provider is configured, so you pick a demo user. This tab acts as them "
        "until you pick another; a new tab or a reload continues as the person last picked on this computer. "
        "Configure `[auth]` in .streamlit/secrets.toml before anyone else uses this app.",
    )
    return users


NEW_TAB_RULE = "a new tab or a reload continues as the person last picked on this computer"


def _source_note(actor: Actor) -> str:
    """Whom this tab acts as and why, for the local-mode banner."""
    who = f"**{actor.display_name} · {actor.role}**"
    source = st.session_state.get(LOCAL_SOURCE_KEY)
    if source == "continued":
        return f"This tab continues as {who}, the person last picked on this computer (a new tab or a reload does)."
    if source == "inactive":
        gone = str(st.session_state.get(LOCAL_GONE_KEY, "")).replace("`", "")
        return f"`{gone}` is no longer active, so this tab now acts as {who}."
    if source == "default":
        return f"This tab acts as {who}, the default demo user; {NEW_TAB_RULE}."
    return f"This tab acts as {who}; {NEW_TAB_RULE}."


def _local_actor(db: Database) -> Actor:
    banner = st.empty()  # filled once the acting person is known (the picker may change it)
    users = local_user_picker(db)
    email = st.session_state.get(LOCAL_USER_KEY, DEFAULT_LOCAL_USER)
    if users is None:  # the list could not be read: ask for the one person (its error, if any, is the page's)
        actor = find_active_user(db, email)
    else:  # the active users were just read, role included: the acting person is one of them or nobody
        actor = next((u for u in users if u.email == normalize_email(email)), None)
    if actor is None:
        _gate(
            NO_ACCESS_TITLE,
            _no_access_page("There is no active user in the case database. Run `make run` to add the demo users."),
        )
    banner.info(
        "**Local mode** — no sign-in provider is configured, so you act as the demo user picked in the sidebar. "
        f"{_source_note(actor)} Configure sign-in before sharing this app (README → Sign-in).",
        icon=":material/computer:",
    )
    return actor


def _identity(ctx: Ctx, mode: SignInMode) -> None:
    side = st.sidebar
    who = f"{ctx.actor.display_name} · {ctx.actor.role}"
    if mode.kind == "oidc":  # the account the provider signed in (in backticks: no mailto autolink)
        who += f"  \n`{ctx.actor.email.replace('`', '')}`"
    side.caption(f"{who}  \nDatabase: {describe_url(ctx.db.url)}")
    if mode.kind == "oidc" and side.button("Sign out", icon=":material/logout:", key="sign_out"):
        st.logout()


def signed_in() -> Ctx:
    """Resolve who is signed in for this run and draw the sign-in chrome (banner, picker, sign-out).

    Stops the script with a sign-in, no-access or configuration page when nobody may see data, and with
    an error-id page when something unexpected fails (a database that became unreadable, say): this runs
    before app.py's `serving` wrapper and, on a fresh server's first request, without app.py at all.
    """
    _leave_legacy_mode()
    try:
        return _resolve()
    except Exception as exc:  # st.stop/st.rerun/st.switch_page are BaseException and pass through
        error_id = report(exc, "signing in")
        if os.environ.get(RAISE_ENV):  # tests: let AppTest see the exception
            raise
        _gate("Refund Desk", _error_page(error_id))


def _error_page(error_id: str) -> Callable[[], None]:
    def render() -> None:
        st.title("Refund Desk")
        show_unexpected(error_id)

    return render


def _schema_missing(exc: OperationalError | ProgrammingError) -> bool:
    """The database answers but has no tables yet (not migrated): SQLite's "no such table", PostgreSQL's
    undefined_table (SQLSTATE 42P01)."""
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == "42P01" or "no such table" in str(orig)


def _resolve() -> Ctx:
    db = get_db()
    mode = sign_in_mode()
    if mode.kind == "refused":
        _gate("Refund Desk", _refused_page(mode.problem or ""))
    try:
        actor = _oidc_actor(db, mode) if mode.kind == "oidc" else _local_actor(db)
    except (OperationalError, ProgrammingError) as exc:
        if not _schema_missing(exc):  # a locked, unreachable or failing database: the error-id page
            raise
        _gate("Refund Desk", _db_not_ready_page)
    ctx = Ctx(db=db, actor=actor, today=today())
    _identity(ctx, mode)
    return ctx


@contextmanager
def serving(ctx: Ctx) -> Iterator[None]:
    """app.py runs the chosen page inside this: the page's guard reuses `ctx`, and an unexpected error
    shows an error id instead of a traceback (ui.errors)."""
    token = _current.set(ctx)
    try:
        with reported("showing a page"):
            yield
    finally:
        _current.reset(token)


def _leave_legacy_mode() -> None:
    """The `pages/` trap: until some run calls `st.navigation`, a fresh server is in Streamlit's legacy
    multipage mode. Its first request runs either the requested page script directly (no app.py, a menu of
    the raw files) or app.py nested in a legacy menu (whose page ids differ from the real menu's, so the
    next run drops the sidebar picker's value). End that mode the way `st.navigation` does and rerun: app.py
    then builds the real menu for this user's role and runs the requested page (deep links survive). If a
    future Streamlit drops the flag, the role check in `guard` still holds."""
    from streamlit.runtime.pages_manager import PagesManager

    if getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()


def guard(page_key: str | None) -> Ctx:
    """Resolve the user and check they may see `page_key`; stops the script with a message if not."""
    ctx = _current.get()
    if ctx is None:  # the page runs without app.py (first request after a server start), or app.py itself
        ctx = signed_in()
    if page_key is not None:
        spec = BY_KEY.get(page_key)
        if spec is None or ctx.actor.role not in spec.roles:
            try:
                _audit_once(ctx.db, f"open_page:{page_key}", ctx.actor.email, f"role {ctx.actor.role}")
            finally:
                st.warning("This page is not available for your role.", icon=":material/lock:")
            st.stop()
    return ctx
