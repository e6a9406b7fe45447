"""`workbench serve` without a browser: the page and its styles name no other host, --public-url and
wss, a socket from another origin refused, binding beyond loopback refused without accounts; the served
app's sign-in (wrong token: no review; right one: the review as that name, unchangeable)."""

from __future__ import annotations

import base64
import functools
import http.client
import os
import re
import socket

import pytest

from tests import served
from tests.tui_helpers import settle
from workbench import accounts
from workbench.db import close_db, open_db
from workbench.models.offline import OfflineModel
from workbench.prompts import resolve_prompt
from workbench.review import open_session
from workbench.tui.screens.paper import ReviewScreen
from workbench.tui.screens.signin import SignInScreen
from workbench.tui.served import create_served_app

HOSTS = re.compile(r"(?:[a-z][a-z0-9+.-]*:)?//([^/\"'\s)<>]+)", re.I)


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, dict, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    return response.status, dict(response.getheaders()), response.read().decode("utf-8", "replace")


def _named_hosts(text: str) -> set[str]:
    return {m.group(1).lower() for m in HOSTS.finditer(text)}


@pytest.fixture
def store(tmp_path):
    return tmp_path / "annotations" / "workbench.db"


def test_the_page_and_its_styles_name_no_other_host_and_the_policy_allows_none(store):
    server = served.Served(store)
    try:
        status, headers, page = _get(server.port, "/")
        assert status == 200
        assert "googleapis" not in page and "gstatic" not in page
        assert _named_hosts(page) == set()  # every URL page-relative: the serve host, whatever name it has
        styles = re.findall(r'href="([^"]+\.css)"', page)
        assert styles == ["static/css/xterm.css"]
        for url in styles + re.findall(r'url\("([^"]+)"\)', page) + re.findall(r'src="([^"]+)"', page):
            status, _, body = _get(server.port, "/" + url)
            assert status == 200, url
            if url.endswith(".css"):  # xterm.js's licence comment cites two sites; no rule names a host
                assert _named_hosts(re.sub(r"/\*.*?\*/", "", body, flags=re.S)) == set()
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "font-src 'self'" in policy
        assert "http" not in policy  # no other source named
    finally:
        server.close()


def test_public_url_names_only_itself_and_https_makes_the_socket_wss(store):
    served.workbench(store, "team", "add", "ana")
    server = served.Served(store, "--public-url", "https://review.example.org/wb/")
    try:
        _, _, page = _get(server.port, "/")
        assert 'data-session-websocket-url="wss://review.example.org/wb/ws"' in page
        assert _named_hosts(page) == {"review.example.org"}
        assert "https://review.example.org/wb/static/js/textual.js" in page
    finally:
        log = server.close()
    assert "the review at https://review.example.org/wb/" in log


def _upgrade(port: int, origin: str | None) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET /ws HTTP/1.1", f"Host: 127.0.0.1:{port}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"] + ([f"Origin: {origin}"] if origin else [])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return conn.recv(200)


def test_a_page_of_another_origin_cannot_open_a_session(store):
    server = served.Served(store)
    try:
        assert _upgrade(server.port, "http://evil.example").startswith(b"HTTP/1.1 403")
        assert _upgrade(server.port, f"http://127.0.0.1:{server.port}").startswith(b"HTTP/1.1 101")
    finally:
        server.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "localhost", "192.0.2.1"])
def test_binding_beyond_loopback_is_refused_until_an_annotator_exists(run_cli, host):
    result = run_cli("serve", "--host", host)
    assert result.exit_code == 2 and "needs at least one annotator account" in result.stderr
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("url", ["ftp://x", "review.example.org", "https://u:p@h/", "https://h/?q=1", "https://h/\x1b[2J"])
def test_a_bad_public_url_is_one_line(run_cli, url):
    result = run_cli("serve", "--public-url", url)
    assert result.exit_code == 2 and "--public-url" in result.stderr and "\x1b" not in result.stderr


def _served_app(db_path):
    opener = functools.partial(open_db, db_path)

    def start(annotator):
        return open_session(db_path, prompt=resolve_prompt("summary"), model=OfflineModel(), annotator=annotator)

    return create_served_app(start, functools.partial(accounts.sign_in, opener, close_db),
                             functools.partial(accounts.still_active, opener, close_db))


async def _sign_in(app, pilot, name, token):
    screen = app.screen
    screen.query_one("#sign-in-name").value = name
    screen.query_one("#sign-in-token").value = token
    await pilot.click("#sign-in-button")
    for _ in range(100):  # the answer comes from a thread (and, after a failure, a second later)
        await settle(app, pilot)
        if not isinstance(app.screen, SignInScreen) or screen._busy is False:
            break
        await pilot.pause(0.05)
    await settle(app, pilot)


@pytest.mark.both_backends  # a team serves its PostgreSQL store as well as a SQLite file
async def test_the_served_app_signs_in_and_decides_only_as_that_name(seeded_db, db_path, run_cli):
    token = run_cli("team", "add", "ana").stdout.strip()
    run_cli("team", "add", "ben")
    app = _served_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(app, pilot)
        assert isinstance(app.screen, SignInScreen) and app.session is None
        assert "edit you had not saved yet" in str(app.screen.query_one("#sign-in-note").render())
        await _sign_in(app, pilot, "ben", token)  # ana's token as ben
        assert isinstance(app.screen, SignInScreen) and app.session is None
        assert "do not match" in str(app.screen.query_one("#sign-in-message").render())
        await _sign_in(app, pilot, "ana", token)
        assert isinstance(app.screen, ReviewScreen) and app.session.annotator == "ana"
        app.signed_in("ben")  # a second sign-in (there is no way to it from the screen): ignored
        assert app.session.annotator == "ana"
        await pilot.press("a")
        await settle(app, pilot)
    rows = list(seeded_db.query("SELECT annotator, status FROM annotations"))
    assert rows == [{"annotator": "ana", "status": "accepted"}]


async def test_a_revoked_account_ends_its_served_session(seeded_db, db_path, run_cli):
    async def revoke(app, pilot, token):
        app._recheck()  # still active: nothing happens
        await settle(app, pilot)
        assert app.is_running
        run_cli("team", "revoke", "ana")

    await _signed_in_then(db_path, run_cli, revoke)


async def test_a_new_token_after_a_revoke_ends_the_old_tokens_session(seeded_db, db_path, run_cli):
    """The README's lost-token procedure (revoke, then add again): the old token's session ends too."""
    async def replace_token(app, pilot, token):
        run_cli("team", "revoke", "ana")
        assert run_cli("team", "add", "ana").stdout.strip() != token

    await _signed_in_then(db_path, run_cli, replace_token)


async def _signed_in_then(db_path, run_cli, change) -> None:
    """ana signs in to a served app; `change` is made to her account; the next recheck ends the session."""
    token = run_cli("team", "add", "ana").stdout.strip()
    app = _served_app(db_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await _sign_in(app, pilot, "ana", token)
        assert isinstance(app.screen, ReviewScreen)
        await change(app, pilot, token)
        app._recheck()
        await settle(app, pilot)
        await pilot.pause(0.2)
        assert (app.return_code, app.is_running) == (0, False)  # the session ended
