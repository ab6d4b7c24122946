"""A Streamlit session spoken from Python: the browser's side of `/_stcore/stream`, without a browser.

What the browser does, and only that: a GET of `/_stcore/health` for the XSRF cookie (the frontend's ping), a
WebSocket with the `streamlit` subprotocol (the XSRF token and the cookies ride along, so `st.user` comes from the
signed login cookie exactly as for Chromium), `BackMsg.rerun_script` with the query string, the page's script hash and
the widget states, and the `ForwardMsg` stream read back until the run's `script_finished`. The elements of
the last run are kept by delta path so a caller can find a button by its label and press it (a
`trigger_value`, which is what the frontend sends for `st.button` and `st.form_submit_button`). Widgets the
caller does not set take their default, as they would for a reviewer who did not touch them.

Used by benchmarks/load.py; importable without Streamlit running (only its protobuf classes).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import requests
import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.ScriptFinishedStatus
XSRF_COOKIE = "_streamlit_xsrf"


class SessionError(RuntimeError):
    """The app did not show what the caller waited for (a failed step, counted as an error)."""


@dataclass
class Run:
    """What one script run drew: elements by delta path, and what else the server said."""

    elements: dict[tuple, object] = field(default_factory=dict)
    auth_redirect: str | None = None
    page_script_hash: str = ""
    exceptions: list[str] = field(default_factory=list)

    def of_type(self, kind: str) -> list:
        return [getattr(e, kind) for e in self.elements.values() if e.WhichOneof("type") == kind]

    def button(self, label: str):
        for b in self.of_type("button"):
            if b.label == label and not b.disabled:
                return b
        raise SessionError(f"no enabled button {label!r} on the page")

    def headings(self) -> list[str]:
        return [h.body for h in self.of_type("heading")]

    def alerts(self, fmt: int | None = None) -> list[str]:
        return [a.body for a in self.of_type("alert") if fmt is None or a.format == fmt]

    def texts(self) -> str:
        """Everything readable on the page, for a loose `in` check."""
        parts = self.headings() + self.alerts()
        parts += [m.body for m in self.of_type("markdown")] + [t.body for t in self.of_type("text")]
        return "\n".join(parts)


class Session:
    """One Streamlit session over one WebSocket, held open for as long as the object lives."""

    def __init__(self, base: str, http: requests.Session | None = None, origin: str | None = None):
        self.base = base.rstrip("/")
        self.http = http or requests.Session()
        self.origin = origin or "{0.scheme}://{0.netloc}".format(urlsplit(self.base))
        self.ws = None
        self.pages: dict[str, str] = {}  # url_pathname ("" is the default page) -> page_script_hash
        self.page_hash = ""
        self.query = ""
        self.last: Run | None = None

    # -- connection ------------------------------------------------------------------------------------------------

    def _fetch_xsrf(self) -> str:
        r = self.http.get(self.base + "/_stcore/health", timeout=60)  # the frontend's ping sets the cookie
        r.raise_for_status()
        token = self.http.cookies.get(XSRF_COOKIE)
        if not token:
            raise SessionError("the app set no XSRF cookie")
        return token

    async def connect(self) -> None:
        token = await asyncio.to_thread(self._fetch_xsrf)
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)
        ws_url = "ws" + self.base[len("http") :] + "/_stcore/stream"
        self.ws = await websockets.connect(
            ws_url,
            subprotocols=["streamlit", token],
            additional_headers={"Cookie": cookie, "Origin": self.origin},
            max_size=None,
            open_timeout=120,
            ping_interval=None,  # the server's own heartbeat is the browser's business; a long rerun must not drop us
        )

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
            self.ws = None

    @property
    def open(self) -> bool:
        return self.ws is not None and self.ws.state == websockets.protocol.State.OPEN

    # -- a rerun -------------------------------------------------------------------------------------------------------

    async def rerun(
        self,
        *,
        query: str | None = None,
        page: str | None = None,
        widgets: list | None = None,
        timeout: float = 120,
    ) -> Run:
        """Ask for a run (the page by url path, its query string, these widget states) and read it to the end."""
        if query is not None:
            self.query = query
        if page is not None:
            self.page_hash = self.pages.get(page, "")
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        cs.page_script_hash = self.page_hash
        for w in widgets or []:
            cs.widget_states.widgets.append(w)
        await self.ws.send(msg.SerializeToString())
        return await self._read_run(timeout)

    async def press(self, label: str, timeout: float = 120) -> Run:
        """Press the button (or form submit button) with this label on the page the last run drew."""
        b = self.last.button(label)
        return await self.rerun(widgets=[WidgetState(id=b.id, trigger_value=True)], timeout=timeout)

    async def _read_run(self, timeout: float) -> Run:  # noqa: C901 — one branch per ForwardMsg kind, as the frontend reads them
        run = Run()
        deadline = time.monotonic() + timeout
        started = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SessionError(f"no script_finished within {timeout:.0f} s")
            raw = await asyncio.wait_for(self.ws.recv(), left)
            fm = ForwardMsg()
            fm.ParseFromString(raw)
            kind = fm.WhichOneof("type")
            if kind == "new_session":
                # a new run begins: what the earlier (early-finished) run drew is replaced
                started = True
                run = Run(auth_redirect=run.auth_redirect)
                self.page_hash = fm.new_session.page_script_hash or self.page_hash
                for p in fm.new_session.app_pages:
                    self.pages[p.url_pathname] = p.page_script_hash
            elif kind == "navigation":
                for p in fm.navigation.app_pages:
                    self.pages[p.url_pathname] = p.page_script_hash
                    if p.is_default:
                        self.pages.setdefault("", p.page_script_hash)
                if fm.navigation.page_script_hash:
                    self.page_hash = fm.navigation.page_script_hash
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "delta":
                d = fm.delta
                if d.WhichOneof("type") == "new_element":
                    path = tuple(fm.metadata.delta_path)
                    run.elements[path] = d.new_element
                    if d.new_element.WhichOneof("type") == "exception":
                        run.exceptions.append(d.new_element.exception.message)
            elif kind == "auth_redirect":
                run.auth_redirect = fm.auth_redirect.url
                return run
            elif kind == "page_not_found":
                raise SessionError(f"page not found: {fm.page_not_found.page_name!r}")
            elif kind == "script_finished":
                status = fm.script_finished
                if status == FINISHED.FINISHED_EARLY_FOR_RERUN:
                    continue  # st.rerun / switch_page / a query-param change: the next run follows
                if status == FINISHED.FINISHED_WITH_COMPILE_ERROR:
                    raise SessionError("the script did not compile")
                if started or status == FINISHED.FINISHED_SUCCESSFULLY:
                    run.page_script_hash = self.page_hash
                    self.last = run
                    return run


async def sign_in(base: str, http: requests.Session, who: str, button: str = "Sign in") -> None:
    """The OIDC sign-in a person does, over HTTP: the app's sign-in button (a short anonymous session) gives the
    /auth/login URL; the provider's form is posted for `who`; the callback sets the signed login cookie in
    `http`. Works with the local provider oidc_provider_mock (a form with one button per predefined user)."""

    s = Session(base, http)
    await s.connect()
    try:
        await s.rerun(query="", page="")
        run = await s.press(button)
        if not run.auth_redirect:
            raise SessionError("pressing the sign-in button gave no auth redirect")
    finally:
        await s.close()

    def provider() -> requests.Response:
        r = http.get(urljoin(base + "/", run.auth_redirect), timeout=60)  # -> the provider's form
        r.raise_for_status()
        r = http.post(r.url, data={"sub": who}, timeout=60)  # -> /oauth2callback -> the app
        r.raise_for_status()
        return r

    r = await asyncio.to_thread(provider)
    if not any(c.name.startswith("_streamlit_user") for c in http.cookies):
        raise SessionError(f"signing in as {who} set no login cookie (last URL {r.url})")
