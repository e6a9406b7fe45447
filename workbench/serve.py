"""`workbench serve`: the review in a browser, through textual-serve (one app process per browser
connection, drawn by xterm.js).

What textual-serve leaves to us is here: our own page (no Google Fonts link; the font, the script and
the styles from the package, and a Content-Security-Policy that lets the page reach nothing but the
serve host), page-relative URLs unless --public-url names where browsers reach it (behind an HTTPS
proxy: wss), a socket refused to a page of another origin, and a cap on app processes. Identity is
not here: the app process gets the server's environment and nothing of the request, so the app
signs the annotator in itself (tui/served.py)."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from workbench.errors import InputError
from workbench.safe_text import plain

PAGE_DIR = Path(__file__).resolve().parent / "serve_page"
LOOPBACK = ("127.0.0.1", "::1")
DEFAULT_MAX_SESSIONS = 32

CSP = ("default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "font-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
       "frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-store"}


def check_bind(host: str, active_accounts: int) -> None:
    """Anything but loopback only once somebody can sign in."""
    if host in LOOPBACK or active_accounts > 0:
        return
    raise InputError(f"--host {host}: serving beyond this machine (anything but 127.0.0.1 or ::1) needs at least "
                     "one annotator account; add one with `workbench team add NAME`")


def check_public_url(url: str | None) -> str | None:
    """--public-url: where browsers reach the server (http or https, a host, no query or fragment)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment
            or parts.username or parts.password or not url.isprintable() or any(c.isspace() for c in url)):
        raise InputError(f"--public-url {url!r}: give where browsers reach the server, such as "
                         "https://review.example.org or https://example.org/review (no query, no user)")
    return url.rstrip("/")


def url_host(host: str) -> str:
    try:
        return f"[{host}]" if ipaddress.ip_address(host).version == 6 else host
    except ValueError:
        return host


def make_server(command: str, *, host: str, port: int, public_url: str | None, max_sessions: int,
                title: str = "workbench review"):
    """The textual-serve server, ours where it must be. Imported here: only `serve` loads aiohttp."""
    import aiohttp_jinja2
    import textual_serve
    from aiohttp import web
    from textual_serve.server import Server

    statics = Path(textual_serve.__file__).resolve().parent / "static"  # xterm.css, textual.js, the fonts

    class ReviewServer(Server):
        def __init__(self) -> None:
            super().__init__(command, host=host, port=port, title=title, public_url=public_url,
                             statics_path=statics, templates_path=PAGE_DIR)
            self.given_public_url = public_url
            self.sessions = 0

        async def _make_app(self) -> web.Application:
            app = await super()._make_app()

            async def secure(request: web.Request, response: web.StreamResponse) -> None:
                response.headers.update(HEADERS)

            app.on_response_prepare.append(secure)
            return app

        async def handle_index(self, request: web.Request) -> web.Response:
            return aiohttp_jinja2.render_template("app_index.html", request, self.page_context(request))

        def page_context(self, request: web.Request) -> dict[str, Any]:
            try:
                font_size = min(max(int(request.query.get("fontsize", "16")), 8), 32)
            except ValueError:
                font_size = 16
            if self.given_public_url:
                base = self.given_public_url
                socket = ("wss:" if base.startswith("https:") else "ws:") + base.split(":", 1)[1] + "/ws"
                static = base + "/static/"
            else:  # page-relative: right at whatever host and path the browser used
                socket, static = "", "static/"
            return {"font_size": font_size, "websocket_url": socket, "static_url": static,
                    "application": {"name": self.title}}

        def origin_allowed(self, request: web.Request) -> bool:
            """A browser's socket only from our own page (a page elsewhere may not drive a session)."""
            origin = request.headers.get("Origin")
            if origin is None:
                return True  # not a browser
            allowed = {f"{request.scheme}://{request.host}", f"http://{request.host}", f"https://{request.host}"}
            if self.given_public_url:
                parts = urlsplit(self.given_public_url)
                allowed.add(f"{parts.scheme}://{parts.netloc}")
            return origin in allowed

        async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
            if not self.origin_allowed(request):
                return web.Response(status=403, text="this page's origin may not open a session here\n")
            if self.sessions >= max_sessions:
                return web.Response(status=503, text=f"{max_sessions} sessions are open: try again later\n")
            self.sessions += 1
            try:
                return await super().handle_websocket(request)
            finally:
                self.sessions -= 1

        async def on_startup(self, app: web.Application) -> None:
            where = self.given_public_url or f"http://{url_host(host)}:{port}"
            self.console.print(plain(f"workbench serve: the review at {where}/ (Ctrl+C stops it)"), highlight=False)

    return ReviewServer()
