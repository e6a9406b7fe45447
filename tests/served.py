"""Driving `workbench serve` from a real browser (Debian's chromium through chromedriver, Selenium):
used by tests/test_serve_browser.py and benchmarks/bench_serve.py.

The page draws the terminal on a canvas, so what the app shows is read from the socket: a script
installed before the page's own wraps WebSocket and keeps the text of every frame the app sent
(escape sequences removed when read). Keys go where xterm.js reads them, its helper textarea."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1280, 800
REVIEW_SHOWN = re.compile(r"\d+/\d+ decided")  # the review screen's top line

RECORD_SOCKET = r"""
window.__wb = {text: "", opened: 0};
const Native = window.WebSocket;
window.WebSocket = function (url, protocols) {
  const ws = protocols === undefined ? new Native(url) : new Native(url, protocols);
  window.__wb.opened += 1;
  const decoder = new TextDecoder();
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string") return;
    const read = (buffer) => { window.__wb.text += decoder.decode(new Uint8Array(buffer), {stream: true}); };
    if (event.data instanceof ArrayBuffer) read(event.data); else event.data.arrayBuffer().then(read);
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
"""
_ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-_]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workbench(db: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbench", "--db", str(db), *args], capture_output=True,
                          text=True, check=check, env={**os.environ, "WORKBENCH_DB": str(db)})


class Served:
    """`workbench serve` on a free port of 127.0.0.1, stopped (with its app processes) at close."""

    def __init__(self, db: Path, *extra: str, timeout: float = 60):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "--db", str(db), "serve", "--port", str(self.port), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
            env={**os.environ, "WORKBENCH_DB": str(db)})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"workbench serve ended: {self.process.stdout.read()}")
                time.sleep(0.1)
        self.close()
        raise RuntimeError("workbench serve did not listen in time")

    def close(self) -> str:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait(5)
        return self.process.stdout.read() if self.process.stdout else ""


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={WIDTH},{HEIGHT}", "--disable-extensions", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                           {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_SOCKET})
    return driver


def screen_text(driver) -> str:
    """Everything the app has sent this page since the last `forget`, escape sequences removed."""
    return _ESCAPES.sub("", driver.execute_script("return window.__wb ? window.__wb.text : ''") or "")


def forget(driver) -> None:
    driver.execute_script("if (window.__wb) window.__wb.text = ''")


def wait_for(driver, test, timeout: float = 30.0, what: str = "the screen") -> float:
    """Seconds until `test(screen_text)` holds; AssertionError with the screen's tail at the timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if test(screen_text(driver)):
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}: {screen_text(driver)[-600:]!r}")


def keys(driver, *sequence) -> None:
    from selenium.webdriver.common.by import By

    area = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")
    for item in sequence:
        area.send_keys(item)


def ctrl(driver, key: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).key_down(Keys.CONTROL).send_keys(key).key_up(Keys.CONTROL).perform()


def open_page(driver, url: str) -> float:
    """Load the page; seconds until the sign-in screen is drawn."""
    started = time.monotonic()
    driver.get(url)
    wait_for(driver, lambda s: "sign in" in s, what="the sign-in screen")
    return time.monotonic() - started


def sign_in(driver, name: str | None, token: str) -> None:
    """Name, Enter, token, Enter; name None: after a refusal, where the name is kept and the token field has focus."""
    from selenium.webdriver.common.keys import Keys

    forget(driver)
    keys(driver, *([name, Keys.ENTER] if name is not None else []), token, Keys.ENTER)


def requested_urls(driver) -> list[str]:
    return driver.execute_script("return performance.getEntriesByType('navigation').concat("
                                 "performance.getEntriesByType('resource')).map(e => e.name)")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
